// HeatmapWidget renders a known capture: the colour at each token cell is the viridis colour of its value
// (linear and log scale), tooltips name the tokens, and a map larger than the widget is read from a coarser
// pyramid level and drawn whole, then level 0 once zoomed in.

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include <cmath>

#include "capturedocument.h"
#include "colormaps.h"
#include "heatmapwidget.h"
#include "knowncapture.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

/// Waits until a tile is on screen and no further read is pending (reads run on a thread pool).
bool waitUntilDrawn(HeatmapWidget& widget) {
  QTest::qWait(10);
  for (int i = 0; i < 400 && (widget.tile().empty() || widget.isLoading()); ++i) QTest::qWait(25);
  return !widget.tile().empty() && !widget.isLoading();
}

/// Largest channel difference between two colours.
int colorDistance(const QColor& a, const QColor& b) {
  return std::max(
      {std::abs(a.red() - b.red()), std::abs(a.green() - b.green()), std::abs(a.blue() - b.blue())});
}

}  // namespace

class TestHeatmapWidget : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_small = m_dir.filePath(QStringLiteral("small.h5"));
    test::writeKnownCapture(m_small);
    m_large = m_dir.filePath(QStringLiteral("large.h5"));
    test::writeKnownCapture(m_large, {600, 1, 1});
  }

  void cellColours_data() {
    QTest::addColumn<bool>("log");
    QTest::newRow("linear") << false;
    QTest::newRow("log") << true;
  }

  void cellColours() {
    QFETCH(bool, log);
    CaptureDocument document;
    QVERIFY(document.open(m_small));
    HeatmapWidget widget(&document);
    widget.setLogScale(log);
    widget.resize(600, 520);
    widget.show();
    QVERIFY(QTest::qWaitForWindowExposed(&widget));
    QVERIFY(waitUntilDrawn(widget));
    QCOMPARE(widget.tile().request.level, 0);
    QCustomPlot* plot = widget.plot();
    plot->replot();
    const QImage image = plot->toPixmap().toImage();
    const int n = 8;
    for (int q = 0; q < n; ++q)
      for (int k = 0; k < n; ++k) {
        if (q == document.selection().query) continue;  // the selected row carries a marker outline
        const double value = test::knownMapValue(q, k, n);
        const double t = log ? std::log(std::max(value, 1e-4) / 1e-4) / std::log(1e4) : value;
        const QColor expected = viridisColor(t);
        const int x = qRound(plot->xAxis->coordToPixel(k)), y = qRound(plot->yAxis->coordToPixel(q));
        const QColor actual = image.pixelColor(x, y);
        QVERIFY2(colorDistance(actual, expected) <= 6,
                 qPrintable(QStringLiteral("cell q=%1 k=%2 value %3: pixel %4 expected %5")
                                .arg(q)
                                .arg(k)
                                .arg(value)
                                .arg(actual.name(), expected.name())));
      }
    // Query 0 is the top row (the y axis runs downwards like a matrix).
    QVERIFY(plot->yAxis->coordToPixel(0) < plot->yAxis->coordToPixel(7));
  }

  void tooltipNamesTokens() {
    CaptureDocument document;
    QVERIFY(document.open(m_small));
    HeatmapWidget widget(&document);
    widget.resize(500, 400);
    widget.show();
    QVERIFY(waitUntilDrawn(widget));
    const QString text = widget.describeCell(5, 2);
    QVERIFY2(text.contains(QStringLiteral("query 5")) && text.contains(QStringLiteral("␣mat")),
             qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("key 2")) && text.contains(QStringLiteral("␣sat")),
             qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("p = 0.5")), qPrintable(text));  // (5 + 2) / 14
  }

  void largeMapUsesPyramid() {
    CaptureDocument document;
    QVERIFY(document.open(m_large));
    HeatmapWidget widget(&document);
    widget.resize(420, 380);
    widget.show();
    QVERIFY(QTest::qWaitForWindowExposed(&widget));
    QVERIFY(waitUntilDrawn(widget));
    const TileRequest whole = widget.tile().request;
    QVERIFY2(whole.level >= 1, qPrintable(QString::number(whole.level)));
    const TokenWindow covered = whole.tokens(600);
    QCOMPARE(covered.q0, 0);
    QCOMPARE(covered.q1, 600);
    QCOMPARE(covered.k1, 600);
    // The pooled cell holding (599, 0) is the largest value of its block, at its last key.
    const int span = static_cast<int>(whole.span());
    QVERIFY(std::abs(widget.tile().at(599, 0) - test::knownMapValue(599, span - 1, 600)) < 1e-3);

    widget.plot()->xAxis->setRange(100 - 0.5, 120 - 0.5);
    widget.plot()->yAxis->setRange(300 - 0.5, 320 - 0.5);
    QVERIFY(waitUntilDrawn(widget));
    QCOMPARE(widget.tile().request.level, 0);
    QVERIFY(std::abs(widget.tile().at(310, 110) - test::knownMapValue(310, 110, 600)) < 1e-3);
    QVERIFY(widget.tile().values.size() < 600u * 600u / 4);  // only the neighbourhood of the view
  }

  void switchingHeadsReadsTheNewHead() {
    CaptureDocument document;
    HeatmapWidget widget(&document);
    widget.resize(500, 400);
    QVERIFY(document.open(m_small));
    QVERIFY(waitUntilDrawn(widget));
    document.setHead(1, 2);
    QVERIFY(widget.tile().empty());  // the previous head's tile is never shown for the new head
    QVERIFY(waitUntilDrawn(widget));
    QCOMPARE(widget.tile().request.head, 2);
    QCOMPARE(widget.tile().request.hook, std::string("blocks.1.attn.hook_pattern"));
  }

 private:
  QTemporaryDir m_dir;
  QString m_small, m_large;
};

QTEST_MAIN(TestHeatmapWidget)
#include "tst_heatmapwidget.moc"
