// The window around Compare and captures (issue 15): closing during a capture of the bundled random model
// asks first, Keep running keeps both, Stop and close deletes the partial file of a scratch capture (none is
// left in the capture cache) and keeps one written where the user chose only when asked to; at 1280 × 800
// the docks give way to Compare so each of its maps is at least 300 px wide, and come back after.

#include <QAbstractButton>
#include <QCheckBox>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QMessageBox>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSplitter>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>
#include <atomic>

#include "attnscope/store.h"
#include "capturedocument.h"
#include "captureworker.h"
#include "compareview.h"
#include "heatmapwidget.h"
#include "mainwindow.h"
#include "runmodeldialog.h"

using namespace attnscope;
using namespace attnscope::gui;
using namespace attnscope::widgets;

class TestCompareWindow : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // the capture cache is a test directory, not ~/.cache
    QCoreApplication::setApplicationName(QStringLiteral("attnscope-tst_comparewindow"));
    QVERIFY(m_dir.isValid());
  }

  void closingDuringACaptureAsks_data() {
    QTest::addColumn<bool>("scratch");  // written to the capture cache (else where the user chose)
    QTest::addColumn<bool>("keepChecked");
    QTest::addColumn<bool>("fileKept");
    QTest::newRow("scratch file") << true << false << false;
    QTest::newRow("chosen file") << false << false << false;
    QTest::newRow("chosen file, kept") << false << true << true;
  }
  void closingDuringACaptureAsks() {
    QFETCH(bool, scratch);
    QFETCH(bool, keepChecked);
    QFETCH(bool, fileKept);
    const QString model = qEnvironmentVariable("ATTNSCOPE_SAMPLE_MODEL");
    const QDir cache(RunModelDialog::captureCacheDirectory());
    const QStringList cachedBefore = cache.entryList(QDir::Files);
    CaptureRequest request;
    request.model_dir = model.toStdString();
    for (int i = 0; i < 256; ++i) request.prompt.ids.push_back((i * 37 + 11) % 109);
    request.normalizers = {"softmax", "ssmax:s=0.5"};
    request.maps = "all";
    request.out = (scratch ? RunModelDialog::defaultOutput(model)
                           : m_dir.filePath(QStringLiteral("chosen-%1.h5").arg(keepChecked)))
                      .toStdString();
    QVERIFY(QDir().mkpath(QFileInfo(QString::fromStdString(request.out)).absolutePath()));
    const QString out = QString::fromStdString(request.out);

    MainWindow window;
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    CaptureWorker* worker = window.captureWorker();
    // Hold the capture after its first layer (the file exists, the run is incomplete) until the test lets it
    // go: the close happens during the capture, whatever the machine's speed.
    QSemaphore gate;
    std::atomic<bool> held{false};
    connect(
        worker, &CaptureWorker::progressChanged, worker,
        [&](const CaptureProgress& progress) {
          if (!progress.loading && !held.exchange(true)) gate.acquire();
        },
        Qt::DirectConnection);
    QVERIFY(window.runCapture(request, 1));
    QTRY_VERIFY_WITH_TIMEOUT(held, 60000);
    QVERIFY(QFile::exists(out));

    // Keep running: the window and the capture stay.
    QVERIFY(!window.close());
    auto* box = window.findChild<QMessageBox*>(QStringLiteral("stopCaptureBox"));
    QVERIFY(box && box->isVisible());
    QCOMPARE(box->escapeButton()->objectName(), QStringLiteral("keepRunning"));
    QCOMPARE(box->checkBox() != nullptr, !scratch);  // a scratch file is never kept
    box->findChild<QAbstractButton*>(QStringLiteral("keepRunning"))->click();
    QTRY_VERIFY(!window.findChild<QMessageBox*>(QStringLiteral("stopCaptureBox")));
    QVERIFY(window.isVisible());
    QVERIFY(worker->isRunning());
    QVERIFY(!window.isClosingAfterCapture());

    // Stop and close: the capture stops, then the window closes and the partial file goes unless kept.
    QVERIFY(!window.close());
    box = window.findChild<QMessageBox*>(QStringLiteral("stopCaptureBox"));
    QVERIFY(box);
    if (box->checkBox()) box->checkBox()->setChecked(keepChecked);
    box->findChild<QAbstractButton*>(QStringLiteral("stopAndClose"))->click();
    QVERIFY(window.isClosingAfterCapture());
    gate.release();
    QTRY_VERIFY_WITH_TIMEOUT(!window.isVisible(), 60000);
    QVERIFY(!worker->isRunning());
    QCOMPARE(QFile::exists(out), fileKept);
    if (fileKept) {
      const auto file = CaptureFile::open(out.toStdString());
      QCOMPARE(file->runs().size(), std::size_t(1));
      QVERIFY(!file->runs().front().complete);  // the interrupted run, marked incomplete
    }
    QCOMPARE(cache.entryList(QDir::Files), cachedBefore);  // no stray capture in the cache
  }

  // At 1280 × 800 the heads and curve docks give way while Compare is shown; each map is >= 300 px wide.
  void compareMapsAreWideEnoughAt1280x800() {
    const QString capture = qEnvironmentVariable("ATTNSCOPE_BUNDLED_CAPTURE");
    MainWindow window;
    window.resize(1280, 800);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.openFile(capture));
    auto* heads = window.findChild<QDockWidget*>(QStringLiteral("headsDock"));
    auto* curve = window.findChild<QDockWidget*>(QStringLiteral("curveDock"));
    auto* tokens = window.findChild<QDockWidget*>(QStringLiteral("tokensDock"));
    auto* perToken = window.findChild<QDockWidget*>(QStringLiteral("perTokenDock"));
    QVERIFY(heads && curve && tokens && perToken);
    for (QDockWidget* dock : {heads, curve, tokens, perToken}) dock->show();
    tokens->raise();
    // Tabified docks are both visible; the one on top is the one with pixels on screen.
    const auto onTop = [](QDockWidget* dock) { return !dock->visibleRegion().isEmpty(); };
    QTRY_VERIFY(onTop(tokens) && !onTop(perToken));
    window.centralTabs()->setCurrentWidget(window.compareView());
    CompareView* compare = window.compareView();
    QTRY_VERIFY(!heads->isVisible() && !curve->isVisible() && !tokens->isVisible() && !perToken->isVisible());
    QCOMPARE(compare->mapsSplitter()->orientation(), Qt::Horizontal);
    for (HeatmapWidget* map : {compare->runMap(), compare->compareMap(), compare->differenceMap()}) {
      QTRY_VERIFY2(map->width() >= 300, qPrintable(QString::number(map->width())));
      qInfo("map %d x %d px, cells %d x %d px", map->width(), map->height(), map->plot()->axisRect()->width(),
            map->plot()->axisRect()->height());
      QVERIFY2(map->plot()->axisRect()->width() >= 200,  // the cells, beside axis labels and colour scale
               qPrintable(QString::number(map->plot()->axisRect()->width())));
      QVERIFY2(map->plot()->axisRect()->height() >= 200,
               qPrintable(QString::number(map->plot()->axisRect()->height())));
    }
    window.centralTabs()->setCurrentWidget(window.heatmap());
    QTRY_VERIFY(heads->isVisible() && curve->isVisible() && tokens->isVisible() && perToken->isVisible());
    QTRY_VERIFY(onTop(tokens) && !onTop(perToken));  // back as they were
  }

  // A view narrower than three maps but tall enough stacks them, each the full width.
  void narrowTallCompareStacksItsMaps() {
    CaptureDocument document;
    QVERIFY(document.open(qEnvironmentVariable("ATTNSCOPE_BUNDLED_CAPTURE")));
    CompareView view(&document);
    view.resize(700, 1300);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QTRY_COMPARE(view.mapsSplitter()->orientation(), Qt::Vertical);
    for (HeatmapWidget* map : {view.runMap(), view.compareMap(), view.differenceMap()})
      QTRY_VERIFY2(map->width() >= 600 && map->height() >= 200,
                   qPrintable(QStringLiteral("%1 x %2").arg(map->width()).arg(map->height())));
    view.resize(1400, 800);
    QTRY_COMPARE(view.mapsSplitter()->orientation(), Qt::Horizontal);
  }

 private:
  QTemporaryDir m_dir;
};

QTEST_MAIN(TestCompareWindow)
#include "tst_comparewindow.moc"
