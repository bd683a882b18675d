#pragma once
// The status-bar strip of a capture or a sweep running from the window: what runs, a progress bar, the time
// left, Cancel.

#include <QElapsedTimer>
#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;

namespace attnscope {
struct CaptureProgress;
struct SweepProgress;
}  // namespace attnscope

namespace attnscope::gui {

class CaptureProgressWidget : public QWidget {
  Q_OBJECT
 public:
  explicit CaptureProgressWidget(QWidget* parent = nullptr);

  enum class Job { Capture, Sweep };
  /// Shows the strip for a new capture or sweep.
  void begin(Job job = Job::Capture);
  void setProgress(const CaptureProgress& progress);
  /// "prompts 12/40 · ETA 3 min": the sweep's own estimate, set once a prompt has run.
  void setSweepProgress(const SweepProgress& progress);
  /// Hides the strip.
  void end();
  /// "12 s left" from the progress so far, or empty before there is a rate to go by.
  QString etaText() const { return m_etaText; }
  /// The line beside the bar (tests and screenshots read it).
  QString labelText() const;

 Q_SIGNALS:
  void cancelRequested();

 private:
  QLabel* m_label;
  QProgressBar* m_bar;
  QLabel* m_eta;
  QPushButton* m_cancel;
  QElapsedTimer m_clock;  // since the first finished layer
  double m_startFraction = -1;
  QString m_etaText;
};

}  // namespace attnscope::gui
