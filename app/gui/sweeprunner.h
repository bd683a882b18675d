#pragma once
// File → Run sweep… of a window: shows the RunSweepDialog, runs its request on a SweepWorker with the
// progress strip (prompts, ETA, Cancel) in the window's status bar, and when the sweep ends or is cancelled
// offers to open the file in a sweep window. The capture window and the sweep window each own one.

#include <QObject>
#include <QString>

#include "attnscope/sweep_request.h"

class QMainWindow;
class QMessageBox;

namespace attnscope::gui {

class CaptureProgressWidget;
class SweepWorker;
struct SweepOutcome;

class SweepRunner : public QObject {
  Q_OBJECT
 public:
  /// Puts its (hidden) progress strip into window's status bar.
  explicit SweepRunner(QMainWindow* window);

  /// Shows the Run sweep dialog for modelDir (else the last request) and starts the sweep it describes.
  void showDialog(const QString& modelDir = {});
  /// Starts a sweep on the worker thread (threads: compute threads, 0 for one per core); false when one runs.
  bool run(const SweepRequest& request, int threads = 0);
  SweepWorker* worker() const { return m_worker; }
  CaptureProgressWidget* progress() const { return m_progress; }
  /// The box offered when the last sweep ended (tests press its buttons); null before.
  QMessageBox* endBox() const { return m_endBox; }

 Q_SIGNALS:
  /// A sweep window was opened on path.
  void sweepOpened(const QString& path);

 private:
  void onFinished(const SweepOutcome& outcome);
  void onFailed(const QString& message);

  QMainWindow* m_window;
  SweepWorker* m_worker;
  CaptureProgressWidget* m_progress;
  QMessageBox* m_endBox = nullptr;
  SweepRequest m_last;
  bool m_hasLast = false;
};

}  // namespace attnscope::gui
