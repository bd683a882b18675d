#pragma once
// Export dialog: which view, where (format by extension: .png .pdf .svg .csv), and for figures the size and
// resolution.

#include <QDialog>
#include <QList>

#include "plotexport.h"

class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;

namespace attnscope::gui {

class ExportDialog : public QDialog {
  Q_OBJECT
 public:
  ExportDialog(const QList<widgets::ExportSource*>& sources, widgets::ExportSource* current,
               const QString& directory, QWidget* parent = nullptr);

  widgets::ExportSource* source() const;
  QString path() const;
  widgets::ExportOptions options() const;

  void accept() override;

 private:
  void chooseFile();
  void onSourceChanged();

  QList<widgets::ExportSource*> m_sources;
  QString m_directory;
  QComboBox* m_view;
  QLineEdit* m_path;
  QSpinBox* m_width;
  QSpinBox* m_height;
  QDoubleSpinBox* m_scale;
  QSpinBox* m_dpi;
};

}  // namespace attnscope::gui
