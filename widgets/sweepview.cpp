#include "sweepview.h"

#include <QTabWidget>
#include <QVBoxLayout>

#include "elidedlabel.h"
#include "sweepcurveview.h"
#include "sweepdocument.h"
#include "sweepgridview.h"

namespace attnscope::widgets {

SweepView::SweepView(SweepDocument* document, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_summary(new ElidedLabel(this)),
      m_tabs(new QTabWidget(this)),
      m_retrieval(new SweepGridView(document, SweepGridKind::Retrieval, this)),
      m_heads(new SweepGridView(document, SweepGridKind::NeedleHeads, this)),
      m_curve(new SweepCurveView(document, SweepCurveKind::Statistic, this)),
      m_loss(new SweepCurveView(document, SweepCurveKind::Loss, this)) {
  m_tabs->addTab(m_retrieval, tr("Retrieval"));
  m_tabs->addTab(m_heads, tr("Needle score per head"));
  m_tabs->addTab(m_curve, tr("Statistic vs n"));
  m_tabs->addTab(m_loss, tr("Loss by position"));
  m_tabs->setTabToolTip(0, tr("Needle retrieval accuracy over prompt length × needle depth, per normalizer"));
  m_tabs->setTabToolTip(1, tr("Attention mass on the needle from the position that generates the answer"));
  m_tabs->setTabToolTip(2, tr("A per-head statistic against the keys a query sees, mean over prompts"));
  m_tabs->setTabToolTip(3, tr("Next-token loss by position in long documents"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(m_summary);
  layout->addWidget(m_tabs, 1);
  connect(m_document, &SweepDocument::documentChanged, this, &SweepView::onDocumentChanged);
  onDocumentChanged();
}

QList<ExportSource*> SweepView::exportSources() const {
  return {m_retrieval, m_heads, m_curve, m_loss};
}

ExportSource* SweepView::currentSource() const {
  return exportSources().value(m_tabs->currentIndex(), m_retrieval);
}

void SweepView::onDocumentChanged() {
  const auto data = m_document->data();
  m_summary->setText(data ? sweepSummary(*data) : tr("No sweep file open"));
  m_summary->setToolTip(data ? data->path : QString());
  const bool needle = data && data->grid().mode == SweepMode::Needle;
  const bool documents = data && data->grid().mode == SweepMode::Documents;
  m_tabs->setTabEnabled(0, !documents);
  m_tabs->setTabEnabled(1, !documents);
  m_tabs->setTabEnabled(3, !needle);
  if (!m_tabs->isTabEnabled(m_tabs->currentIndex())) m_tabs->setCurrentIndex(documents ? 2 : 0);
}

}  // namespace attnscope::widgets
