#pragma once
// File → Open model…: a model (a directory or a cached model id), a prompt (text, a text file, or token ids),
// the normalizers to run, the maps and targets to store and the capture file to write. Produces a CaptureJob
// for the CaptureWorker.

#include <QDialog>

#include "captureworker.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;

namespace attnscope::gui {

class ModelChooser;
class NormalizerChooser;

class RunModelDialog : public QDialog {
  Q_OBJECT
 public:
  explicit RunModelDialog(const QString& modelDir, QWidget* parent = nullptr);

  /// The job as filled in (valid after accept()).
  CaptureJob job() const;
  NormalizerChooser* normalizers() const { return m_normalizers; }
  ModelChooser* model() const { return m_model; }
  void setModelDir(const QString& dir);
  void setPromptText(const QString& text);
  void setOutput(const QString& path);

  /// Checks the fields; shows what is wrong instead of closing.
  void accept() override;

  /// A fresh capture path in the user's cache directory for a model directory (or a model id).
  static QString defaultOutput(const QString& modelDir);

 private:
  void loadPromptFile();
  void chooseOutput();
  void onModelChanged();
  void updateTokenHint();
  QString validate() const;

  ModelChooser* m_model;
  QLabel* m_modelInfo;
  QPlainTextEdit* m_prompt;
  QLabel* m_promptHint;
  QLineEdit* m_ids;
  NormalizerChooser* m_normalizers;
  QComboBox* m_mapsMode;
  QComboBox* m_dtype;
  QLineEdit* m_maps;
  QLineEdit* m_targets;
  QLineEdit* m_out;
  bool m_outEdited = false;
  bool m_modelOk = false;
};

}  // namespace attnscope::gui
