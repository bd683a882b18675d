// JobTracker delivers only the latest job's result or error, on the context's thread; a superseded job's
// cancel predicate turns true (so its work stops early), a job superseded before it starts never runs, and
// nothing arrives after the tracker is gone. readTile stops between bands once cancelled, and a banded read
// equals the whole read.

#include <QSemaphore>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QThreadPool>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <thread>

#include "attnscope/store.h"
#include "capturedocument.h"
#include "jobtracker.h"
#include "knowncapture.h"
#include "maptiles.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

constexpr int kTokens = 600;  // level 0 of the map is read in ceil(600 / 256) = 3 bands

/// Spins until cancelled() or a 10 s timeout; returns whether it saw the cancellation.
bool waitForCancel(const CancelCheck& cancelled) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!cancelled())
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return true;
}

TileRequest wholeLevel0() {
  TileRequest request;
  request.run = "softmax";
  request.hook = CaptureDocument::patternHook(0);
  request.head = 0;
  request.level = 0;
  request.r0 = 0, request.r1 = kTokens, request.c0 = 0, request.c1 = kTokens;
  return request;
}

}  // namespace

class TestJobTracker : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("large.h5"));
    test::writeKnownCapture(m_path, {kTokens, 1, 1});
    m_file = CaptureFile::open(m_path.toStdString());
  }

  void deliversOnlyTheLatestResult() {
    QObject context;
    JobTracker jobs(&context);
    std::atomic<bool> firstSawCancel{false};
    int firstDone = 0, secondDone = 0, failures = 0;
    QSemaphore firstStarted;
    jobs.startJob(
        [&](const CancelCheck& cancelled) {
          firstStarted.release();
          firstSawCancel = waitForCancel(cancelled);
          return 1;
        },
        [&](int) { ++firstDone; }, [&](const QString&) { ++failures; });
    QVERIFY(firstStarted.tryAcquire(1, 10000));
    QVERIFY(jobs.isRunning());
    jobs.startJob([](const CancelCheck& cancelled) { return cancelled() ? -1 : 2; },
                  [&](int value) { secondDone = value; }, [&](const QString&) { ++failures; });
    QTRY_COMPARE_WITH_TIMEOUT(secondDone, 2, 10000);
    QVERIFY(!jobs.isRunning());
    QTRY_VERIFY_WITH_TIMEOUT(firstSawCancel.load(), 10000);
    QVERIFY(QThreadPool::globalInstance()->waitForDone(10000));
    QTest::qWait(50);  // the first job's result has had time to arrive, and must have been dropped
    QCOMPARE(firstDone, 0);
    QCOMPARE(failures, 0);
  }

  void deliversTheLatestError() {
    QObject context;
    JobTracker jobs(&context);
    QString error;
    int done = 0;
    jobs.startJob([](const CancelCheck&) -> int { throw std::runtime_error("tile: no such head"); },
                  [&](int) { ++done; }, [&](const QString& message) { error = message; });
    QTRY_COMPARE_WITH_TIMEOUT(error, QStringLiteral("tile: no such head"), 10000);
    QCOMPARE(done, 0);
    QVERIFY(!jobs.isRunning());
  }

  void supersededBeforeStartingNeverRuns() {
    // Occupy every pool thread, so both jobs wait in the queue; the first is superseded before it starts.
    QThreadPool* pool = QThreadPool::globalInstance();
    const int threads = pool->maxThreadCount();
    auto started = std::make_shared<QSemaphore>(), release = std::make_shared<QSemaphore>();
    for (int i = 0; i < threads; ++i)
      pool->start([started, release] {
        started->release();
        release->acquire();
      });
    QVERIFY(started->tryAcquire(threads, 10000));
    QObject context;
    JobTracker jobs(&context);
    auto firstRan = std::make_shared<std::atomic<int>>(0);
    int secondDone = 0;
    jobs.startJob(
        [firstRan](const CancelCheck&) {
          ++*firstRan;
          return 1;
        },
        [](int) {}, [](const QString&) {});
    jobs.startJob([](const CancelCheck&) { return 2; }, [&](int value) { secondDone = value; },
                  [](const QString&) {});
    release->release(threads);
    QTRY_COMPARE_WITH_TIMEOUT(secondDone, 2, 10000);
    QVERIFY(pool->waitForDone(10000));
    QCOMPARE(firstRan->load(), 0);
  }

  void cancelDropsTheResult() {
    QObject context;
    JobTracker jobs(&context);
    int done = 0;
    QSemaphore started;
    std::atomic<bool> sawCancel{false};
    jobs.startJob(
        [&](const CancelCheck& cancelled) {
          started.release();
          sawCancel = waitForCancel(cancelled);
          return 1;
        },
        [&](int) { ++done; }, [](const QString&) {});
    QVERIFY(started.tryAcquire(1, 10000));
    jobs.cancel();
    QVERIFY(!jobs.isRunning());
    QVERIFY(QThreadPool::globalInstance()->waitForDone(10000));
    QVERIFY(sawCancel.load());
    QTest::qWait(50);
    QCOMPARE(done, 0);
  }

  void destroyedTrackerCancelsItsJob() {
    auto context = std::make_unique<QObject>();
    auto jobs = std::make_unique<JobTracker>(context.get());
    std::atomic<bool> sawCancel{false};
    QSemaphore started, finished;
    int done = 0;
    jobs->startJob(
        [&](const CancelCheck& cancelled) {
          started.release();
          sawCancel = waitForCancel(cancelled);
          finished.release();
          return 1;
        },
        [&](int) { ++done; }, [](const QString&) {});
    QVERIFY(started.tryAcquire(1, 10000));
    jobs.reset();  // as a view's tracker goes with the view
    context.reset();
    QVERIFY(QThreadPool::globalInstance()->waitForDone(10000));
    QVERIFY(finished.tryAcquire(1, 0));
    QVERIFY(sawCancel.load());
    QTest::qWait(50);
    QCOMPARE(done, 0);
  }

  void bandedReadEqualsWholeRead_data() {
    QTest::addColumn<int>("r0");
    QTest::addColumn<int>("r1");
    QTest::addColumn<int>("c0");
    QTest::addColumn<int>("c1");
    QTest::newRow("whole") << 0 << kTokens << 0 << kTokens;
    QTest::newRow("unaligned") << 10 << 300 << 5 << 77;
    QTest::newRow("inside one band") << 70 << 90 << 0 << kTokens;
    QTest::newRow("one row") << 599 << 600 << 0 << kTokens;
  }

  void bandedReadEqualsWholeRead() {
    QFETCH(int, r0);
    QFETCH(int, r1);
    QFETCH(int, c0);
    QFETCH(int, c1);
    TileRequest request = wholeLevel0();
    request.r0 = r0, request.r1 = r1, request.c0 = c0, request.c1 = c1;
    int checks = 0;
    const MapTile banded = readTile(*m_file, request, [&] {
      ++checks;
      return false;
    });
    const MapTile whole = readTile(*m_file, request);
    QCOMPARE(static_cast<int64_t>(whole.values.size()), (r1 - r0) * int64_t{c1 - c0});
    QVERIFY(banded.values == whole.values);
    QCOMPARE(checks, (r1 - 1) / kTileBandRows - r0 / kTileBandRows + 1);  // one check before each band
    const float expected = test::knownMapValue(r0, c0, kTokens);          // stored as float16
    QVERIFY(std::abs(whole.at(r0, c0) - expected) <= 1e-3f * expected);
  }

  void cancelledReadStopsBetweenBands() {
    int checks = 0;
    const MapTile tile = readTile(*m_file, wholeLevel0(), [&] { return ++checks > 2; });
    QVERIFY(tile.empty());
    QCOMPARE(checks, 3);  // two bands of three read, then stopped
    QCOMPARE(tile.request.r1, int64_t{kTokens});
  }

  void supersededTileReadIsCancelled() {
    // The first read pauses before its second band until a second job has superseded it; it must then stop
    // there, and only the second job's tile arrives.
    QObject context;
    JobTracker jobs(&context);
    std::shared_ptr<const CaptureFile> file = m_file;
    QSemaphore paused, resume;
    std::atomic<int> firstBands{0};
    int firstDone = 0;
    MapTile second;
    jobs.startJob(
        [&, file](const CancelCheck& cancelled) {
          return readTile(*file, wholeLevel0(), [&] {
            if (firstBands == 1) {
              paused.release();
              resume.acquire();
            }
            if (cancelled()) return true;
            ++firstBands;
            return false;
          });
        },
        [&](MapTile) { ++firstDone; }, [](const QString&) {});
    QVERIFY(paused.tryAcquire(1, 10000));
    TileRequest small = wholeLevel0();
    small.r1 = 64;
    jobs.startJob([file, small](const CancelCheck& cancelled) { return readTile(*file, small, cancelled); },
                  [&](MapTile tile) { second = std::move(tile); }, [](const QString&) {});
    resume.release();
    QTRY_VERIFY_WITH_TIMEOUT(!second.empty(), 10000);
    QCOMPARE(second.rows(), int64_t{64});
    QVERIFY(QThreadPool::globalInstance()->waitForDone(10000));
    QTest::qWait(50);
    QCOMPARE(firstBands.load(), 1);  // one band of three was read before the read was superseded
    QCOMPARE(firstDone, 0);
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
  std::shared_ptr<const CaptureFile> m_file;
};

QTEST_MAIN(TestJobTracker)
#include "tst_jobtracker.moc"
