#include "captureprogresswidget.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

#include <cmath>

#include "attnscope/sweep_request.h"
#include "captureworker.h"

namespace attnscope::gui {
namespace {

QString durationText(double seconds) {
  if (seconds < 60) return QObject::tr("%1 s left").arg(std::ceil(seconds));
  if (seconds < 3600) return QObject::tr("%1 min %2 s left").arg(int(seconds) / 60).arg(int(seconds) % 60);
  return QObject::tr("%1 h %2 min left").arg(int(seconds) / 3600).arg(int(seconds) % 3600 / 60);
}

}  // namespace

CaptureProgressWidget::CaptureProgressWidget(QWidget* parent)
    : QWidget(parent),
      m_label(new QLabel(this)),
      m_bar(new QProgressBar(this)),
      m_eta(new QLabel(this)),
      m_cancel(new QPushButton(tr("Cancel"), this)) {
  m_bar->setRange(0, 1000);
  m_bar->setTextVisible(true);
  m_bar->setFixedWidth(220);
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_label);
  layout->addWidget(m_bar);
  layout->addWidget(m_eta);
  layout->addWidget(m_cancel);
  connect(m_cancel, &QPushButton::clicked, this, [this] {
    m_cancel->setEnabled(false);
    m_label->setText(tr("Cancelling…"));
    Q_EMIT cancelRequested();
  });
  hide();
}

QString CaptureProgressWidget::labelText() const {
  return m_label->text();
}

void CaptureProgressWidget::begin(Job job) {
  m_cancel->setToolTip(
      job == Job::Sweep
          ? tr("Stop before the next prompt; every finished record stays in the sweep file, and Run sweep… "
               "with "
               "resume continues it")
          : tr("Stop after the current layer; the interrupted run stays in the file, marked incomplete"));
  m_startFraction = -1;
  m_etaText.clear();
  m_eta->clear();
  m_bar->setRange(0, 0);  // busy until the first layer is done
  m_label->setText(tr("Loading the model…"));
  m_cancel->setEnabled(true);
  show();
}

void CaptureProgressWidget::setProgress(const CaptureProgress& progress) {
  if (!m_cancel->isEnabled()) return;  // keep "Cancelling…"
  if (progress.loading) {
    m_label->setText(tr("Loading the model…"));
    return;
  }
  const double fraction = progress.fraction();
  m_bar->setRange(0, 1000);
  m_bar->setValue(static_cast<int>(std::lround(fraction * 1000)));
  m_bar->setFormat(tr("%1 %").arg(fraction * 100, 0, 'f', 0));
  m_label->setText(tr("Run %1/%2 (%3): layer %4/%5")
                       .arg(progress.run + 1)
                       .arg(progress.n_run)
                       .arg(QString::fromStdString(progress.normalizer))
                       .arg(progress.layer)
                       .arg(progress.n_layer));
  if (m_startFraction < 0) {
    m_startFraction = fraction;
    m_clock.start();
    return;
  }
  const double done = fraction - m_startFraction, elapsed = m_clock.elapsed() / 1000.0;
  if (done > 0 && elapsed > 0.2) m_etaText = durationText(elapsed / done * (1 - fraction));
  m_eta->setText(m_etaText);
}

void CaptureProgressWidget::setSweepProgress(const SweepProgress& progress) {
  if (!m_cancel->isEnabled() || progress.total <= 0) return;  // keep "Cancelling…"
  const double fraction = static_cast<double>(progress.done) / static_cast<double>(progress.total);
  m_bar->setRange(0, 1000);
  m_bar->setValue(static_cast<int>(std::lround(fraction * 1000)));
  m_bar->setFormat(tr("%1 %").arg(fraction * 100, 0, 'f', 0));
  if (progress.eta_seconds >= 0) m_etaText = durationText(progress.eta_seconds);
  QString text = tr("prompts %1/%2").arg(progress.done).arg(progress.total);
  if (progress.skipped > 0) text += tr(" (%1 already stored)").arg(progress.skipped);
  m_label->setText(text);
  m_label->setToolTip(QString::fromStdString(progress.last));
  m_eta->setText(m_etaText.isEmpty() ? QString() : QStringLiteral("· ") + m_etaText);
}

void CaptureProgressWidget::end() {
  hide();
}

}  // namespace attnscope::gui
