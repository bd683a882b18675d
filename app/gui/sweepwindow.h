#pragma once
// The window of a sweep file: its summary and views (widgets::SweepView) with a File menu to open, export and
// close. The capture window opens one of these for a sweep file, and a sweep window opens a capture window
// for a capture, so File → Open takes either kind in both.

#include <QMainWindow>

namespace attnscope::widgets {
class SweepDocument;
class SweepView;
}  // namespace attnscope::widgets

namespace attnscope::gui {

class SweepWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit SweepWindow(QWidget* parent = nullptr);

  /// Shows a new window (deleted when closed) that reads path in the background.
  static SweepWindow* openInNewWindow(const QString& path);

  /// Starts reading a sweep file; an error shows a message and keeps what was shown.
  void openFile(const QString& path);
  widgets::SweepDocument* document() const { return m_document; }
  widgets::SweepView* view() const { return m_view; }

 private:
  void showOpenDialog();
  void showExportDialog();
  void onDocumentChanged();
  void showError(const QString& message);

  widgets::SweepDocument* m_document;
  widgets::SweepView* m_view;
  QAction* m_exportAction = nullptr;
};

}  // namespace attnscope::gui
