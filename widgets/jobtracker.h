#pragma once
// One view's background work: each new job supersedes the one before it. The tracker owns the job counter, so
// a superseded job's result is dropped on arrival, and hands each job a cancel predicate, so superseded work
// stops early (a queued job never starts; a tile read stops between bands) instead of running to completion.
// Views use it for every read that may be larger than one screen tile, so the window never freezes on a big
// capture.

#include <QFutureWatcher>
#include <QObject>
#include <QPromise>
#include <QString>
#include <QThreadPool>

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace attnscope::widgets {

/// Returns true once the job asking is no longer wanted (superseded, cancelled, or its view destroyed).
/// Safe to call from any thread, also after the tracker is gone.
using CancelCheck = std::function<bool()>;

class JobTracker {
 public:
  /// Results are delivered on context's thread, and never after context is destroyed.
  explicit JobTracker(QObject* context) : m_context(context) {}
  ~JobTracker() { cancel(); }
  JobTracker(const JobTracker&) = delete;
  JobTracker& operator=(const JobTracker&) = delete;

  /// Supersedes the current job and runs work(cancelled) on the global thread pool. Later, on context's
  /// thread, done(result) or failed(message) runs, only if no other job was started (or cancel() called)
  /// since. A job cancelled before it starts is never run. work's result must be default-constructible.
  template <typename Work, typename Done, typename Failed>
  void startJob(Work work, Done done, Failed failed) {
    using Result = std::invoke_result_t<Work, const CancelCheck&>;
    const uint64_t id = ++m_state->current;
    m_state->running = true;
    const std::shared_ptr<State> state = m_state;
    CancelCheck cancelled = [state, id] { return state->current.load(std::memory_order_relaxed) != id; };
    auto promise = std::make_shared<QPromise<Result>>();
    auto* watcher = new QFutureWatcher<Result>(m_context);
    QObject::connect(
        watcher, &QFutureWatcherBase::finished, m_context,
        [watcher, cancelled, state, done = std::move(done), failed = std::move(failed)]() mutable {
          watcher->deleteLater();
          if (cancelled()) return;  // superseded: a newer job owns the view
          state->running = false;
          Result result;
          try {
            result = watcher->future().result();
          } catch (const std::exception& error) {
            failed(QString::fromStdString(error.what()));
            return;
          } catch (...) {
            failed(QStringLiteral("unknown error"));
            return;
          }
          done(std::move(result));
        });
    watcher->setFuture(promise->future());
    promise->start();
    QThreadPool::globalInstance()->start([promise, cancelled, work = std::move(work)]() mutable {
      try {
        promise->addResult(cancelled() ? Result{} : work(cancelled));
      } catch (...) {
        promise->setException(std::current_exception());
      }
      promise->finish();
    });
  }

  /// Supersedes the current job without starting another: its result will be dropped.
  void cancel() {
    ++m_state->current;
    m_state->running = false;
  }

  /// Whether the latest job has not delivered its result yet.
  bool isRunning() const { return m_state->running; }

 private:
  struct State {
    std::atomic<uint64_t> current{0};  // the id of the job whose result is wanted
    bool running = false;              // read and written on context's thread only
  };

  QObject* m_context;
  std::shared_ptr<State> m_state = std::make_shared<State>();
};

}  // namespace attnscope::widgets
