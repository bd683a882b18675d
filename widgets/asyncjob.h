#pragma once
// Runs work off the GUI thread and hands the result back on the receiver's thread. Views use it for every
// read that may be larger than one screen tile, so the window never freezes on a big capture.

#include <QFutureWatcher>
#include <QObject>
#include <QPromise>
#include <QString>
#include <QThreadPool>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace attnscope::gui {

/// Runs work() on the global thread pool. done(result) or failed(message) later runs on context's thread, and
/// never after context is destroyed (the watcher that delivers it is context's child).
template <typename Work, typename Done, typename Failed>
void runAsync(QObject* context, Work work, Done done, Failed failed) {
  using Result = std::invoke_result_t<Work>;
  auto promise = std::make_shared<QPromise<Result>>();
  auto* watcher = new QFutureWatcher<Result>(context);
  QObject::connect(watcher, &QFutureWatcherBase::finished, context,
                   [watcher, done = std::move(done), failed = std::move(failed)]() mutable {
                     watcher->deleteLater();
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
  QThreadPool::globalInstance()->start([promise, work = std::move(work)]() mutable {
    try {
      promise->addResult(work());
    } catch (...) {
      promise->setException(std::current_exception());
    }
    promise->finish();
  });
}

}  // namespace attnscope::gui
