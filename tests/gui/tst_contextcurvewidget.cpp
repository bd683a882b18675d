// ContextCurveWidget on a known capture: one median line and a q10–q90 band per run, one point per occupied
// log-n bin, theory curves only for max attention, runs without the statistic reported, CSV of the series;
// without a file, an empty frame with clean log-2 ticks. Sparse bins (issue 15, defect 5) drawn dashed and
// hollow or hidden, with counts in tooltips; title and legend that fit a narrow dock and exports (defect 6).

#include <QFontMetrics>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include <cmath>

#include "capturedocument.h"
#include "contextcurvewidget.h"
#include "knowncapture.h"
#include "plotfitting.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

void checkTicksAreDistinctPowersOfTwo(const QCPAxis* axis) {
  const QVector<double> ticks = axis->tickVector();
  const QVector<QString> labels = axis->tickVectorLabels();
  QStringList shown;
  for (const QString& label : labels) shown << label;
  QVERIFY2(!ticks.isEmpty(), "no ticks");
  QCOMPARE(QSet<QString>(labels.begin(), labels.end()).size(), labels.size());
  for (double tick : ticks) {
    const double exponent = std::log2(tick);
    QVERIFY2(std::abs(exponent - std::round(exponent)) < 1e-9, qPrintable(shown.join(QLatin1Char(' '))));
  }
}

}  // namespace

class TestContextCurveWidget : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("known.h5"));
    test::writeKnownCapture(m_path);
  }

  void graphs_data() {
    QTest::addColumn<QString>("stat");
    QTest::addColumn<int>("scope");
    QTest::addColumn<int>("expectedGraphs");
    // n = 1..8 with two bins per octave occupies bins floor(2 log2 n) = 0, 2, 3, 4, 5, 6: six points.
    // Max attention: 2 runs × (median + two band edges) + softmax theory + SSMax theory (s = 0.5).
    QTest::newRow("max, head") << "max_prob" << int(CurveScope::Head) << 8;
    QTest::newRow("max, layer") << "max_prob" << int(CurveScope::Layer) << 8;
    QTest::newRow("max, all layers") << "max_prob" << int(CurveScope::AllLayers) << 8;
    QTest::newRow("entropy") << "entropy" << int(CurveScope::Head) << 6;
    QTest::newRow("target mass (softmax run only)") << "target_mass" << int(CurveScope::Head) << 3;
  }

  void graphs() {
    QFETCH(QString, stat);
    QFETCH(int, scope);
    QFETCH(int, expectedGraphs);
    CaptureDocument document;
    ContextCurveWidget widget(&document);
    widget.resize(700, 450);
    QSignalSpy ready(&widget, &ContextCurveWidget::contentReady);
    widget.setStat(stat);
    widget.setScope(static_cast<CurveScope>(scope));
    widget.setMinBinQueries(1);  // every bin dense: one line and band per run (sparse bins: below)
    QVERIFY(document.open(m_path));
    QVERIFY(ready.wait(10000));
    QCustomPlot* plot = widget.plot();
    QCOMPARE(plot->graphCount(), expectedGraphs);
    const int runs = static_cast<int>(widget.curves().curves.size());
    QCOMPARE(runs, stat == QLatin1String("target_mass") ? 1 : 2);
    // Target mass leaves out queries 0 and 1, which cannot see the target tokens 2..3 (defect 13): no bins of
    // n = 1 and n = 2.
    const int points = stat == QLatin1String("target_mass") ? 4 : 6;
    for (int i = 0; i < runs * 3; ++i) QCOMPARE(plot->graph(i)->data()->size(), points);
    QCOMPARE(plot->xAxis->scaleType(), QCPAxis::stLogarithmic);
    if (stat == QLatin1String("target_mass")) QCOMPARE(widget.curves().missing, QStringList{"ssmax"});

    // The median of the head's last bin (n = 8) is its known value at query 7.
    if (stat == QLatin1String("max_prob") && scope == int(CurveScope::Head)) {
      const QCPGraph* median = plot->graph(2);
      const double last = (median->data()->constEnd() - 1)->value;
      QVERIFY(std::abs(last - test::knownStatValue(0, "max_prob", 0, 0, 7)) < 1e-5);
      const CsvTable table = widget.exportTable();
      QCOMPARE(table.rows.size(), 12);  // 2 runs × 6 bins
      QCOMPARE(table.header.value(9), QStringLiteral("median"));
    }
  }

  void followsSelectedHead() {
    CaptureDocument document;
    ContextCurveWidget widget(&document);
    widget.setMinBinQueries(1);
    QSignalSpy ready(&widget, &ContextCurveWidget::contentReady);
    QVERIFY(document.open(m_path));
    QVERIFY(ready.wait(10000));
    ready.clear();
    document.setHead(1, 2);
    QVERIFY(ready.wait(10000));
    QCOMPARE(widget.curves().request.layer, 1);
    QCOMPARE(widget.curves().request.head, 2);
    const double last = (widget.plot()->graph(2)->data()->constEnd() - 1)->value;
    QVERIFY(std::abs(last - test::knownStatValue(0, "max_prob", 1, 2, 7)) < 1e-5);
  }

  void emptyStateIsClean_data() {
    QTest::addColumn<QString>("stat");
    QTest::addColumn<int>("n_tokens");  // of a capture opened and closed again; 0: none opened
    QTest::newRow("no file") << "max_prob" << 0;
    QTest::newRow("no file, entropy") << "entropy" << 0;
    QTest::newRow("file closed") << "max_prob" << 8;
  }

  // Without a file the plot is an empty frame with readable axes: log-2 ticks at distinct powers of two (the
  // log ticker falls back to linear ticks printed without decimals, "1 1 2 2", when the range spans less than
  // 1.6 octaves) and a message in the title.
  void emptyStateIsClean() {
    QFETCH(QString, stat);
    QFETCH(int, n_tokens);
    CaptureDocument document;
    ContextCurveWidget widget(&document);
    widget.setStat(stat);
    widget.resize(700, 450);
    widget.show();
    QVERIFY(QTest::qWaitForWindowExposed(&widget));
    if (n_tokens > 0) {
      const QString path = m_dir.filePath(QStringLiteral("closed-%1.h5").arg(n_tokens));
      test::writeKnownCapture(path, {n_tokens, 2, 3});
      QSignalSpy ready(&widget, &ContextCurveWidget::contentReady);
      QVERIFY(document.open(path));
      QVERIFY(ready.wait(10000));
      document.close();
    }
    QCustomPlot* plot = widget.plot();
    plot->replot(QCustomPlot::rpImmediateRefresh);
    QCOMPARE(plot->graphCount(), 0);
    checkTicksAreDistinctPowersOfTwo(plot->xAxis);
    QVERIFY(plot->xAxis->tickVector().size() >= 4);
    QCOMPARE(plot->yAxis->range().lower, 0.0);
    const QVector<QString> yLabels = plot->yAxis->tickVectorLabels();
    QCOMPARE(QSet<QString>(yLabels.begin(), yLabels.end()).size(), yLabels.size());
    const auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0));
    QVERIFY(title);
    QVERIFY2(title->text().startsWith(QStringLiteral("Open a capture file")), qPrintable(title->text()));
  }

  // A capture of a few tokens spans under 1.6 octaves of n, yet its axis still reads 1, 2, 4, ...
  void shortCaptureHasLogTicks() {
    const QString path = m_dir.filePath(QStringLiteral("short.h5"));
    test::writeKnownCapture(path, {3, 1, 1, {}, {}, {{1, 2}}});
    CaptureDocument document;
    ContextCurveWidget widget(&document);
    widget.resize(700, 450);
    widget.show();
    QVERIFY(QTest::qWaitForWindowExposed(&widget));
    QSignalSpy ready(&widget, &ContextCurveWidget::contentReady);
    QVERIFY(document.open(path));
    QVERIFY(ready.wait(10000));
    widget.plot()->replot(QCustomPlot::rpImmediateRefresh);
    QVERIFY(widget.plot()->graphCount() > 0);
    checkTicksAreDistinctPowersOfTwo(widget.plot()->xAxis);

    // Zoomed under 1.6 octaves the ticks are linear (2, 2.2, 2.4, ...): they keep their decimals.
    widget.plot()->xAxis->setRange(2, 3);
    widget.plot()->replot(QCustomPlot::rpImmediateRefresh);
    const QVector<QString> labels = widget.plot()->xAxis->tickVectorLabels();
    QVERIFY(labels.size() >= 3);
    QCOMPARE(QSet<QString>(labels.begin(), labels.end()).size(), labels.size());
  }

  // Defect 5: a bin of one query was drawn like the others, a false cliff at the long end. The known
  // capture's bins hold 1, 1, 1, 2, 2, 1 queries (n = 1, 2, 3, 4–5, 6–7, 8).
  void sparseBinsAreDrawnDistinctly() {
    CaptureDocument document;
    ContextCurveWidget widget(&document);
    widget.setTheoryVisible(false);
    widget.resize(700, 450);
    widget.show();
    QVERIFY(QTest::qWaitForWindowExposed(&widget));
    QSignalSpy ready(&widget, &ContextCurveWidget::contentReady);
    QVERIFY(document.open(m_path));
    QVERIFY(ready.wait(10000));
    QCOMPARE(widget.minBinQueries(), kDefaultMinBinQueries);
    QCustomPlot* plot = widget.plot();
    // Per run: band (2), sparse dashed line, dense line; then one legend key for what dashed means.
    QCOMPARE(plot->graphCount(), 2 * 4 + 1);
    const auto values = [](const QCPGraph* graph) {
      QVector<double> v;
      for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it) v << it->value;
      return v;
    };
    const auto nanPattern = [&](const QCPGraph* graph) {
      QString pattern;
      for (double v : values(graph)) pattern += std::isnan(v) ? QLatin1Char('-') : QLatin1Char('x');
      return pattern;
    };
    QCOMPARE(nanPattern(plot->graph(3)), QStringLiteral("------"));  // all sparse at 32: no dense point
    QCOMPARE(nanPattern(plot->graph(2)), QStringLiteral("xxxxxx"));
    QCOMPARE(plot->graph(2)->pen().style(), Qt::DashLine);
    QCOMPARE(plot->graph(2)->scatterStyle().brush().color(), QColor(Qt::white));  // hollow
    QCOMPARE(plot->graph(3)->pen().style(), Qt::SolidLine);
    QVERIFY(plot->graph(3)->scatterStyle().brush().color() != QColor(Qt::white));  // filled
    QCOMPARE(nanPattern(plot->graph(1)), QStringLiteral("------"));                // no band over sparse bins

    widget.setMinBinQueries(2);  // bins 4–5 and 6–7 are dense now
    QCOMPARE(nanPattern(plot->graph(3)), QStringLiteral("---xx-"));
    QCOMPARE(nanPattern(plot->graph(1)), QStringLiteral("---xx-"));
    QCOMPARE(nanPattern(plot->graph(2)), QStringLiteral("xxxxxx"));  // reaches the dense neighbours

    // The tooltip of the last bin (n = 8, one query) gives its count and says it is sparse.
    plot->replot(QCustomPlot::rpImmediateRefresh);
    const QCPGraphData last = *(plot->graph(2)->data()->constEnd() - 1);
    const QPointF at(plot->xAxis->coordToPixel(last.key), plot->yAxis->coordToPixel(last.value));
    const QString tip = widget.toolTipAt(at);
    QVERIFY2(tip.contains(QStringLiteral("1 query")) && tip.contains(QStringLiteral("sparse")),
             qPrintable(tip));
    QVERIFY2(tip.contains(QStringLiteral("n 8–11")), qPrintable(tip));
    QVERIFY(widget.toolTipAt(QPointF(-100, -100)).isEmpty());

    widget.setSparseHidden(true);
    QCOMPARE(plot->graphCount(), 2 * 3);
    QCOMPARE(nanPattern(plot->graph(2)), QStringLiteral("---xx-"));

    // Over a layer's three heads a bin's count is queries × heads; sparseness is per head.
    widget.setSparseHidden(false);
    ready.clear();
    widget.setScope(CurveScope::Layer);
    QVERIFY(ready.wait(10000));
    QCOMPARE(nanPattern(plot->graph(3)), QStringLiteral("---xx-"));
    plot->replot(QCustomPlot::rpImmediateRefresh);
    const QCPGraphData dense = *(plot->graph(3)->data()->constBegin() + 3);
    const QString denseTip = widget.toolTipAt(
        QPointF(plot->xAxis->coordToPixel(dense.key), plot->yAxis->coordToPixel(dense.value)));
    QVERIFY2(denseTip.contains(QStringLiteral("2 queries × 3 heads = 6 values")), qPrintable(denseTip));
    QVERIFY2(!denseTip.contains(QStringLiteral("sparse")), qPrintable(denseTip));
  }

  // Defect 6: in a narrow dock the title and legend were cut, and the PDF kept the cut. Both fit the width of
  // every layout pass: the widget's, and an export's own size.
  void titleAndLegendFitTheWidth_data() {
    QTest::addColumn<int>("width");
    QTest::addColumn<bool>("exported");
    QTest::newRow("dock 380") << 380 << false;
    QTest::newRow("dock 560") << 560 << false;
    QTest::newRow("export 320 from 900") << 320 << true;
  }

  void titleAndLegendFitTheWidth() {
    QFETCH(int, width);
    QFETCH(bool, exported);
    const QString path = m_dir.filePath(QStringLiteral("long-names.h5"));
    test::writeKnownCapture(path, {64, 2, 3});
    CaptureDocument document;
    ContextCurveWidget widget(&document);
    widget.resize(exported ? 900 : width, 500);
    widget.show();
    QVERIFY(QTest::qWaitForWindowExposed(&widget));
    QSignalSpy ready(&widget, &ContextCurveWidget::contentReady);
    widget.setStat(QStringLiteral("target_mass"));  // "(not captured in ssmax)" makes the title longer
    widget.setScope(CurveScope::Layer);
    QVERIFY(document.open(path));
    QVERIFY(ready.wait(10000));
    QCustomPlot* plot = widget.plot();
    int plotWidth = plot->width();
    if (exported) {
      plot->toPixmap(width, 420);  // lays the plot out at the export's size, as savePdf does
      plotWidth = width;
    } else {
      plot->replot(QCustomPlot::rpImmediateRefresh);
    }
    FittedTitle* title = widget.title();
    const QFontMetrics metrics(title->font());
    const QStringList lines = title->text().split(QLatin1Char('\n'));
    for (const QString& line : lines)
      QVERIFY2(metrics.horizontalAdvance(line) <= plotWidth, qPrintable(line));
    QVERIFY2(title->text().startsWith(QStringLiteral("attention mass on target tokens")),
             qPrintable(title->text()));
    QVERIFY(title->outerRect().height() >= lines.size() * metrics.height());
    QCPLegend* legend = plot->legend;
    QVERIFY(legend->itemCount() >= 2);
    for (int i = 0; i < legend->itemCount(); ++i) {
      if (!legend->item(i)) continue;  // an empty cell of the legend's grid
      const QRect item = legend->item(i)->outerRect();
      QVERIFY2(item.left() >= 0 && item.right() <= plotWidth,
               qPrintable(QStringLiteral("legend item %1 spans %2..%3 of %4")
                              .arg(i)
                              .arg(item.left())
                              .arg(item.right())
                              .arg(plotWidth)));
    }
  }

  void theoryCurves() {
    // The paper's numbers: n = 1024 gives 0.127 under softmax and 0.9997 under SSMax with s = 0.43.
    const auto softmax = theoryCurve(1024, std::nan(""), 11);
    QVERIFY(std::abs(softmax.back().first - 1024) < 1e-6);
    QVERIFY(std::abs(softmax.back().second - 0.127) < 1e-3);
    QVERIFY(std::abs(theoryCurve(1024, 0.43, 11).back().second - 0.9997) < 1e-4);
    QCOMPARE(ssmaxScale(QStringLiteral("ssmax:s=0.5")), 0.5);
    QVERIFY(std::abs(ssmaxScale(QStringLiteral("ssmax:ctx=256")) - 1 / std::log(256.0)) < 1e-12);
    QVERIFY(std::isnan(ssmaxScale(QStringLiteral("softmax"))));
    QVERIFY(std::isnan(ssmaxScale(QStringLiteral("ssmax"))));
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
};

QTEST_MAIN(TestContextCurveWidget)
#include "tst_contextcurvewidget.moc"
