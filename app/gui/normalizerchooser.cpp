#include "normalizerchooser.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSpinBox>

#include <cmath>
#include <stdexcept>

#include "attnscope/normalizer_spec.h"

#include "modelsummary.h"

namespace attnscope::gui {
namespace {

QSpinBox* tokenSpin(QWidget* parent, int value) {
  auto* spin = new QSpinBox(parent);
  spin->setRange(2, 1 << 30);
  spin->setValue(value);
  return spin;
}

QString textOf(const NormalizerSpec& spec) {
  return QString::fromStdString(spec.userText());
}

/// Whether a spin box holds value exactly (an integer within its range).
bool holds(const QSpinBox* spin, double value) {
  return value >= spin->minimum() && value <= spin->maximum() && value == std::floor(value);
}

/// Whether a double spin box holds value exactly (within its range, at its decimals).
bool holds(const QDoubleSpinBox* spin, double value) {
  const double scale = std::pow(10.0, spin->decimals());
  return value >= spin->minimum() && value <= spin->maximum() && std::round(value * scale) / scale == value;
}

}  // namespace

NormalizerChooser::NormalizerChooser(QWidget* parent)
    : QGroupBox(tr("Normalizers (one run each)"), parent),
      m_softmax(new QCheckBox(QString::fromLatin1(kNormalizerSoftmax), this)),
      m_learned(new QCheckBox(tr("SSMax with the checkpoint's learned s"), this)),
      m_ssmaxS(new QCheckBox(tr("SSMax, s ="), this)),
      m_s(new QDoubleSpinBox(this)),
      m_ssmaxCtx(new QCheckBox(tr("SSMax, s = 1 / ln(ctx), ctx ="), this)),
      m_ctx(tokenSpin(this, 1024)),
      m_logn(new QCheckBox(tr("logn (Qwen), L ="), this)),
      m_lognL(tokenSpin(this, 1024)),
      m_temperature(new QCheckBox(tr("temperature tuning (Llama 4), floor ="), this)),
      m_floor(tokenSpin(this, 8192)),
      m_scale(new QDoubleSpinBox(this)),
      m_other(new QLineEdit(this)) {
  m_softmax->setChecked(true);
  m_ssmaxCtx->setChecked(true);
  m_s->setRange(0.001, 100);
  m_s->setDecimals(3);
  m_s->setSingleStep(0.01);
  m_s->setValue(0.43);
  m_scale->setRange(0.001, 100);
  m_scale->setDecimals(3);
  m_scale->setValue(0.1);
  NormalizerSpec withBias = ssmaxSpec(0.3);
  withBias.b = {0.1};
  m_other->setPlaceholderText(textOf(withBias) + QStringLiteral("; ") + textOf(lognSpec(512)));
  m_other->setToolTip(tr("More normalizer specs, separated by ';' or spaces"));
  auto* grid = new QGridLayout(this);
  grid->addWidget(m_softmax, 0, 0, 1, 4);
  grid->addWidget(m_learned, 1, 0, 1, 4);
  grid->addWidget(m_ssmaxS, 2, 0);
  grid->addWidget(m_s, 2, 1);
  grid->addWidget(m_ssmaxCtx, 3, 0);
  grid->addWidget(m_ctx, 3, 1);
  grid->addWidget(m_logn, 4, 0);
  grid->addWidget(m_lognL, 4, 1);
  grid->addWidget(m_temperature, 5, 0);
  grid->addWidget(m_floor, 5, 1);
  grid->addWidget(new QLabel(tr("scale ="), this), 5, 2);
  grid->addWidget(m_scale, 5, 3);
  grid->addWidget(new QLabel(tr("Other specs:"), this), 6, 0);
  grid->addWidget(m_other, 6, 1, 1, 3);
  grid->setColumnStretch(4, 1);
}

void NormalizerChooser::setModel(const ModelSummary& summary) {
  m_learned->setEnabled(summary.ssmaxLearned);
  m_learned->setChecked(summary.ssmaxLearned);
  m_learned->setToolTip(summary.ssmaxLearned ? QString() : tr("This checkpoint was not trained with SSMax"));
  if (summary.ssmaxLearned) m_ssmaxCtx->setChecked(false);
  if (summary.n_ctx > 1) {
    m_ctx->setValue(summary.n_ctx);
    m_lognL->setValue(summary.n_ctx);
  }
}

QStringList NormalizerChooser::specs() const {
  QStringList specs;
  if (m_softmax->isChecked()) specs << textOf(NormalizerSpec());
  if (m_learned->isChecked() && m_learned->isEnabled()) specs << textOf(learnedSsmaxSpec());
  if (m_ssmaxS->isChecked()) specs << textOf(ssmaxSpec(m_s->value()));
  if (m_ssmaxCtx->isChecked()) specs << textOf(ssmaxContextSpec(m_ctx->value()));
  if (m_logn->isChecked()) specs << textOf(lognSpec(m_lognL->value()));
  if (m_temperature->isChecked()) specs << textOf(temperatureSpec(m_floor->value(), m_scale->value()));
  for (const QString& spec :
       m_other->text().split(QRegularExpression(QStringLiteral("[;\\s]+")), Qt::SkipEmptyParts))
    if (!specs.contains(spec)) specs << spec;
  return specs;
}

void NormalizerChooser::setSpecs(const QStringList& specs) {
  for (QCheckBox* box : {m_softmax, m_learned, m_ssmaxS, m_ssmaxCtx, m_logn, m_temperature})
    box->setChecked(false);
  QStringList other;
  for (const QString& text : specs) {
    NormalizerSpec spec;
    try {
      spec = parseNormalizer(text.toStdString());
    } catch (const std::invalid_argument&) {
      other << text;  // the capture reports it when it runs
      continue;
    }
    const bool ssmax = spec.kind == NormalizerKind::Ssmax && !spec.use_learned && spec.b.empty();
    if (spec.kind == NormalizerKind::Softmax) {
      m_softmax->setChecked(true);
    } else if (spec.kind == NormalizerKind::Ssmax && spec.use_learned && m_learned->isEnabled()) {
      m_learned->setChecked(true);
    } else if (ssmax && spec.ssmax_ctx == 0 && spec.s.size() == 1 && holds(m_s, spec.s[0]) &&
               !m_ssmaxS->isChecked()) {
      m_ssmaxS->setChecked(true);
      m_s->setValue(spec.s[0]);
    } else if (ssmax && holds(m_ctx, spec.ssmax_ctx) && !m_ssmaxCtx->isChecked()) {
      m_ssmaxCtx->setChecked(true);
      m_ctx->setValue(static_cast<int>(spec.ssmax_ctx));
    } else if (spec.kind == NormalizerKind::Logn && holds(m_lognL, spec.logn_base) && !m_logn->isChecked()) {
      m_logn->setChecked(true);
      m_lognL->setValue(static_cast<int>(spec.logn_base));
    } else {
      other << text;
    }
  }
  m_other->setText(other.join(QStringLiteral("; ")));
}

}  // namespace attnscope::gui
