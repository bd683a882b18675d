#pragma once
// The attnscope window: a capture document and its views (head grid, heatmap, context curve, tokens) in
// docks, run selectors for comparing runs, File menu with recent files and export, drag and drop of .h5
// files, and File → Export all heads… (every head's map as small multiples), and File → Open model…, which
// runs a model on a worker thread (progress, ETA and Cancel in the status bar) and opens the capture it
// wrote.

#include <QList>
#include <QMainWindow>

#include "plotexport.h"

class QComboBox;
class QDockWidget;
class QLabel;
class QTabWidget;

namespace attnscope {
struct CaptureRequest;
}

namespace attnscope::widgets {
class CaptureDocument;
class CompareView;
class ContextCurveWidget;
class HeadGridView;
class HeatmapWidget;
class PerTokenView;
class TokensView;
struct Selection;
}  // namespace attnscope::widgets

namespace attnscope::gui {

class CaptureProgressWidget;
class CaptureWorker;
struct CaptureOutcome;
class RecentFiles;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Opens a capture; shows a message and returns false if it cannot be read.
  bool openFile(const QString& path);

  widgets::CaptureDocument* document() const { return m_document; }
  widgets::HeadGridView* headGrid() const { return m_grid; }
  widgets::HeatmapWidget* heatmap() const { return m_heatmap; }
  widgets::CompareView* compareView() const { return m_compare; }
  /// The central tabs: Heatmap and Compare.
  QTabWidget* centralTabs() const { return m_tabs; }
  widgets::ContextCurveWidget* contextCurve() const { return m_curve; }
  widgets::TokensView* tokensView() const { return m_tokens; }
  /// The per-token table of the selected head (a dock tabbed with Tokens).
  widgets::PerTokenView* perTokenView() const { return m_perToken; }
  /// Shows the Run model dialog (for modelDir, else the last model run) and starts the capture it describes.
  void showRunDialog(const QString& modelDir = QString());
  /// Starts a capture on the worker thread (threads: compute threads, 0 for one per core); the capture
  /// opens when it is done. False if one is running.
  bool runCapture(const CaptureRequest& request, int threads = 0);
  CaptureWorker* captureWorker() const { return m_worker; }
  CaptureProgressWidget* captureProgress() const { return m_progress; }
  /// What happens to the file of a cancelled capture: the user chooses (offerPartialCapture).
  enum class PartialCapture { Open, Keep, Delete };
  /// Acts on the user's choice for a cancelled capture's file (the box's buttons call it).
  void resolvePartialCapture(const CaptureOutcome& outcome, PartialCapture choice);
  /// Whether a close during a capture waits for the capture to stop (the user chose Stop and close).
  bool isClosingAfterCapture() const { return m_closeAfterCapture; }
  /// The views that can be exported, heatmap first.
  QList<widgets::ExportSource*> exportSources() const;

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void closeEvent(QCloseEvent* event) override;

 private:
  void createMenus();
  void createDocks();
  /// While Compare is the current view of a window too narrow (short) for its three maps beside the side
  /// (bottom) docks, those docks give way; they come back when another view is chosen.
  void arrangeDocksForView();
  /// Asks what closing during a capture does: stop it (deleting its partial file unless the user keeps one
  /// written where they chose) and close, or keep running.
  void askToStopCapture();
  void showOpenDialog();
  void onCaptureFinished(const CaptureOutcome& outcome);
  void onCaptureFailed(const QString& message);
  /// Asks what to do with a cancelled capture's file: open it, keep it, or delete it (when the capture made
  /// it). Never opens it unasked.
  void offerPartialCapture(const CaptureOutcome& outcome);
  void createHelpMenu();
  void showExportDialog();
  void showExportHeadsDialog();
  void writeExport(const widgets::ExportSource& source, const QString& path,
                   const widgets::ExportOptions& options);
  void onDocumentChanged();
  void onSelectionChanged(const widgets::Selection& selection);
  void showError(const QString& message);
  widgets::ExportSource* focusedSource() const;

  widgets::CaptureDocument* m_document;
  widgets::HeadGridView* m_grid;
  widgets::HeatmapWidget* m_heatmap;
  widgets::CompareView* m_compare;
  QTabWidget* m_tabs;
  widgets::ContextCurveWidget* m_curve;
  widgets::TokensView* m_tokens;
  widgets::PerTokenView* m_perToken;
  RecentFiles* m_recent = nullptr;
  CaptureWorker* m_worker;
  CaptureProgressWidget* m_progress;
  QAction* m_runAction = nullptr;
  QComboBox* m_runBox;
  QComboBox* m_compareBox;
  QLabel* m_position;
  QAction* m_exportAction = nullptr;
  QAction* m_exportHeadsAction = nullptr;
  QAction* m_closeAction = nullptr;
  QList<QDockWidget*> m_sideDocks;            // heads (left) and context curve (right)
  QList<QDockWidget*> m_bottomDocks;          // tokens and per-token table (tabified)
  QList<QDockWidget*> m_gaveWay;              // docks hidden for Compare, shown again on leaving it
  QList<QDockWidget*> m_raisedBeforeCompare;  // of those, the current tabs of their groups
  QString m_captureOut;                       // the running capture's file
  bool m_closeAfterCapture = false;           // Stop and close: close once the capture has stopped
  bool m_keepPartialOnClose = false;          // ... keeping its partial file (the user chose where it went)
};

}  // namespace attnscope::gui
