// The run's --targets ranges (the needle) marked on the heatmap's key and query axes (issue 15): rendered
// offscreen, the band's pixels sit exactly under the target keys and beside the target queries and nowhere
// else, a one-token-wide target still shows on a map of hundreds of tokens, a run without targets has no
// band, the legend and the tooltip name the mark, and the PNG export draws it too.

#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include "capturedocument.h"
#include "colormaps.h"
#include "heatmapwidget.h"
#include "knowncapture.h"
#include "plotexport.h"
#include "targetbands.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

/// Shows widget at size and waits until a tile is on screen and no further read is pending.
bool showAndDraw(HeatmapWidget& widget, QSize size) {
  widget.resize(size);
  widget.show();
  if (!QTest::qWaitForWindowExposed(&widget)) return false;
  QTest::qWait(10);
  for (int i = 0; i < 400 && (widget.tile().empty() || widget.isLoading()); ++i) QTest::qWait(25);
  return !widget.tile().empty() && !widget.isLoading();
}

/// The pixel columns [first, last] that tokens [begin, end) cover on axis (cells span t ± 0.5).
std::pair<int, int> cellPixels(const QCPAxis* axis, double begin, double end) {
  const double a = axis->coordToPixel(begin - 0.5), b = axis->coordToPixel(end - 0.5);
  return {qRound(std::min(a, b)), qRound(std::max(a, b)) - 1};
}

/// The image of the plot as drawn now, with every pixel of the target colour outside `allowed` counted.
int strayTargetPixels(const QImage& image, const QList<QRect>& allowed) {
  int stray = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x)
      if (image.pixelColor(x, y) == targetColor() &&
          std::none_of(allowed.begin(), allowed.end(), [&](const QRect& r) { return r.contains(x, y); }))
        ++stray;
  return stray;
}

}  // namespace

class TestTargetBands : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    saveColorMap(ColorMapName::Viridis);
    QVERIFY(m_dir.isValid());
    m_small = m_dir.filePath(QStringLiteral("small.h5"));  // run softmax: targets [2, 4) of 12 tokens
    test::KnownCaptureOptions small;
    small.n_tokens = 12;
    small.targets = {{2, 4}, {7, 8}};
    test::writeKnownCapture(m_small, small);
    m_large = m_dir.filePath(QStringLiteral("large.h5"));  // 600 tokens, a one-token target at 300
    test::KnownCaptureOptions large;
    large.n_tokens = 600;
    large.n_layer = 1;
    large.n_head = 1;
    large.targets = {{300, 301}};
    test::writeKnownCapture(m_large, large);
  }

  void bandsSitAtTheTargetsAndNowhereElse() {
    CaptureDocument document;
    QVERIFY(document.open(m_small));
    document.setRun(QStringLiteral("softmax"));
    HeatmapWidget widget(&document);
    QVERIFY(showAndDraw(widget, {640, 560}));
    QCustomPlot* plot = widget.plot();
    plot->replot();
    const QImage image = plot->toPixmap().toImage();
    const QRect area = plot->axisRect()->rect();
    const TargetBands* bands = widget.targetBands();
    QCOMPARE(static_cast<int>(bands->keyBands().size()), 2);
    QCOMPARE(static_cast<int>(bands->queryBands().size()), 2);

    // Along the bottom edge, a row inside the band: target colour exactly over the cells of keys 2–3 and 7.
    const int row = area.bottom() - 2;
    const auto [k2, k3] = cellPixels(plot->xAxis, 2, 4);
    const auto [k7, k7end] = cellPixels(plot->xAxis, 7, 8);
    for (int x = area.left() + 8; x < area.right(); ++x) {  // past the query band in the corner
      const bool inTarget = (x >= k2 && x <= k3) || (x >= k7 && x <= k7end);
      QVERIFY2(
          (image.pixelColor(x, row) == targetColor()) == inTarget,
          qPrintable(
              QStringLiteral("x=%1 keys [%2, %3] and [%4, %5]").arg(x).arg(k2).arg(k3).arg(k7).arg(k7end)));
    }
    // Along the left edge, a column inside the band: beside the rows of queries 2–3 and 7.
    const int column = area.left() + 2;
    const auto [q2, q3] = cellPixels(plot->yAxis, 2, 4);
    const auto [q7, q7end] = cellPixels(plot->yAxis, 7, 8);
    for (int y = area.top(); y < area.bottom() - 8; ++y) {
      const bool inTarget = (y >= q2 && y <= q3) || (y >= q7 && y <= q7end);
      QVERIFY2((image.pixelColor(column, y) == targetColor()) == inTarget,
               qPrintable(QStringLiteral("y=%1 queries [%2, %3]").arg(y).arg(q2).arg(q3)));
    }
    // Nowhere else: no other pixel of the image has the target colour, but the legend's sample.
    QVERIFY(!bands->legendBox().isEmpty());
    QList<QRect> allowed{bands->legendBox()};
    for (const QRect& r : bands->keyBands()) allowed << r;
    for (const QRect& r : bands->queryBands()) allowed << r;
    QCOMPARE(strayTargetPixels(image, allowed), 0);
    QVERIFY(strayTargetPixels(image, {}) > 0);

    // The tooltip names the mark.
    QVERIFY(widget.describeCell(9, 3).contains(QStringLiteral("key in the target")));
    QVERIFY(widget.describeCell(3, 1).contains(QStringLiteral("query in the target")));
    QVERIFY(!widget.describeCell(9, 5).contains(QStringLiteral("target")));

    // The export draws the bands too.
    const QString png = m_dir.filePath(QStringLiteral("heatmap.png"));
    ExportOptions options;
    options.width = 500, options.height = 420, options.scale = 1;
    QString error;
    QVERIFY2(exportSource(widget, png, options, &error), qPrintable(error));
    QVERIFY(strayTargetPixels(QImage(png).convertToFormat(QImage::Format_RGB32), {}) > 2 * 6 * 3);

    // A run without targets has no band.
    document.setRun(QStringLiteral("ssmax"));
    QVERIFY(showAndDraw(widget, {640, 560}));
    plot->replot();
    QCOMPARE(strayTargetPixels(plot->toPixmap().toImage(), {}), 0);
    QVERIFY(bands->keyBands().empty());
  }

  void oneTokenShowsAtEveryZoom() {
    CaptureDocument document;
    QVERIFY(document.open(m_large));
    document.setRun(QStringLiteral("softmax"));
    HeatmapWidget widget(&document);
    QVERIFY(showAndDraw(widget, {520, 460}));
    QCustomPlot* plot = widget.plot();
    QVERIFY(plot->axisRect()->width() < 600);  // less than a pixel per token
    plot->replot();
    QImage image = plot->toPixmap().toImage();
    const TargetBands* bands = widget.targetBands();
    QCOMPARE(static_cast<int>(bands->keyBands().size()), 1);
    const QRect band = bands->keyBands().front();
    QVERIFY2(band.width() >= 4, qPrintable(QString::number(band.width())));
    const double centre = plot->xAxis->coordToPixel(300);
    QVERIFY2(std::abs(band.center().x() - centre) <= 2, qPrintable(QString::number(band.center().x())));
    QCOMPARE(image.pixelColor(band.center().x(), plot->axisRect()->rect().bottom() - 2), targetColor());
    QCOMPARE(image.pixelColor(plot->axisRect()->rect().left() + 2, bands->queryBands().front().center().y()),
             targetColor());

    // Zoomed in to single tokens: exactly the target's cell again.
    plot->xAxis->setRange(289.5, 309.5);
    plot->yAxis->setRange(289.5, 309.5);
    for (int i = 0; i < 400 && widget.isLoading(); ++i) QTest::qWait(25);
    plot->replot();
    image = plot->toPixmap().toImage();
    const auto [first, last] = cellPixels(plot->xAxis, 300, 301);
    const QRect zoomed = bands->keyBands().front();
    QCOMPARE(zoomed.left(), first);
    QCOMPARE(zoomed.right(), last);
    QCOMPARE(image.pixelColor((first + last) / 2, plot->axisRect()->rect().bottom() - 2), targetColor());
    // Zoomed away from it: no band.
    plot->xAxis->setRange(0 - 0.5, 20 - 0.5);
    plot->yAxis->setRange(0 - 0.5, 20 - 0.5);
    plot->replot();
    QVERIFY(bands->keyBands().empty() && bands->queryBands().empty());
  }

 private:
  QTemporaryDir m_dir;
  QString m_small, m_large;
};

QTEST_MAIN(TestTargetBands)
#include "tst_targetbands.moc"
