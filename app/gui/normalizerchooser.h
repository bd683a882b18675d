#pragma once
// The normalizers of a run from the window, one run each: softmax, SSMax with the checkpoint's learned s,
// with a typed s or with s = 1/ln(ctx), logn, Llama 4 temperature tuning, and free-text specs for anything
// else.

#include <QGroupBox>
#include <QStringList>

class QCheckBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;

namespace attnscope::gui {

struct ModelSummary;

class NormalizerChooser : public QGroupBox {
  Q_OBJECT
 public:
  explicit NormalizerChooser(QWidget* parent = nullptr);

  /// Adapts defaults to a model: learned SSMax only when it has it; ctx and L default to its context.
  void setModel(const ModelSummary& summary);
  /// The chosen normalizer specs, as attnscope-cli capture -n takes them, in a fixed order.
  QStringList specs() const;
  /// Checks the boxes of the specs that match a row and puts the rest into the free-text field.
  void setSpecs(const QStringList& specs);

 private:
  QCheckBox* m_softmax;
  QCheckBox* m_learned;
  QCheckBox* m_ssmaxS;
  QDoubleSpinBox* m_s;
  QCheckBox* m_ssmaxCtx;
  QSpinBox* m_ctx;
  QCheckBox* m_logn;
  QSpinBox* m_lognL;
  QCheckBox* m_temperature;
  QSpinBox* m_floor;
  QDoubleSpinBox* m_scale;
  QLineEdit* m_other;
};

}  // namespace attnscope::gui
