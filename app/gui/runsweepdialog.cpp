#include "runsweepdialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>

#include <algorithm>

#include <stdexcept>

#include "attnscope/normalizer_spec.h"

#include "modelchooser.h"
#include "modelsummary.h"
#include "normalizerchooser.h"

namespace attnscope::gui {
namespace {

/// Splits "192, 256 512" into items.
QStringList listItems(const QString& text) {
  return text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts);
}

/// Parses lengths; an empty *error means every item is a whole number of at least 2.
std::vector<int64_t> parseLengths(const QString& text, QString* error) {
  std::vector<int64_t> lengths;
  for (const QString& item : listItems(text)) {
    bool ok = false;
    const qlonglong value = item.toLongLong(&ok);
    if (!ok || value < 2) {
      *error = RunSweepDialog::tr("Lengths: '%1' is not a whole number of tokens of at least 2").arg(item);
      return {};
    }
    lengths.push_back(value);
  }
  return lengths;
}

/// Parses depths; an empty *error means every item is a number in [0, 1].
std::vector<double> parseDepths(const QString& text, QString* error) {
  std::vector<double> depths;
  for (const QString& item : listItems(text)) {
    bool ok = false;
    const double value = item.toDouble(&ok);
    if (!ok || !(value >= 0.0 && value <= 1.0)) {
      *error = RunSweepDialog::tr("Depths: '%1' is not a number in [0, 1]").arg(item);
      return {};
    }
    depths.push_back(value);
  }
  return depths;
}

/// "192, 256" from numbers.
template <typename T>
QString joinNumbers(const std::vector<T>& values) {
  QStringList items;
  for (T value : values) items << QString::number(value);
  return items.join(QStringLiteral(", "));
}

}  // namespace

RunSweepDialog::RunSweepDialog(const QString& modelDir, QWidget* parent)
    : QDialog(parent),
      m_model(new ModelChooser(this)),
      m_modelInfo(new QLabel(this)),
      m_mode(new QComboBox(this)),
      m_normalizers(new NormalizerChooser(this)),
      m_lengths(new QLineEdit(this)),
      m_depths(new QLineEdit(QStringLiteral("0, 0.25, 0.5, 0.75, 1"), this)),
      m_prompts(new QSpinBox(this)),
      m_seed(new QSpinBox(this)),
      m_distractors(new QDoubleSpinBox(this)),
      m_haystack(new QLineEdit(this)),
      m_out(new QLineEdit(this)),
      m_resume(new QCheckBox(tr("Resume: keep the records stored in the file and run the rest"), this)),
      m_error(new QLabel(this)) {
  setWindowTitle(tr("Run a sweep"));
  m_modelInfo->setWordWrap(true);
  m_mode->addItem(tr("Needle in a haystack (retrieval by greedy generation)"), int(SweepMode::Needle));
  m_mode->addItem(tr("Documents (loss by position, statistics binned by n)"), int(SweepMode::Documents));
  m_lengths->setPlaceholderText(tr("tokens, e.g. 1024, 2048 (empty: the model's context × 1, 2, 4)"));
  m_depths->setToolTip(tr("Where the needle goes: 0 is the start of the haystack, 1 its end"));
  m_prompts->setRange(1, 100000);
  m_prompts->setValue(8);
  m_seed->setRange(0, 2147483647);
  m_seed->setValue(1234);
  m_distractors->setRange(0, 1000);
  m_distractors->setDecimals(2);
  m_distractors->setSuffix(tr(" per 1,000 tokens"));
  m_distractors->setToolTip(tr("Other cities' needles inserted into the haystack at this rate"));
  m_haystack->setPlaceholderText(tr("text file or directory (empty: the corpus the setup script installs)"));
  m_out->setPlaceholderText(tr("sweep file (.h5)"));
  m_resume->setToolTip(tr("Continue a sweep that was cancelled or killed: same model, grid and normalizers"));
  m_error->setWordWrap(true);
  m_error->setStyleSheet(QStringLiteral("color: #b00020"));
  m_error->hide();

  auto* browseHaystack = new QPushButton(tr("Browse…"), this);
  auto* haystackRow = new QHBoxLayout;
  haystackRow->addWidget(m_haystack, 1);
  haystackRow->addWidget(browseHaystack);
  auto* browseOut = new QPushButton(tr("Browse…"), this);
  auto* outRow = new QHBoxLayout;
  outRow->addWidget(m_out, 1);
  outRow->addWidget(browseOut);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Run sweep"));

  auto* form = new QFormLayout(this);
  form->addRow(tr("&Model:"), m_model);
  form->addRow(QString(), m_modelInfo);
  form->addRow(tr("Mo&de:"), m_mode);
  form->addRow(m_normalizers);
  form->addRow(tr("&Lengths:"), m_lengths);
  form->addRow(tr("De&pths:"), m_depths);
  form->addRow(tr("P&rompts per cell:"), m_prompts);
  form->addRow(tr("S&eed:"), m_seed);
  form->addRow(tr("Dis&tractors:"), m_distractors);
  // Rows holding a layout get no buddy from QFormLayout: these labels name their line edit for Alt+H and
  // Alt+F.
  auto* haystackLabel = new QLabel(tr("&Haystack:"), this);
  haystackLabel->setBuddy(m_haystack);
  auto* outLabel = new QLabel(tr("Sweep &file:"), this);
  outLabel->setBuddy(m_out);
  form->addRow(haystackLabel, haystackRow);
  form->addRow(outLabel, outRow);
  form->addRow(QString(), m_resume);
  form->addRow(m_error);
  form->addRow(buttons);

  connect(browseHaystack, &QPushButton::clicked, this, &RunSweepDialog::chooseHaystack);
  connect(browseOut, &QPushButton::clicked, this, &RunSweepDialog::chooseOutput);
  connect(m_model, &ModelChooser::modelChanged, this, &RunSweepDialog::onModelChanged);
  connect(m_mode, &QComboBox::currentIndexChanged, this, &RunSweepDialog::onModeChanged);
  connect(buttons, &QDialogButtonBox::accepted, this, &RunSweepDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &RunSweepDialog::reject);
  m_model->setText(modelDir);
  m_model->setFocusProxy(m_model->combo());  // Alt+M and the first focus go to the editable list
  onModelChanged();
  onModeChanged();
  resize(720, minimumSizeHint().height());
}

void RunSweepDialog::onModelChanged() {
  m_modelError.clear();
  QString error;
  const QString dir = m_model->resolvedDirectory(&error);
  ModelSummary summary;
  if (dir.isEmpty() || !readModelSummary(dir, &summary, &error)) {
    m_modelError = m_model->text().trimmed().isEmpty() ? tr("Model: choose a model directory")
                                                       : tr("Model: %1").arg(error);
    m_modelInfo->setText(m_modelError);
    return;
  }
  m_modelInfo->setText(summary.describe());
  m_normalizers->setModel(summary);
}

void RunSweepDialog::onModeChanged() {
  const bool needle = m_mode->currentData().toInt() == int(SweepMode::Needle);
  m_depths->setEnabled(needle);
  m_distractors->setEnabled(needle);
}

void RunSweepDialog::chooseHaystack() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Haystack directory"), m_haystack->text());
  if (!dir.isEmpty()) m_haystack->setText(dir);
}

void RunSweepDialog::chooseOutput() {
  const QString path =
      QFileDialog::getSaveFileName(this, tr("Sweep file"), m_out->text(), tr("Sweep files (*.h5)"), nullptr,
                                   QFileDialog::DontConfirmOverwrite);
  if (!path.isEmpty()) m_out->setText(path);
}

QString RunSweepDialog::validate() const {
  if (!m_modelError.isEmpty()) return m_modelError;
  const QStringList specs = m_normalizers->specs();
  if (specs.isEmpty()) return tr("Normalizers: choose at least one");
  for (const QString& spec : specs) {
    try {
      parseNormalizer(spec.toStdString());
    } catch (const std::exception& error) {
      return tr("Normalizers: %1").arg(QString::fromUtf8(error.what()));
    }
  }
  QString error;
  parseLengths(m_lengths->text(), &error);
  if (!error.isEmpty()) return error;
  if (m_depths->isEnabled()) {
    if (parseDepths(m_depths->text(), &error).empty() && error.isEmpty())
      return tr("Depths: give at least one depth in [0, 1]");
    if (!error.isEmpty()) return error;
  }
  if (m_out->text().trimmed().isEmpty()) return tr("Sweep file: choose where to write the sweep");
  const QFileInfo out(m_out->text().trimmed());
  if (out.isDir()) return tr("Sweep file: %1 is a directory").arg(out.filePath());
  if (m_resume->isChecked() && !out.exists())
    return tr("Resume: %1 does not exist; clear Resume to start a new sweep").arg(out.filePath());
  return {};
}

void RunSweepDialog::showError(const QString& message) {
  m_error->setText(message);
  m_error->setVisible(!message.isEmpty());
}

QString RunSweepDialog::errorText() const {
  return m_error->text();
}

void RunSweepDialog::accept() {
  const QString error = validate();
  showError(error);
  if (!error.isEmpty()) return;
  const QString out = m_out->text().trimmed();
  if (!m_resume->isChecked() && QFileInfo::exists(out)) {
    // A file left by a cancelled or killed sweep: resuming is the likely wish, but only the user knows.
    const auto answer =
        QMessageBox::question(this, tr("Sweep file exists"),
                              tr("%1 exists. Resume it (keep its records and run the rest)?").arg(out),
                              QMessageBox::Yes | QMessageBox::No, QMessageBox::Yes);
    if (answer != QMessageBox::Yes) {
      showError(tr("Sweep file: %1 exists; choose another file or resume it").arg(out));
      return;
    }
    m_resume->setChecked(true);
  }
  QDialog::accept();
}

SweepRequest RunSweepDialog::request() const {
  SweepRequest request;
  QString ignored;
  request.model_dir = m_model->resolvedDirectory(&ignored).toStdString();
  request.mode = static_cast<SweepMode>(m_mode->currentData().toInt());
  request.normalizers.clear();
  for (const QString& spec : m_normalizers->specs()) request.normalizers.push_back(spec.toStdString());
  request.lengths = parseLengths(m_lengths->text(), &ignored);
  if (request.mode == SweepMode::Needle) {
    request.depths = parseDepths(m_depths->text(), &ignored);
    request.distractors = m_distractors->value();
  }
  request.prompts_per_cell = m_prompts->value();
  request.seed = static_cast<uint64_t>(m_seed->value());
  request.haystack = m_haystack->text().trimmed().toStdString();
  request.out = m_out->text().trimmed().toStdString();
  request.resume = m_resume->isChecked();
  return request;
}

void RunSweepDialog::setRequest(const SweepRequest& request) {
  m_model->setText(QString::fromStdString(request.model_dir));
  onModelChanged();
  m_mode->setCurrentIndex(std::max(0, m_mode->findData(int(request.mode))));
  QStringList specs;
  for (const std::string& spec : request.normalizers) specs << QString::fromStdString(spec);
  m_normalizers->setSpecs(specs);
  m_lengths->setText(joinNumbers(request.lengths));
  m_depths->setText(joinNumbers(request.depths));
  m_prompts->setValue(static_cast<int>(request.prompts_per_cell));
  m_seed->setValue(static_cast<int>(request.seed));
  m_distractors->setValue(request.distractors);
  m_haystack->setText(QString::fromStdString(request.haystack));
  m_out->setText(QString::fromStdString(request.out));
  m_resume->setChecked(request.resume);
}

}  // namespace attnscope::gui
