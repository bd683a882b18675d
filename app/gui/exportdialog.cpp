#include "exportdialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QWidget>

#include <qcustomplot.h>

namespace attnscope::gui {

ExportDialog::ExportDialog(const QList<widgets::ExportSource*>& sources, widgets::ExportSource* current,
                           const QString& directory, QWidget* parent)
    : QDialog(parent),
      m_sources(sources),
      m_directory(directory),
      m_view(new QComboBox(this)),
      m_path(new QLineEdit(this)),
      m_width(new QSpinBox(this)),
      m_height(new QSpinBox(this)),
      m_scale(new QDoubleSpinBox(this)),
      m_dpi(new QSpinBox(this)) {
  setWindowTitle(tr("Export"));
  for (widgets::ExportSource* source : m_sources) m_view->addItem(source->exportName());
  m_view->setCurrentIndex(std::max<qsizetype>(0, m_sources.indexOf(current)));
  m_width->setRange(100, 10000);
  m_height->setRange(100, 10000);
  m_width->setSuffix(tr(" px"));
  m_height->setSuffix(tr(" px"));
  m_scale->setRange(0.5, 8);
  m_scale->setSingleStep(0.5);
  m_scale->setValue(2);
  m_scale->setSuffix(QStringLiteral("×"));
  m_scale->setToolTip(tr("PNG pixels per layout pixel: 2× makes a sharp figure at the same layout"));
  m_dpi->setRange(36, 1200);
  m_dpi->setValue(192);
  m_dpi->setToolTip(tr("Resolution recorded in the PNG (for print size)"));
  auto* browse = new QPushButton(tr("Browse…"), this);
  auto* pathRow = new QHBoxLayout;
  pathRow->addWidget(m_path, 1);
  pathRow->addWidget(browse);
  auto* sizeRow = new QHBoxLayout;
  sizeRow->addWidget(m_width);
  sizeRow->addWidget(m_height);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  auto* form = new QFormLayout(this);
  form->addRow(tr("View:"), m_view);
  form->addRow(tr("File (.png .pdf .svg .csv):"), pathRow);
  form->addRow(tr("Size:"), sizeRow);
  form->addRow(tr("PNG scale:"), m_scale);
  form->addRow(tr("PNG DPI:"), m_dpi);
  form->addRow(buttons);
  connect(browse, &QPushButton::clicked, this, &ExportDialog::chooseFile);
  connect(m_view, &QComboBox::currentIndexChanged, this, &ExportDialog::onSourceChanged);
  connect(buttons, &QDialogButtonBox::accepted, this, &ExportDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &ExportDialog::reject);
  onSourceChanged();
}

widgets::ExportSource* ExportDialog::source() const {
  return m_sources.value(m_view->currentIndex());
}

QString ExportDialog::path() const {
  return m_path->text().trimmed();
}

widgets::ExportOptions ExportDialog::options() const {
  widgets::ExportOptions options;
  options.width = m_width->value();
  options.height = m_height->value();
  options.scale = m_scale->value();
  options.dpi = m_dpi->value();
  return options;
}

void ExportDialog::onSourceChanged() {
  widgets::ExportSource* current = source();
  if (!current) return;
  const QWidget* widget = current->exportPlot() ? current->exportPlot() : current->exportWidget();
  m_width->setValue(std::max(100, widget->width()));
  m_height->setValue(std::max(100, widget->height()));
  const QString suffix = QFileInfo(m_path->text()).suffix();
  m_path->setText(QDir(m_directory)
                      .filePath(current->exportName() + QLatin1Char('.') +
                                (suffix.isEmpty() ? QStringLiteral("png") : suffix)));
}

void ExportDialog::chooseFile() {
  const QString file = QFileDialog::getSaveFileName(this, tr("Export to"), path(),
                                                    tr("Figures and tables (*.png *.pdf *.svg *.csv)"));
  if (!file.isEmpty()) m_path->setText(file);
}

void ExportDialog::accept() {
  if (widgets::exportFormatForPath(path()) == widgets::ExportFormat::Unknown) {
    QMessageBox::warning(this, tr("Export"), tr("Choose a file ending in .png, .pdf, .svg or .csv."));
    return;
  }
  QDialog::accept();
}

}  // namespace attnscope::gui
