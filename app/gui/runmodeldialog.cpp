#include "runmodeldialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>

#include <climits>
#include <stdexcept>

#include "attnscope/dtype.h"
#include "attnscope/prompt.h"

#include "modelchooser.h"
#include "modelsummary.h"
#include "normalizerchooser.h"

namespace attnscope::gui {
namespace {

constexpr qint64 kMaxPromptBytes = 64 << 20;

/// The label of a request field in the form.
QString formLabel(CaptureField field) {
  return captureFieldLabel(field) + QLatin1Char(':');
}

/// Splits "a, b ,c" into trimmed, non-empty items.
std::vector<std::string> commaItems(const QString& text) {
  std::vector<std::string> items;
  for (const QString& item : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
    if (!item.trimmed().isEmpty()) items.push_back(item.trimmed().toStdString());
  return items;
}

/// Parses "5, 17 42" into ids; returns false on anything that is not a non-negative integer.
bool parseIds(const QString& text, std::vector<int64_t>* ids) {
  ids->clear();
  for (const QString& item : text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts)) {
    bool ok = false;
    const qlonglong id = item.toLongLong(&ok);
    if (!ok || id < 0) return false;
    ids->push_back(id);
  }
  return true;
}

}  // namespace

RunModelDialog::RunModelDialog(const QString& modelDir, QWidget* parent)
    : QDialog(parent),
      m_model(new ModelChooser(this)),
      m_modelInfo(new QLabel(this)),
      m_prompt(new QPlainTextEdit(this)),
      m_promptHint(new QLabel(this)),
      m_ids(new QLineEdit(this)),
      m_promptKind(new QComboBox(this)),
      m_textPrompt(new QWidget(this)),
      m_inductionPrompt(new QWidget(this)),
      m_inductionLength(new QSpinBox(this)),
      m_inductionSeed(new QSpinBox(this)),
      m_normalizers(new NormalizerChooser(this)),
      m_mapsMode(new QComboBox(this)),
      m_dtype(new QComboBox(this)),
      m_maps(new QLineEdit(this)),
      m_targets(new QLineEdit(this)),
      m_runNames(new QLineEdit(this)),
      m_out(new QLineEdit(this)),
      m_otherWeights(new QCheckBox(tr("Other weights: append the runs to the capture of another model on the "
                                      "same tokens"),
                                   this)) {
  setWindowTitle(tr("Run a model"));
  m_modelInfo->setWordWrap(true);
  m_prompt->setPlaceholderText(tr("The prompt text, tokenized with the model's tokenizer"));
  m_prompt->setMinimumHeight(120);
  m_ids->setPlaceholderText(tr("or token ids: 5, 17, 42, …"));
  m_ids->setToolTip(tr("Token ids used instead of the text (for models without a tokenizer)"));
  m_mapsMode->addItem(tr("All heads"), QStringLiteral("all"));
  m_mapsMode->addItem(tr("None (statistics only)"), QStringLiteral("none"));
  m_mapsMode->addItem(tr("These heads:"), QString());
  m_maps->setPlaceholderText(QStringLiteral("3.5, 7.*, scores:0.1"));
  m_maps->setEnabled(false);
  m_targets->setPlaceholderText(tr("token ranges for target mass: 10:20, 40:45"));
  m_runNames->setPlaceholderText(
      tr("optional, one per normalizer: plain, sharp, … (default: the normalizer)"));
  m_otherWeights->setToolTip(
      tr("Compare a softmax-trained and an SSMax-trained model on one prompt: choose the capture file of the "
         "first model; these runs record their own model"));
  for (const std::string& name : computeDtypeNames()) {
    const QString value = QString::fromStdString(name);
    m_dtype->addItem(
        value == QLatin1String("auto") ? tr("auto (the checkpoint's: bfloat16 for 16-bit weights)") : value,
        value);
  }
  m_dtype->setToolTip(
      tr("Precision of the linear layers. Attention scores, softmax and every statistic are float32 "
         "whatever this is; float32 doubles the memory of a bfloat16 checkpoint."));

  m_promptKind->addItem(tr("Text or token ids"));
  m_promptKind->addItem(tr("Repeated random tokens (induction)"));
  m_promptKind->setToolTip(
      tr("Repeated random tokens: R random token ids, then the same R again. Induction heads attend from "
         "the second copy to the token after the earlier occurrence (the induction_mass statistic)."));
  m_inductionLength->setRange(1, INT_MAX);  // the core's limit is checked with the rest of the prompt
  m_inductionLength->setValue(256);
  m_inductionLength->setPrefix(tr("R = "));
  m_inductionLength->setSuffix(tr(" tokens, twice"));
  m_inductionSeed->setRange(0, INT_MAX);
  m_inductionSeed->setPrefix(tr("seed "));
  auto* inductionRow = new QHBoxLayout(m_inductionPrompt);
  inductionRow->setContentsMargins(0, 0, 0, 0);
  inductionRow->addWidget(m_inductionLength);
  inductionRow->addWidget(m_inductionSeed);
  inductionRow->addStretch(1);
  auto* loadText = new QPushButton(tr("Load text file…"), this);
  auto* promptRow = new QHBoxLayout;
  promptRow->addWidget(m_promptHint, 1);
  promptRow->addWidget(loadText);
  auto* textPrompt = new QFormLayout(m_textPrompt);
  textPrompt->setContentsMargins(0, 0, 0, 0);
  textPrompt->addRow(m_prompt);
  textPrompt->addRow(promptRow);
  textPrompt->addRow(tr("Token ids:"), m_ids);
  auto* mapsRow = new QHBoxLayout;
  mapsRow->addWidget(m_mapsMode);
  mapsRow->addWidget(m_maps, 1);
  auto* browseOut = new QPushButton(tr("Browse…"), this);
  auto* outRow = new QHBoxLayout;
  outRow->addWidget(m_out, 1);
  outRow->addWidget(browseOut);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Run"));

  auto* form = new QFormLayout(this);
  form->addRow(formLabel(CaptureField::ModelDir), m_model);
  form->addRow(QString(), m_modelInfo);
  form->addRow(tr("Prompt:"), m_promptKind);
  form->addRow(QString(), m_textPrompt);
  form->addRow(QString(), m_inductionPrompt);
  form->addRow(m_normalizers);
  form->addRow(formLabel(CaptureField::RunNames), m_runNames);
  form->addRow(formLabel(CaptureField::Maps), mapsRow);
  form->addRow(tr("Precision:"), m_dtype);
  form->addRow(formLabel(CaptureField::Targets), m_targets);
  form->addRow(formLabel(CaptureField::Out), outRow);
  form->addRow(QString(), m_otherWeights);
  form->addRow(buttons);

  connect(loadText, &QPushButton::clicked, this, &RunModelDialog::loadPromptFile);
  connect(browseOut, &QPushButton::clicked, this, &RunModelDialog::chooseOutput);
  connect(m_model, &ModelChooser::modelChanged, this, &RunModelDialog::onModelChanged);
  // While a path is typed, the last path's verdict ("has no config.json") would be stale: it is checked again
  // when typing ends.
  connect(m_model->combo()->lineEdit(), &QLineEdit::textEdited, this, [this] {
    m_modelOk = false;
    m_modelError.clear();
    m_modelInfo->setText(tr("Checked when you press Enter or leave the field"));
  });
  connect(m_out, &QLineEdit::textEdited, this, [this] { m_outEdited = true; });
  connect(m_prompt, &QPlainTextEdit::textChanged, this, &RunModelDialog::updateTokenHint);
  connect(m_promptKind, &QComboBox::currentIndexChanged, this, &RunModelDialog::updatePromptKind);
  connect(m_mapsMode, &QComboBox::currentIndexChanged, this,
          [this] { m_maps->setEnabled(m_mapsMode->currentData().toString().isEmpty()); });
  connect(buttons, &QDialogButtonBox::accepted, this, &RunModelDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &RunModelDialog::reject);

  const QSettings settings;
  m_prompt->setPlainText(settings.value(QStringLiteral("run/prompt")).toString());
  m_ids->setText(settings.value(QStringLiteral("run/ids")).toString());
  m_targets->setText(settings.value(QStringLiteral("run/targets")).toString());
  m_dtype->setCurrentIndex(std::max(0, m_dtype->findData(settings.value(QStringLiteral("run/dtype")))));
  setModelDir(modelDir);
  const QStringList specs = settings.value(QStringLiteral("run/normalizers")).toStringList();
  if (!specs.isEmpty()) m_normalizers->setSpecs(specs);
  m_inductionLength->setValue(settings.value(QStringLiteral("run/inductionLength"), 256).toInt());
  m_inductionSeed->setValue(settings.value(QStringLiteral("run/inductionSeed"), 0).toInt());
  m_promptKind->setCurrentIndex(settings.value(QStringLiteral("run/induction"), false).toBool() ? 1 : 0);
  updatePromptKind();
  updateTokenHint();
  // The prompt box at its minimum: the dialog then fits a 1280x800 screen with room for a title bar.
  resize(720, minimumSizeHint().height());
}

void RunModelDialog::setModelDir(const QString& dir) {
  m_model->setText(dir);
  onModelChanged();
}

void RunModelDialog::setPromptText(const QString& text) {
  m_promptKind->setCurrentIndex(0);
  m_ids->clear();
  m_prompt->setPlainText(text);
}

void RunModelDialog::setInductionPrompt(int length, int seed) {
  m_inductionLength->setValue(length);
  m_inductionSeed->setValue(seed);
  m_promptKind->setCurrentIndex(1);
}

bool RunModelDialog::isInductionPrompt() const {
  return m_promptKind->currentIndex() == 1;
}

void RunModelDialog::updatePromptKind() {
  m_textPrompt->setVisible(!isInductionPrompt());
  m_inductionPrompt->setVisible(isInductionPrompt());
}

void RunModelDialog::setOutput(const QString& path) {
  m_out->setText(path);
  m_outEdited = true;
}

void RunModelDialog::setRunNames(const QString& names) {
  m_runNames->setText(names);
}

void RunModelDialog::setOtherWeights(bool other) {
  m_otherWeights->setChecked(other);
}

QString RunModelDialog::captureCacheDirectory() {
  return QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + QStringLiteral("/captures");
}

QString RunModelDialog::defaultOutput(const QString& modelDir) {
  const QString dir = captureCacheDirectory();
  const QString name = QFileInfo(QDir::cleanPath(modelDir)).fileName();
  return QStringLiteral("%1/%2-%3.h5")
      .arg(dir, name.isEmpty() ? QStringLiteral("capture") : name,
           QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")));
}

void RunModelDialog::loadPromptFile() {
  const QString path =
      QFileDialog::getOpenFileName(this, tr("Prompt text"), QString(), tr("Text (*.txt);;All files (*)"));
  if (path.isEmpty()) return;
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly) || file.size() > kMaxPromptBytes) {
    QMessageBox::warning(this, windowTitle(), tr("Cannot read %1 (or it is larger than 64 MB)").arg(path));
    return;
  }
  setPromptText(QString::fromUtf8(file.readAll()));
}

void RunModelDialog::chooseOutput() {
  // A capture appends runs to an existing file and never overwrites one: no "replace?" question.
  const QString path = QFileDialog::getSaveFileName(this, captureFieldLabel(CaptureField::Out), m_out->text(),
                                                    tr("attnscope captures (*.h5)"), nullptr,
                                                    QFileDialog::DontConfirmOverwrite);
  if (!path.isEmpty()) setOutput(path);
}

void RunModelDialog::onModelChanged() {
  ModelSummary summary;
  QString error;
  const QString dir = m_model->resolvedDirectory(&error);
  m_modelOk = !dir.isEmpty() && readModelSummary(dir, &summary, &error);
  m_modelError = m_modelOk ? QString() : error;
  m_modelInfo->setText(m_modelOk ? summary.describe() : error);
  if (m_modelOk) m_normalizers->setModel(summary);
  if (!m_outEdited) m_out->setText(defaultOutput(m_model->modelName()));
}

void RunModelDialog::updateTokenHint() {
  const qsizetype bytes = m_prompt->toPlainText().toUtf8().size();
  m_promptHint->setText(tr("%1 bytes of text (tokens are counted when the model runs)").arg(bytes));
}

QString RunModelDialog::validate() const {
  if (!m_modelOk)
    return m_modelError.isEmpty() ? tr("Choose a model: a directory holding config.json and "
                                       "model.safetensors, or a cached model id.")
                                  : m_modelError;
  if (isInductionPrompt()) {
    try {
      parseInductionPrompt(request().prompt.induction);  // the CLI's check of --induction-prompt
    } catch (const std::invalid_argument& error) {
      return QString::fromStdString(error.what());
    }
  }
  std::vector<int64_t> ids;  // the induction preset uses neither text nor ids
  if (!isInductionPrompt() && !parseIds(m_ids->text(), &ids))
    return tr("Token ids must be non-negative integers separated by commas.");
  if (!isInductionPrompt() && ids.empty() && m_prompt->toPlainText().isEmpty())
    return tr("Write a prompt, load a text file or give token ids.");
  const QStringList specs = m_normalizers->specs();
  if (specs.isEmpty()) return tr("Choose at least one normalizer.");
  const std::size_t n_names = commaItems(m_runNames->text()).size();
  if (n_names != 0 && n_names != static_cast<std::size_t>(specs.size()))
    return tr("Give one run name per normalizer (%1), or none.").arg(specs.size());
  if (m_mapsMode->currentData().toString().isEmpty() && m_maps->text().trimmed().isEmpty())
    return tr("List the heads whose maps to store (e.g. 3.5, 7.*), or choose all or none.");
  if (m_out->text().trimmed().isEmpty()) return tr("Choose a capture file to write.");
  if (m_otherWeights->isChecked() && !QFileInfo::exists(m_out->text().trimmed()))
    return tr("Choose the capture of the first model: other weights append their runs to it.");
  return {};
}

CaptureRequest RunModelDialog::request() const {
  CaptureRequest request;
  request.model_dir = m_model->resolvedDirectory(nullptr).toStdString();
  if (isInductionPrompt()) {
    // The CLI's --induction-prompt R:SEED, read by the same core code (promptTokens).
    request.prompt.induction =
        QStringLiteral("%1:%2").arg(m_inductionLength->value()).arg(m_inductionSeed->value()).toStdString();
  } else {
    parseIds(m_ids->text(), &request.prompt.ids);
    if (request.prompt.ids.empty()) request.prompt.text = m_prompt->toPlainText().toStdString();
  }
  request.dtype = parseComputeDtype(m_dtype->currentData().toString().toStdString());
  request.normalizers.clear();
  for (const QString& spec : m_normalizers->specs())
    request.normalizers.push_back(spec.trimmed().toStdString());
  request.run_names = commaItems(m_runNames->text());
  const QString mode = m_mapsMode->currentData().toString();
  request.maps = (mode.isEmpty() ? m_maps->text().remove(QLatin1Char(' ')) : mode).toStdString();
  request.targets = m_targets->text().remove(QLatin1Char(' ')).toStdString();
  request.out = m_out->text().trimmed().toStdString();
  request.other_weights = m_otherWeights->isChecked();
  return request;
}

void RunModelDialog::accept() {
  onModelChanged();  // the model line may have been edited without finishing (Enter on the Run button)
  const QString problem = validate();
  if (!problem.isEmpty()) {
    QMessageBox::warning(this, windowTitle(), problem);
    return;
  }
  QSettings settings;
  settings.setValue(QStringLiteral("run/modelDir"), m_model->text());
  if (m_prompt->toPlainText().size() < 100000)
    settings.setValue(QStringLiteral("run/prompt"), m_prompt->toPlainText());
  settings.setValue(QStringLiteral("run/ids"), m_ids->text());
  settings.setValue(QStringLiteral("run/induction"), isInductionPrompt());
  settings.setValue(QStringLiteral("run/inductionLength"), m_inductionLength->value());
  settings.setValue(QStringLiteral("run/inductionSeed"), m_inductionSeed->value());
  settings.setValue(QStringLiteral("run/targets"), m_targets->text());
  settings.setValue(QStringLiteral("run/dtype"), m_dtype->currentData());
  settings.setValue(QStringLiteral("run/normalizers"), m_normalizers->specs());
  QDir().mkpath(QFileInfo(m_out->text().trimmed()).absolutePath());
  QDialog::accept();
}

}  // namespace attnscope::gui
