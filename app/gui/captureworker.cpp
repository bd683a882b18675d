// The one torch-touching translation unit of the window: the attnscope core headers (ATen) come before any Qt
// header, so Qt's keyword macros never meet them.
#include "attnscope/capture.h"
#include "attnscope/model.h"
#include "attnscope/normalizer.h"
#include "attnscope/prompt.h"
#include "attnscope/runtime.h"

#include "captureworker.h"

#include <QThread>

#include <algorithm>
#include <exception>
#include <string>

namespace attnscope::gui {
namespace {

/// The first line of an error: LibTorch appends a backtrace to its messages.
QString firstLine(const char* what) {
  const QString text = QString::fromUtf8(what);
  return text.left(text.indexOf(QLatin1Char('\n'))).trimmed();
}

}  // namespace

double CaptureProgress::fraction() const {
  if (loading || n_run <= 0 || n_layer <= 0) return 0;
  return std::clamp((run * n_layer + layer) / static_cast<double>(n_run * n_layer), 0.0, 1.0);
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

bool CaptureWorker::start(const CaptureJob& job) {
  if (m_thread) return false;
  m_cancel = false;
  m_outcome = {};
  m_error.clear();
  m_thread = QThread::create([this, job] { run(job); });
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

void CaptureWorker::run(const CaptureJob& job) {
  CaptureProgress progress;
  progress.n_run = static_cast<int>(job.normalizers.size());
  m_outcome.n_requested = progress.n_run;
  try {
    Q_EMIT progressChanged(progress);
    setComputeThreads(job.threads);
    const std::string model_dir = job.modelDir.toStdString();
    PromptSource source{job.ids, job.promptText.toStdString(), job.promptFile.toStdString()};
    PromptTokens prompt = promptTokens(source, model_dir);
    m_outcome.n_tokens = static_cast<int>(prompt.ids.size());
    std::unique_ptr<Model> model =
        loadModel(model_dir, LoadOptions{parseComputeDtype(job.dtype.toStdString())});
    const ModelConfig& config = model->config();
    if (job.normalizers.isEmpty()) throw std::invalid_argument("choose at least one normalizer");
    CaptureParams params;
    params.normalizers.clear();  // the default holds "softmax"
    for (const QString& text : job.normalizers) {
      params.normalizers.push_back(text.trimmed().toStdString());
      validateNormalizer(parseNormalizer(params.normalizers.back()), config);  // before the file is created
    }
    params.maps = parseMapSpec(job.maps.trimmed().toStdString(), config.n_layer, config.n_head);
    params.targets =
        parseTargetRanges(job.targets.trimmed().toStdString(), static_cast<int64_t>(prompt.ids.size()));
    params.progress = [&](int64_t run, int64_t layer, int64_t n_layer) {
      progress.loading = false;
      progress.run = static_cast<int>(run);
      progress.layer = static_cast<int>(layer + 1);
      progress.n_layer = static_cast<int>(n_layer);
      progress.normalizer = job.normalizers.value(static_cast<int>(run));
      Q_EMIT progressChanged(progress);
      return !m_cancel.load();
    };
    if (m_cancel) {
      m_outcome.cancelled = true;
      return;
    }
    CaptureTokens tokens{prompt.ids, prompt.display};
    auto file = CaptureFile::create(job.out.toStdString(), describeCheckpoint(*model, model_dir), tokens);
    m_outcome.path = job.out;
    m_outcome.n_completed = static_cast<int>(captureRuns(*model, prompt.ids, *file, params));
    m_outcome.cancelled = m_outcome.n_completed < m_outcome.n_requested;
  } catch (const std::exception& error) {
    m_error = firstLine(error.what());
  } catch (...) {
    m_error = QStringLiteral("unknown error");
  }
}

}  // namespace attnscope::gui
