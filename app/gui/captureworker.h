#pragma once
// Runs a model from the window: a CaptureRequest (attnscope/capture_request.h) run by attnscope::runCapture
// on a worker thread, with progress and cancel. The worker only moves the request to its thread and the
// progress, outcome and errors back; errors about a request field use the Run dialog's label of that field.

#include <QMetaType>
#include <QObject>
#include <QString>

#include <atomic>

#include "attnscope/capture_request.h"

class QThread;

namespace attnscope::gui {

/// The Run dialog's label of a request field ("Attention maps", "Run names", ...): the dialog's form shows
/// it and errors about the field begin with it.
QString captureFieldLabel(CaptureField field);
/// The first line of an error message, trimmed: what a worker shows of an exception.
QString firstErrorLine(const char* what);

struct CaptureOutcome {
  QString path;  // empty when cancelled before the file was created
  int n_completed = 0, n_requested = 0, n_tokens = 0;
  bool cancelled = false;
  bool created = false;  // the capture made the file at path (it did not exist before): safe to delete
};

class CaptureWorker : public QObject {
  Q_OBJECT
 public:
  explicit CaptureWorker(QObject* parent = nullptr);
  /// Cancels a running job and waits for its thread.
  ~CaptureWorker() override;

  /// Starts a capture on a new thread with threads compute threads (0: one per core); returns false when one
  /// is still running.
  bool start(const CaptureRequest& request, int threads = 0);
  /// Asks the running job to stop after the current layer; the interrupted run stays in the file, incomplete.
  void cancel();
  bool isRunning() const { return m_thread != nullptr; }

 Q_SIGNALS:
  /// Emitted on the worker thread (connect with the default connection to update widgets; a direct connection
  /// may call cancel()).
  void progressChanged(const attnscope::CaptureProgress& progress);
  /// The job ended (completed or cancelled); emitted on the worker object's thread after the job's thread
  /// ended.
  void finished(const attnscope::gui::CaptureOutcome& outcome);
  /// The job failed; message is one line. Emitted like finished().
  void failed(const QString& message);

 private:
  void run(const CaptureRequest& request, int threads);
  void onThreadFinished();

  QThread* m_thread = nullptr;
  std::atomic<bool> m_cancel{false};
  CaptureOutcome m_outcome;  // written by the job's thread, read after it ended
  QString m_error;
};

}  // namespace attnscope::gui

Q_DECLARE_METATYPE(attnscope::CaptureProgress)
Q_DECLARE_METATYPE(attnscope::gui::CaptureOutcome)
