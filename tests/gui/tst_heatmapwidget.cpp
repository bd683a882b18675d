// HeatmapWidget renders a known capture: the colour at each token cell is the viridis colour of its value
// (linear and log scale), masked cells are hatched grey, tooltips name the tokens, and a map larger than the
// widget is read from a coarser pyramid level and drawn whole, then level 0 once zoomed in. The difference
// overview holds the largest change per block (issue 15 defect 1), scores maps are viewable (defect 7), and
// the keyboard, the clipboard, the marker and the colour-map choice work (defect 15).

#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QSignalSpy>
#include <QStandardPaths>
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

/// Shows widget at size and waits until its first tile is drawn.
bool showAndDraw(HeatmapWidget& widget, QSize size) {
  widget.resize(size);
  widget.show();
  return QTest::qWaitForWindowExposed(&widget) && waitUntilDrawn(widget);
}

/// Largest channel difference between two colours.
int colorDistance(const QColor& a, const QColor& b) {
  return std::max(
      {std::abs(a.red() - b.red()), std::abs(a.green() - b.green()), std::abs(a.blue() - b.blue())});
}

/// The pixel at the centre of a token cell.
QPoint cellCentre(const QCustomPlot* plot, double query, double key) {
  return {qRound(plot->xAxis->coordToPixel(key)), qRound(plot->yAxis->coordToPixel(query))};
}

/// Distinct colours in a small square around p: a hatch has at least two, a flat cell one.
int coloursAround(const QImage& image, QPoint p, int radius = 4) {
  QSet<QRgb> colours;
  for (int dy = -radius; dy <= radius; ++dy)
    for (int dx = -radius; dx <= radius; ++dx) colours.insert(image.pixel(p.x() + dx, p.y() + dy));
  return colours.size();
}

/// Two runs peaking on different keys of one block: at query q ≥ 1, run 0 puts 0.9 on the even key
/// p = 2 ⌊(q − 1) / 2⌋ and run 1 puts 0.99 on p + 1 (the same cell at every pyramid level), 0.001 elsewhere.
/// The largest change in that cell is 0.001 − 0.99 = −0.989; the cells' maxima differ by only 0.09.
float peakedValue(int run, int query, int key) {
  if (key > query) return 0.0f;
  if (query == 0) return 1.0f;
  const int peak = (query - 1) / 2 * 2 + run;
  return key == peak ? (run == 0 ? 0.9f : 0.99f) : 0.001f;
}

/// Whether a colour is near white, or near the marker's dark outline.
bool isWhite(const QColor& c) {
  return c.red() > 225 && c.green() > 225 && c.blue() > 225;
}
bool isDark(const QColor& c) {
  return c.red() < 50 && c.green() < 50 && c.blue() < 50;
}

}  // namespace

class TestHeatmapWidget : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // the colour-map choice is saved in a test location
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
    widget.setSequentialMap(ColorMapName::Viridis);
    widget.setLogScale(log);
    QVERIFY(showAndDraw(widget, {600, 520}));
    QCOMPARE(widget.tile().request.level, 0);
    QCustomPlot* plot = widget.plot();
    plot->replot();
    const QImage image = plot->toPixmap().toImage();
    const int n = 8;
    for (int q = 0; q < n; ++q)
      for (int k = 0; k < n; ++k) {
        if (q == document.selection().query) continue;  // the selected row carries a marker outline
        if (k > q) {  // masked (a future key): hatched grey, never the colour of p = 0
          const QPoint p = cellCentre(plot, q, k);
          QVERIFY2(coloursAround(image, p) >= 2, qPrintable(QStringLiteral("q=%1 k=%2").arg(q).arg(k)));
          QVERIFY(colorDistance(image.pixelColor(p), viridisColor(0)) > 40);
          continue;
        }
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
    const QString masked = widget.describeCell(2, 5);
    QVERIFY2(masked.contains(QStringLiteral("masked")) && !masked.contains(QStringLiteral("p =")),
             qPrintable(masked));
  }

  void largeMapUsesPyramid() {
    CaptureDocument document;
    QVERIFY(document.open(m_large));
    HeatmapWidget widget(&document);
    QVERIFY(showAndDraw(widget, {420, 380}));
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

  // Defect 1: the overview of run − compare run holds each block's largest change, pooled from level 0 (its
  // sign kept), and the colour range is the whole map's, the same after zooming in.
  void differenceOverviewShowsLargestChange() {
    const QString path = m_dir.filePath(QStringLiteral("peaked.h5"));
    test::KnownCaptureOptions options{600, 1, 1};
    options.map_value = [](int, int, int q, int k) { return peakedValue(0, q, k); };
    options.compare_map_value = [](int, int, int q, int k) { return peakedValue(1, q, k); };
    test::writeKnownCapture(path, options);
    CaptureDocument document;
    QVERIFY(document.open(path));
    QCOMPARE(document.selection().compareRun, QStringLiteral("ssmax"));
    HeatmapWidget widget(&document, nullptr, HeatmapRole::Difference);
    QVERIFY(showAndDraw(widget, {420, 380}));
    const MapTile& tile = widget.tile();
    QVERIFY2(tile.request.level >= 1, qPrintable(QString::number(tile.request.level)));
    const int span = static_cast<int>(tile.request.span());
    for (int q = 1; q < 600; q += 7) {
      // Reference from the definition: max |Δ| over the cell's tokens, with its sign.
      const int p = (q - 1) / 2 * 2;
      double expected = 0;
      for (int qq = q / span * span; qq < std::min(600, q / span * span + span); ++qq)
        for (int k = p / span * span; k < p / span * span + span; ++k) {
          const double d = double{peakedValue(0, qq, k)} - double{peakedValue(1, qq, k)};
          if (k <= qq && std::abs(d) > std::abs(expected)) expected = d;
        }
      QVERIFY2(std::abs(tile.at(q, p) - expected) < 2e-3,
               qPrintable(QStringLiteral("q=%1 key=%2 shows %3, expected %4")
                              .arg(q)
                              .arg(p)
                              .arg(tile.at(q, p))
                              .arg(expected)));
      QVERIFY(std::abs(tile.at(q, p)) > 0.9);  // the subtracted block maxima would show −0.09
    }
    const QCPRange whole = widget.colorRange();
    QVERIFY2(std::abs(whole.upper - 0.989) < 2e-3 && std::abs(whole.lower + whole.upper) < 1e-9,
             qPrintable(QStringLiteral("[%1, %2]").arg(whole.lower).arg(whole.upper)));
    QVERIFY2(widget.describeCell(205, 204).contains(QStringLiteral("Δp = -0.989")),
             qPrintable(widget.describeCell(205, 204)));
    // Zoomed to a quiet corner (level 0, only 0.899 and −0.989 changes) the scale keeps the whole map's
    // range.
    widget.plot()->xAxis->setRange(400 - 0.5, 420 - 0.5);
    widget.plot()->yAxis->setRange(300 - 0.5, 320 - 0.5);
    QVERIFY(waitUntilDrawn(widget));
    QCOMPARE(widget.tile().request.level, 0);
    QVERIFY(std::isnan(widget.tile().at(300, 410)));  // masked in both runs
    QCOMPARE(widget.colorRange().lower, whole.lower);
    QCOMPARE(widget.colorRange().upper, whole.upper);
  }

  // Defect 1 on the bundled capture: L2.H0 near query 205, where softmax and SSMax peak on different keys of
  // one 4 × 4 block. Reference (h5py, float64 of the stored fp16 level 0): the block's largest change is
  // −0.9838, the old subtraction of the runs' block maxima gave −0.0073; the whole map's max |Δ| is 0.9976.
  void differenceOverviewOfBundledCapture() {
    const QByteArray path = qgetenv("ATTNSCOPE_BUNDLED_CAPTURE");
    if (path.isEmpty()) QSKIP("ATTNSCOPE_BUNDLED_CAPTURE is not set");
    CaptureDocument document;
    QVERIFY(document.open(QString::fromLocal8Bit(path)));
    Selection selection = document.selection();
    selection.run = QStringLiteral("softmax");
    selection.compareRun = QStringLiteral("ssmax");
    selection.layer = 2;
    selection.head = 0;
    document.setSelection(selection);
    HeatmapWidget widget(&document, nullptr, HeatmapRole::Difference);
    QVERIFY(showAndDraw(widget, {420, 380}));
    QCOMPARE(widget.tile().request.level, 2);
    QVERIFY2(std::abs(widget.tile().at(205, 205) - (-0.9838)) < 1e-3,
             qPrintable(QString::number(widget.tile().at(205, 205))));
    QVERIFY(std::abs(widget.colorRange().upper - 0.9976) < 1e-3);
  }

  // Defect 7: scores maps are offered where captured, drawn on the chosen scale with masked scores hatched.
  void scoresMapIsViewable() {
    const QString path = m_dir.filePath(QStringLiteral("scores.h5"));
    test::KnownCaptureOptions options;
    options.scores = true;
    test::writeKnownCapture(path, options);
    CaptureDocument document;
    QVERIFY(document.open(path));
    HeatmapWidget widget(&document);
    widget.setSequentialMap(ColorMapName::Viridis);
    QVERIFY(showAndDraw(widget, {600, 520}));
    auto* kinds = widget.findChild<QComboBox*>();
    QVERIFY(kinds && kinds->isVisible());
    widget.setMapKind(MapKind::Scores);
    QVERIFY(waitUntilDrawn(widget));
    QCOMPARE(widget.tile().request.hook, std::string("blocks.0.attn.hook_scores"));
    QCOMPARE(widget.tile().at(5, 2), test::knownScoreValue(5, 2));
    QVERIFY(std::isnan(widget.tile().at(2, 5)));
    QVERIFY2(widget.describeCell(5, 2).contains(QStringLiteral("score = 0.5")),
             qPrintable(widget.describeCell(5, 2)));
    // The range is the finite scores': [2 − 7/2, 2].
    QCOMPARE(widget.colorRange().lower, -1.5);
    QCOMPARE(widget.colorRange().upper, 2.0);
    widget.plot()->replot();
    const QImage image = widget.plot()->toPixmap().toImage();
    const QColor expected = viridisColor((0.5 + 1.5) / 3.5);
    QVERIFY(colorDistance(image.pixelColor(cellCentre(widget.plot(), 5, 2)), expected) <= 6);
    QVERIFY(coloursAround(image, cellCentre(widget.plot(), 2, 5)) >= 2);  // −inf: masked, hatched

    // A capture of scores only (--maps scores:all) opens on them.
    const QString only = m_dir.filePath(QStringLiteral("scores-only.h5"));
    options.patterns = false;
    test::writeKnownCapture(only, options);
    CaptureDocument scoresOnly;
    QVERIFY(scoresOnly.open(only));
    HeatmapWidget shown(&scoresOnly);
    QVERIFY(showAndDraw(shown, {500, 400}));
    QCOMPARE(shown.mapKind(), MapKind::Scores);
    QCOMPARE(shown.tile().at(5, 2), test::knownScoreValue(5, 2));
  }

  // Defect 15: the selected query's marker is at least 2 px of light between dark edges, on any colour.
  void queryMarkerIsVisible() {
    CaptureDocument document;
    QVERIFY(document.open(m_small));
    document.setQuery(3);
    HeatmapWidget widget(&document);
    widget.resize(600, 520);
    widget.show();
    QVERIFY(waitUntilDrawn(widget));
    QCustomPlot* plot = widget.plot();
    plot->replot();
    const QImage image = plot->toPixmap().toImage();
    const int x = qRound(plot->xAxis->coordToPixel(1));
    int white = 0, dark = 0;
    for (int y = qRound(plot->yAxis->coordToPixel(2)); y <= qRound(plot->yAxis->coordToPixel(3)); ++y) {
      white += isWhite(image.pixelColor(x, y));
      dark += isDark(image.pixelColor(x, y));
    }
    QVERIFY2(white >= 2 && dark >= 2,
             qPrintable(QStringLiteral("%1 white, %2 dark px").arg(white).arg(dark)));
  }

  // Defect 15: Up/Down step the query, Left/Right the key, +/− zoom, Ctrl+C copies the row as TSV.
  void keyboardAndClipboard() {
    CaptureDocument document;
    QVERIFY(document.open(m_large));
    HeatmapWidget widget(&document);
    QVERIFY(showAndDraw(widget, {500, 400}));
    widget.setFocus();
    QCOMPARE(document.selection().query, 599);
    QTest::keyClick(&widget, Qt::Key_Up);
    QTest::keyClick(&widget, Qt::Key_Up);
    QCOMPARE(document.selection().query, 597);
    QTest::keyClick(&widget, Qt::Key_Down);
    QCOMPARE(document.selection().query, 598);
    QTest::keyClick(&widget, Qt::Key_Left);  // the first step starts on the diagonal
    QTest::keyClick(&widget, Qt::Key_Left);
    QCOMPARE(widget.selectedKey(), 597);
    QTest::keyClick(&widget, Qt::Key_Right);
    QCOMPARE(widget.selectedKey(), 598);
    const double before = widget.plot()->xAxis->range().size();
    QTest::keyClick(&widget, Qt::Key_Plus);
    QVERIFY(std::abs(widget.plot()->xAxis->range().size() - before / 2) < 1e-6);
    QTest::keyClick(&widget, Qt::Key_Minus);
    QVERIFY(std::abs(widget.plot()->xAxis->range().size() - before) < 1e-6);
    // Zoomed to keys 590–599: Ctrl+C copies query 598's row over them, at level 0, masked key 599 named.
    widget.plot()->xAxis->setRange(590 - 0.5, 600 - 0.5);
    widget.plot()->yAxis->setRange(590 - 0.5, 600 - 0.5);
    QVERIFY(waitUntilDrawn(widget));
    QApplication::clipboard()->clear();
    QTest::keySequence(&widget, QKeySequence::Copy);
    const QString text = QApplication::clipboard()->text();
    QCOMPARE(text, widget.selectedRowTsv());
    const QStringList lines = text.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 11);  // header and keys 590..599
    QVERIFY2(lines[0].startsWith(QStringLiteral("query\tkey\tkey_token\tp")), qPrintable(lines[0]));
    const QStringList first = lines[1].split(QLatin1Char('\t'));
    QCOMPARE(first[0], QStringLiteral("598"));
    QCOMPARE(first[1], QStringLiteral("590"));
    QCOMPARE(first[2], document.displayToken(590));
    QVERIFY(std::abs(first[3].toDouble() - test::knownMapValue(598, 590, 600)) < 1e-3);
    QVERIFY(lines[10].endsWith(QStringLiteral("\tmasked")));  // key 599 > query 598
  }

  // Issue 15: a colour-map choice (saved for the next widget) and a clipping range for the scale.
  void colourMapAndClipping() {
    CaptureDocument document;
    QVERIFY(document.open(m_small));
    HeatmapWidget widget(&document);
    widget.setSequentialMap(ColorMapName::Magma);
    widget.resize(600, 520);
    widget.show();
    QVERIFY(waitUntilDrawn(widget));
    QCOMPARE(savedColorMap(), ColorMapName::Magma);
    HeatmapWidget next(&document);
    QCOMPARE(next.sequentialMap(), ColorMapName::Magma);
    next.setSequentialMap(ColorMapName::Greys);  // every open map follows the choice
    QCOMPARE(widget.sequentialMap(), ColorMapName::Greys);
    QCOMPARE(savedColorMap(), ColorMapName::Greys);
    widget.setSequentialMap(ColorMapName::Magma);
    QCustomPlot* plot = widget.plot();
    plot->replot();
    QImage image = plot->toPixmap().toImage();
    QVERIFY(colorDistance(image.pixelColor(cellCentre(plot, 5, 2)),
                          sequentialColor(ColorMapName::Magma, test::knownMapValue(5, 2, 8))) <= 6);
    widget.setClipRange(0.2, 0.4);
    QCOMPARE(widget.colorRange().lower, 0.2);
    QCOMPARE(widget.colorRange().upper, 0.4);
    plot->replot();
    image = plot->toPixmap().toImage();
    // p = 0.5 is above the clip: the top colour; p = 0.3 is halfway.
    QVERIFY(colorDistance(image.pixelColor(cellCentre(plot, 5, 2)),
                          sequentialColor(ColorMapName::Magma, 1)) <= 6);
    QVERIFY(colorDistance(image.pixelColor(cellCentre(plot, 3, 1)),
                          sequentialColor(ColorMapName::Magma, (test::knownMapValue(3, 1, 8) - 0.2) / 0.2)) <=
            6);
    widget.setSequentialMap(ColorMapName::Viridis);
  }

  // Defect 4: a cancelled run's layers never computed say so instead of drawing all-dark maps; a partly
  // computed layer draws its computed queries and greys the rest.
  void incompleteRunShowsNotComputed() {
    const QString path = m_dir.filePath(QStringLiteral("cancelled.h5"));
    test::KnownCaptureOptions options{8, 3, 2};
    options.computed_layers = 1;
    options.partial_queries = 4;
    test::writeKnownCapture(path, options);
    CaptureDocument document;
    QVERIFY(document.open(path));
    QVERIFY(!document.runInfo(QStringLiteral("ssmax"))->complete);
    QCOMPARE(document.computedQueries(QStringLiteral("ssmax"), 0), 8);
    QCOMPARE(document.computedQueries(QStringLiteral("ssmax"), 1), 4);
    QCOMPARE(document.computedQueries(QStringLiteral("ssmax"), 2), 0);
    document.setRun(QStringLiteral("ssmax"));
    document.setHead(2, 1);
    HeatmapWidget widget(&document);
    widget.resize(600, 520);
    widget.show();
    QVERIFY(QTest::qWaitForWindowExposed(&widget));
    QTest::qWait(200);
    QVERIFY(widget.tile().empty());
    QVERIFY(!widget.colorMap()->visible());
    QVERIFY2(widget.message().contains(QStringLiteral("Layer 2 of run ssmax was not computed")),
             qPrintable(widget.message()));
    // The Difference view of the layer refuses too.
    HeatmapWidget difference(&document, nullptr, HeatmapRole::Difference);
    document.setCompareRun(QStringLiteral("softmax"));
    QTest::qWait(200);
    QVERIFY(difference.tile().empty());
    QVERIFY2(difference.message().contains(QStringLiteral("not computed")), qPrintable(difference.message()));
    document.setHead(1, 1);
    QVERIFY(waitUntilDrawn(widget));
    QVERIFY(std::abs(widget.tile().at(3, 1) - test::knownMapValue(3, 1, 8)) < 1e-3);  // stored as fp16
    QVERIFY(std::isnan(widget.tile().at(6, 1)));
    QVERIFY2(widget.describeCell(6, 1).contains(QStringLiteral("not computed")),
             qPrintable(widget.describeCell(6, 1)));
    widget.plot()->replot();
    const QImage image = widget.plot()->toPixmap().toImage();
    QVERIFY(colorDistance(image.pixelColor(cellCentre(widget.plot(), 6, 1)), QColor(128, 128, 128)) <= 4);
  }

 private:
  QTemporaryDir m_dir;
  QString m_small, m_large;
};

QTEST_MAIN(TestHeatmapWidget)
#include "tst_heatmapwidget.moc"
