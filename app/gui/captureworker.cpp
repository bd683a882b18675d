#include "captureworker.h"

#include <QFileInfo>
#include <QThread>

#include <exception>
#include <string>

#include "attnscope/runtime.h"

namespace attnscope::gui {
QString firstErrorLine(const char* what) {
  const QString text = QString::fromUtf8(what);
  return text.left(text.indexOf(QLatin1Char('\n'))).trimmed();
}

QString captureFieldLabel(CaptureField field) {
  switch (field) {
    case CaptureField::ModelDir:
      return CaptureWorker::tr("Model");
    case CaptureField::Normalizers:
      return CaptureWorker::tr("Normalizers");
    case CaptureField::RunNames:
      return CaptureWorker::tr("Run names");
    case CaptureField::Maps:
      return CaptureWorker::tr("Attention maps");
    case CaptureField::Targets:
      return CaptureWorker::tr("Targets");
    case CaptureField::Topk:
      return CaptureWorker::tr("Top-k");
    case CaptureField::LocalWindow:
      return CaptureWorker::tr("Local window");
    case CaptureField::QueryBlock:
      return CaptureWorker::tr("Query block");
    case CaptureField::Out:
      return CaptureWorker::tr("Capture file");
  }
  return QString::fromLatin1(captureFieldName(field));
}

CaptureWorker::CaptureWorker(QObject* parent) : QObject(parent) {
  qRegisterMetaType<CaptureProgress>();
  qRegisterMetaType<CaptureOutcome>();
}

CaptureWorker::~CaptureWorker() {
  if (!m_thread) return;
  m_cancel = true;
  m_thread->wait();
  delete m_thread;
}

bool CaptureWorker::start(const CaptureRequest& request, int threads) {
  if (m_thread) return false;
  m_cancel = false;
  m_outcome = {};
  m_error.clear();
  m_thread = QThread::create([this, request, threads] { run(request, threads); });
  connect(m_thread, &QThread::finished, this, &CaptureWorker::onThreadFinished);
  m_thread->start();
  return true;
}

void CaptureWorker::cancel() {
  m_cancel = true;
}

void CaptureWorker::onThreadFinished() {
  m_thread->wait();
  delete m_thread;
  m_thread = nullptr;
  if (m_error.isEmpty()) {
    Q_EMIT finished(m_outcome);
  } else {
    Q_EMIT failed(m_error);
  }
}

void CaptureWorker::run(const CaptureRequest& request, int threads) {
  m_outcome.n_requested = static_cast<int>(request.normalizers.size());
  const bool existed = QFileInfo::exists(QString::fromStdString(request.out));
  try {
    setComputeThreads(threads);
    const CaptureResult result = runCapture(
        request, [this](const CaptureProgress& progress) { Q_EMIT progressChanged(progress); },
        [this] { return m_cancel.load(); });
    m_outcome.path = QString::fromStdString(result.path);
    m_outcome.n_completed = static_cast<int>(result.n_completed);
    m_outcome.n_requested = static_cast<int>(result.n_requested);
    m_outcome.n_tokens = static_cast<int>(result.n_tokens);
    m_outcome.cancelled = result.cancelled;
    m_outcome.created = !existed && !result.path.empty();
  } catch (const CaptureRequestError& error) {
    m_error = captureFieldLabel(error.field()) + QLatin1Char(' ') + firstErrorLine(error.detail().c_str());
  } catch (const std::exception& error) {
    m_error = firstErrorLine(error.what());
  } catch (...) {
    m_error = QStringLiteral("unknown error");
  }
}

}  // namespace attnscope::gui
