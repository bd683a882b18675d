#pragma once
// Runs a model from the window: tokenizes a prompt, loads a model directory and captures one run per
// normalizer into a capture file, on a worker thread, with progress and cancel. Only captureworker.cpp
// touches torch; it includes the attnscope core headers before any Qt header (Qt's `slots` macro breaks ATen
// headers).

#include <QMetaType>
#include <QObject>
#include <QString>
#include <QStringList>

#include <atomic>
#include <cstdint>
#include <vector>

class QThread;

namespace attnscope::gui {

/// What to run: a model directory, a prompt (exactly one of text, file or ids), normalizers and what to
/// store.
struct CaptureJob {
  QString modelDir;
  QString promptText;
  QString promptFile;
  std::vector<int64_t> ids;
  QStringList normalizers;  // one run each: "softmax", "ssmax", "ssmax:s=0.43", "logn:L=1024", ...
  QString maps = QStringLiteral("none");  // "all", "none" or "L.H,..." as for attnscope-cli capture --maps
  QString targets;                        // token ranges "10:20,40:45" for target_mass
  QString out;                            // capture file to create (or append to, same prompt and model)
  QString dtype =
      QStringLiteral("auto");  // compute dtype: "auto", "float32" or "bfloat16" (computeDtypeNames)
  int threads = 0;             // compute threads; 0: one per core
};

struct CaptureProgress {
  bool loading = true;  // tokenizing and loading the model; no layer done yet
  int run = 0, n_run = 0;
  int layer = 0, n_layer = 0;  // layers finished in run `run`
  QString normalizer;
  /// Share of the work done, in [0, 1].
  double fraction() const;
};

struct CaptureOutcome {
  QString path;  // empty when cancelled before the file was created
  int n_completed = 0, n_requested = 0, n_tokens = 0;
  bool cancelled = false;
};

class CaptureWorker : public QObject {
  Q_OBJECT
 public:
  explicit CaptureWorker(QObject* parent = nullptr);
  /// Cancels a running job and waits for its thread.
  ~CaptureWorker() override;

  /// Starts a job on a new thread; returns false when one is still running.
  bool start(const CaptureJob& job);
  /// Asks the running job to stop after the current layer; the interrupted run stays in the file, incomplete.
  void cancel();
  bool isRunning() const { return m_thread != nullptr; }

 Q_SIGNALS:
  /// Emitted on the worker thread (connect with the default connection to update widgets; a direct connection
  /// may call cancel()).
  void progressChanged(const attnscope::gui::CaptureProgress& progress);
  /// The job ended (completed or cancelled); emitted on the worker object's thread after the job's thread
  /// ended.
  void finished(const attnscope::gui::CaptureOutcome& outcome);
  /// The job failed; message is one line. Emitted like finished().
  void failed(const QString& message);

 private:
  void run(const CaptureJob& job);
  void onThreadFinished();

  QThread* m_thread = nullptr;
  std::atomic<bool> m_cancel{false};
  CaptureOutcome m_outcome;  // written by the job's thread, read after it ended
  QString m_error;
};

}  // namespace attnscope::gui

Q_DECLARE_METATYPE(attnscope::gui::CaptureProgress)
Q_DECLARE_METATYPE(attnscope::gui::CaptureOutcome)
