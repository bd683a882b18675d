// One key in the heatmap and the tokens view (issue 15): in the main window on the bundled capture of the
// trained models (samples/needle-1024.h5), a mouse click on heatmap cell (q, k) selects query q and key k
// everywhere; the tokens view in key mode then shades each query by its attention to k (the map's column, as
// the file stores it and as the heatmap shows it), a token clicked in key mode is marked on the heatmap, and
// Left/Right on the heatmap step the key in both.

#include <QFile>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTest>
#include <QToolButton>

#include <qcustomplot.h>

#include <cmath>

#include "capturedocument.h"
#include "compareview.h"
#include "heatmapwidget.h"
#include "mainwindow.h"
#include "tokensview.h"

using namespace attnscope;
using namespace attnscope::gui;
using namespace attnscope::widgets;

namespace {

bool waitUntilDrawn(HeatmapWidget* heatmap) {
  QTest::qWait(10);
  for (int i = 0; i < 400 && (heatmap->tile().empty() || heatmap->isLoading()); ++i) QTest::qWait(25);
  return !heatmap->tile().empty() && !heatmap->isLoading();
}

/// Clicks the centre of heatmap cell (query, key), as a user does.
void clickCell(HeatmapWidget* heatmap, int query, int key) {
  QCustomPlot* plot = heatmap->plot();
  const QPoint at(qRound(plot->xAxis->coordToPixel(key)), qRound(plot->yAxis->coordToPixel(query)));
  QTest::mouseClick(plot, Qt::LeftButton, {}, at);
}

/// The map's column of key as the file stores it ([T] queries, level 0).
std::vector<float> storedColumn(const CaptureDocument& document, int key) {
  const Selection& s = document.selection();
  return document.file()->readMapTile(s.run.toStdString(), CaptureDocument::patternHook(s.layer), s.head, 0,
                                      0, document.nTokens(), key, key + 1);
}

}  // namespace

class TestKeyLink : public QObject {
  Q_OBJECT
 private:
  /// Shows the window at 1280 × 760 on the bundled capture, layer 2 head 1 (layer 2 has maps; the needle is
  /// keys 449–492).
  bool openOnLayer2Head1(MainWindow& window) {
    window.resize(1280, 760);
    window.show();
    if (!QTest::qWaitForWindowExposed(&window) || !window.openFile(m_capture)) return false;
    window.document()->setHead(2, 1);
    return true;
  }

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // the window's settings go to a test location
    m_capture = qEnvironmentVariable("ATTNSCOPE_BUNDLED_CAPTURE");
    QVERIFY2(QFile::exists(m_capture), qPrintable(m_capture));
  }

  void compareMapClickChoosesTheTokensViewsKey() {
    MainWindow window;
    QVERIFY(openOnLayer2Head1(window));
    CaptureDocument* document = window.document();
    document->setCompareRun(QStringLiteral("ssmax"));
    window.centralTabs()->setCurrentWidget(window.compareView());
    HeatmapWidget* map = window.compareView()->compareMap();
    QVERIFY(waitUntilDrawn(map));
    map->plot()->xAxis->setRange(439.5, 479.5);
    map->plot()->yAxis->setRange(489.5, 529.5);
    map->plot()->replot();
    QVERIFY(waitUntilDrawn(map));
    clickCell(map, 505, 450);
    QCOMPARE(document->selection().query, 505);
    QCOMPARE(window.tokensView()->key(), 450);
  }

  void heatmapClickChoosesTheTokensViewsKey() {
    MainWindow window;
    QVERIFY(openOnLayer2Head1(window));
    CaptureDocument* document = window.document();
    window.centralTabs()->setCurrentWidget(window.heatmap());
    HeatmapWidget* heatmap = window.heatmap();
    TokensView* tokens = window.tokensView();
    QVERIFY(waitUntilDrawn(heatmap));
    // Zoom to token cells around the needle, so that a click hits one cell.
    heatmap->plot()->xAxis->setRange(439.5, 479.5);
    heatmap->plot()->yAxis->setRange(489.5, 529.5);
    heatmap->plot()->replot();
    QVERIFY(waitUntilDrawn(heatmap));
    QCOMPARE(heatmap->tile().request.level, 0);

    QSignalSpy keys(heatmap, &HeatmapWidget::keySelected);
    clickCell(heatmap, 510, 455);
    QCOMPARE(keys.size(), 1);
    QCOMPARE(document->selection().query, 510);
    QCOMPARE(heatmap->selectedKey(), 455);
    QCOMPARE(tokens->key(), 455);

    // Key mode starts on the clicked key (not on the query) and shades by the map's column of that key.
    QSignalSpy ready(tokens, &TokensView::contentReady);
    tokens->keyModeButton()->click();
    QCOMPARE(tokens->mode(), TokensView::Mode::Key);
    QCOMPARE(tokens->key(), 455);
    QVERIFY(ready.wait(10000));
    std::vector<float> column = storedColumn(*document, 455);
    QCOMPARE(tokens->weights().size(), column.size());
    for (std::size_t q = 0; q < column.size(); ++q) QCOMPARE(tokens->weights()[q], column[q]);
    QVERIFY2(std::abs(tokens->weights()[510] - heatmap->tile().at(510, 455)) < 1e-6,
             "the tokens view and the heatmap show the same attention of query 510 to key 455");
    QVERIFY(tokens->exportTable().header.last().endsWith(QStringLiteral("key 455")));

    // Another click in key mode: query and key move together, the shades follow the new column.
    ready.clear();
    clickCell(heatmap, 520, 470);
    QCOMPARE(document->selection().query, 520);
    QCOMPARE(tokens->key(), 470);
    QVERIFY(ready.wait(10000));
    column = storedColumn(*document, 470);
    for (std::size_t q = 0; q < column.size(); ++q) QCOMPARE(tokens->weights()[q], column[q]);
    QVERIFY(std::abs(tokens->weights()[520] - heatmap->tile().at(520, 470)) < 1e-6);

    // The other way: a token clicked in key mode is the heatmap's key, and the query stays.
    const QRect token = tokens->tokenRect(466);  // near key 470, which the view scrolled to
    QVERIFY(tokens->viewport()->rect().contains(token.center()));
    QTest::mouseClick(tokens->viewport(), Qt::LeftButton, {}, token.center());
    QCOMPARE(tokens->key(), 466);
    QCOMPARE(heatmap->selectedKey(), 466);
    QCOMPARE(document->selection().query, 520);
    // Left/Right on the heatmap step the key, and the tokens view follows.
    heatmap->setFocus();
    QTest::keyClick(heatmap, Qt::Key_Right);
    QCOMPARE(heatmap->selectedKey(), 467);
    QCOMPARE(tokens->key(), 467);
    // A drag is no click: the key stays.
    QTest::mousePress(heatmap->plot(), Qt::LeftButton, {}, QPoint(100, 100));
    QTest::mouseRelease(heatmap->plot(), Qt::LeftButton, {}, QPoint(160, 140));
    QCOMPARE(tokens->key(), 467);
  }

 private:
  QString m_capture;
};

QTEST_MAIN(TestKeyLink)
#include "tst_keylink.moc"
