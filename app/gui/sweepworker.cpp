#include "sweepworker.h"

#include <QThread>

#include <exception>

#include "attnscope/runtime.h"
#include "captureworker.h"

namespace attnscope::gui {

SweepWorker::SweepWorker(QObject* parent) : QObject(parent) {
  qRegisterMetaType<SweepProgress>();
  qRegisterMetaType<SweepOutcome>();
}

SweepWorker::~SweepWorker() {
  if (!m_thread) return;
  m_cancel = true;
  m_thread->wait();
  delete m_thread;
}

bool SweepWorker::start(const SweepRequest& request, int threads) {
  if (m_thread) return false;
  m_cancel = false;
  m_outcome = {};
  m_error.clear();
  m_thread = QThread::create([this, request, threads] { run(request, threads); });
  connect(m_thread, &QThread::finished, this, &SweepWorker::onThreadFinished);
  m_thread->start();
  return true;
}

void SweepWorker::cancel() {
  m_cancel = true;
}

void SweepWorker::onThreadFinished() {
  m_thread->wait();
  delete m_thread;
  m_thread = nullptr;
  if (m_error.isEmpty()) {
    Q_EMIT finished(m_outcome);
  } else {
    Q_EMIT failed(m_error);
  }
}

void SweepWorker::run(const SweepRequest& request, int threads) {
  try {
    setComputeThreads(threads);
    const SweepResult result = runSweep(
        request, [this](const SweepProgress& progress) { Q_EMIT progressChanged(progress); },
        [this] { return m_cancel.load(); });
    m_outcome.path = QString::fromStdString(result.path);
    m_outcome.n_written = result.n_written;
    m_outcome.n_skipped = result.n_skipped;
    m_outcome.n_total = result.n_total;
    m_outcome.cancelled = result.cancelled;
  } catch (const std::exception& error) {
    m_error = firstErrorLine(error.what());
  } catch (...) {
    m_error = QStringLiteral("unknown error");
  }
}

}  // namespace attnscope::gui
