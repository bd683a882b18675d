#pragma once
// File → Open model…: a model (a directory or a cached model id), a prompt (text, a text file, or token ids),
// the normalizers to run and their run names, the maps and targets to store, and the capture file to write
// or, for other weights, to append to. Produces a CaptureRequest for the CaptureWorker.

#include <QDialog>

#include "captureworker.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;

namespace attnscope::gui {

class ModelChooser;
class NormalizerChooser;

class RunModelDialog : public QDialog {
  Q_OBJECT
 public:
  explicit RunModelDialog(const QString& modelDir, QWidget* parent = nullptr);

  /// The request as filled in (valid after accept()).
  CaptureRequest request() const;
  NormalizerChooser* normalizers() const { return m_normalizers; }
  /// The line under the model: its summary, or why it cannot be used.
  QLabel* modelInfo() const { return m_modelInfo; }
  ModelChooser* model() const { return m_model; }
  void setModelDir(const QString& dir);
  void setPromptText(const QString& text);
  /// Chooses the induction preset: length random token ids drawn with seed, then the same ids again (the
  /// CLI's --induction-prompt LENGTH:SEED).
  void setInductionPrompt(int length, int seed);
  /// Whether the prompt is the induction preset (else text or token ids).
  bool isInductionPrompt() const;
  void setOutput(const QString& path);
  void setRunNames(const QString& names);
  void setOtherWeights(bool other);

  /// Checks the fields; shows what is wrong instead of closing.
  void accept() override;

  /// A fresh capture path in the user's cache directory for a model directory (or a model id).
  static QString defaultOutput(const QString& modelDir);
  /// Where the window writes captures unless the user chooses a file: its scratch directory.
  static QString captureCacheDirectory();

 private:
  void loadPromptFile();
  void chooseOutput();
  void onModelChanged();
  void updateTokenHint();
  void updatePromptKind();
  QString validate() const;

  ModelChooser* m_model;
  QLabel* m_modelInfo;
  QPlainTextEdit* m_prompt;
  QLabel* m_promptHint;
  QLineEdit* m_ids;
  QComboBox* m_promptKind;  // text or ids / repeated random tokens (induction)
  QWidget* m_textPrompt;    // the text box, its hint and the ids line
  QWidget* m_inductionPrompt;
  QSpinBox* m_inductionLength;
  QSpinBox* m_inductionSeed;
  NormalizerChooser* m_normalizers;
  QComboBox* m_mapsMode;
  QComboBox* m_dtype;
  QLineEdit* m_maps;
  QLineEdit* m_targets;
  QLineEdit* m_runNames;
  QLineEdit* m_out;
  QCheckBox* m_otherWeights;
  bool m_outEdited = false;
  bool m_modelOk = false;
  QString m_modelError;  // why the model cannot be used (shown under it and by accept())
};

}  // namespace attnscope::gui
