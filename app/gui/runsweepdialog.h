#pragma once
// File → Run sweep…: a model, needle or documents mode, the normalizers, lengths × depths × prompts per cell,
// seed, distractors, a haystack and the sweep file, with "resume" to continue a file a cancelled or killed
// sweep left. Produces a SweepRequest for the SweepWorker; what is wrong with a field is shown in the dialog.

#include <QDialog>

#include "attnscope/sweep_request.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace attnscope::gui {

class ModelChooser;
class NormalizerChooser;

class RunSweepDialog : public QDialog {
  Q_OBJECT
 public:
  explicit RunSweepDialog(const QString& modelDir, QWidget* parent = nullptr);

  /// The request as filled in (valid after accept()).
  SweepRequest request() const;
  /// Fills the fields from a request (Run sweep… again after a failure or a cancel).
  void setRequest(const SweepRequest& request);
  /// Shows a one-line error under the fields (the runner's std::invalid_argument messages too).
  void showError(const QString& message);
  /// The error line under the fields; empty when nothing is wrong.
  QString errorText() const;

  ModelChooser* model() const { return m_model; }
  NormalizerChooser* normalizers() const { return m_normalizers; }
  QComboBox* mode() const { return m_mode; }
  QLineEdit* lengths() const { return m_lengths; }
  QLineEdit* depths() const { return m_depths; }
  QSpinBox* prompts() const { return m_prompts; }
  QDoubleSpinBox* distractors() const { return m_distractors; }
  QLineEdit* haystack() const { return m_haystack; }
  QLineEdit* output() const { return m_out; }
  QCheckBox* resume() const { return m_resume; }

  /// Checks the fields; shows what is wrong instead of closing. An existing output file without resume asks
  /// whether to resume it.
  void accept() override;
  /// The first problem with the fields, or empty (accept() shows it).
  QString validate() const;

 private:
  void chooseHaystack();
  void chooseOutput();
  void onModelChanged();
  void onModeChanged();

  ModelChooser* m_model;
  QLabel* m_modelInfo;
  QComboBox* m_mode;
  NormalizerChooser* m_normalizers;
  QLineEdit* m_lengths;
  QLineEdit* m_depths;
  QSpinBox* m_prompts;
  QSpinBox* m_seed;
  QDoubleSpinBox* m_distractors;
  QLineEdit* m_haystack;
  QLineEdit* m_out;
  QCheckBox* m_resume;
  QLabel* m_error;
  QString m_modelError;
};

}  // namespace attnscope::gui
