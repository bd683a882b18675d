#include "sweeprunner.h"

#include <QMainWindow>
#include <QMessageBox>
#include <QPushButton>
#include <QStatusBar>

#include "captureprogresswidget.h"
#include "modelchooser.h"
#include "runsweepdialog.h"
#include "sweepwindow.h"
#include "sweepworker.h"

namespace attnscope::gui {

SweepRunner::SweepRunner(QMainWindow* window)
    : QObject(window),
      m_window(window),
      m_worker(new SweepWorker(this)),
      m_progress(new CaptureProgressWidget(window)) {
  window->statusBar()->addPermanentWidget(m_progress);
  connect(m_worker, &SweepWorker::progressChanged, m_progress, &CaptureProgressWidget::setSweepProgress,
          Qt::QueuedConnection);
  connect(m_worker, &SweepWorker::finished, this, &SweepRunner::onFinished);
  connect(m_worker, &SweepWorker::failed, this, &SweepRunner::onFailed);
  connect(m_progress, &CaptureProgressWidget::cancelRequested, m_worker, &SweepWorker::cancel);
}

void SweepRunner::showDialog(const QString& modelDir) {
  if (m_worker->isRunning()) {
    QMessageBox::information(m_window, tr("Run sweep"), tr("A sweep is running; cancel it first."));
    return;
  }
  RunSweepDialog dialog(modelDir, m_window);
  if (m_hasLast) {
    dialog.setRequest(m_last);
    if (!modelDir.isEmpty()) dialog.model()->setText(modelDir);
  }
  if (dialog.exec() != QDialog::Accepted) return;
  run(dialog.request());
}

bool SweepRunner::run(const SweepRequest& request, int threads) {
  if (!m_worker->start(request, threads)) return false;
  m_last = request;
  m_hasLast = true;
  m_progress->begin(CaptureProgressWidget::Job::Sweep);
  return true;
}

void SweepRunner::onFinished(const SweepOutcome& outcome) {
  m_progress->end();
  // Run sweep… after a cancel continues the same file: the dialog comes back filled in with Resume on.
  if (outcome.cancelled) m_last.resume = true;
  delete m_endBox;
  const QString text =
      outcome.cancelled
          ? tr("Sweep cancelled: %1 of %2 records are stored in %3. Run sweep… with Resume continues it.")
                .arg(outcome.stored())
                .arg(outcome.n_total)
                .arg(outcome.path)
          : tr("Sweep finished: %1 records in %2 (%3 written now).")
                .arg(outcome.stored())
                .arg(outcome.path)
                .arg(outcome.n_written);
  m_endBox =
      new QMessageBox(QMessageBox::Information, tr("Run sweep"), text, QMessageBox::NoButton, m_window);
  QPushButton* open = m_endBox->addButton(tr("Open in sweep window"), QMessageBox::AcceptRole);
  m_endBox->addButton(QMessageBox::Close);
  // A cancel before the first record may leave no file to open.
  open->setEnabled(outcome.stored() > 0);
  const QString path = outcome.path;
  connect(open, &QPushButton::clicked, this, [this, path] {
    SweepWindow::openInNewWindow(path);
    Q_EMIT sweepOpened(path);
  });
  m_endBox->open();
}

void SweepRunner::onFailed(const QString& message) {
  m_progress->end();
  // The runner's request errors are one line naming the field: show them in the dialog, filled in again.
  RunSweepDialog dialog(QString(), m_window);
  dialog.setRequest(m_last);
  dialog.showError(message);
  if (dialog.exec() != QDialog::Accepted) return;
  run(dialog.request());
}

}  // namespace attnscope::gui
