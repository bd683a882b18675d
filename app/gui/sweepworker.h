#pragma once
// Runs a sweep from the window: a SweepRequest (attnscope/sweep_request.h) run by attnscope::runSweep on a
// worker thread, with progress and cancel between prompts. Same pattern as CaptureWorker: the worker only
// moves the request to its thread and the progress, outcome and errors back.

#include <QMetaType>
#include <QObject>
#include <QString>

#include <atomic>

#include "attnscope/sweep_request.h"

class QThread;

namespace attnscope::gui {

struct SweepOutcome {
  QString path;
  qint64 n_written = 0, n_skipped = 0, n_total = 0;  // records of this run, found stored, of the shard
  bool cancelled = false;  // stopped on request: every finished record is in the file
  /// Records the file holds for this shard now.
  qint64 stored() const { return n_written + n_skipped; }
};

class SweepWorker : public QObject {
  Q_OBJECT
 public:
  explicit SweepWorker(QObject* parent = nullptr);
  /// Cancels a running sweep and waits for its thread.
  ~SweepWorker() override;

  /// Starts a sweep on a new thread with threads compute threads (0: one per core); returns false when one
  /// is still running.
  bool start(const SweepRequest& request, int threads = 0);
  /// Asks the running sweep to stop before its next prompt; every finished record stays in the file.
  void cancel();
  bool isRunning() const { return m_thread != nullptr; }

 Q_SIGNALS:
  /// Emitted on the worker thread after each prompt (queued to receivers on the GUI thread).
  void progressChanged(const attnscope::SweepProgress& progress);
  /// The sweep ended (completed or cancelled); emitted on the worker object's thread after its thread ended.
  void finished(const attnscope::gui::SweepOutcome& outcome);
  /// The sweep failed; message is one line. Emitted like finished().
  void failed(const QString& message);

 private:
  void run(const SweepRequest& request, int threads);
  void onThreadFinished();

  QThread* m_thread = nullptr;
  std::atomic<bool> m_cancel{false};
  SweepOutcome m_outcome;  // written by the job's thread, read after it ended
  QString m_error;
};

}  // namespace attnscope::gui

Q_DECLARE_METATYPE(attnscope::SweepProgress)
Q_DECLARE_METATYPE(attnscope::gui::SweepOutcome)
