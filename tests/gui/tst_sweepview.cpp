// The sweep views on real sweep files with known records (knownsweep): the retrieval grid's cells, shared
// colour scale, labels, tooltips and drawn colours; the needle-score grid per head; the statistic and loss
// curves' means and confidence bands; which tabs a sweep's mode enables; and the exports of every view (SVG
// text, PNG pixels, PDF, CSV rows). Expected means come from knownsweep's closed forms, not the views.

#include <QFile>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include <cmath>

#include "colormaps.h"
#include "knownsweep.h"
#include "sweepcurveview.h"
#include "sweepdocument.h"
#include "sweepgridview.h"
#include "sweepview.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

constexpr double kTolerance = 1e-5;  // stat sums are float32

QCPColorMap* colorMap(QCustomPlot* plot, int panel) {
  return qobject_cast<QCPColorMap*>(plot->plottable(panel));
}

/// Opens path in document and waits for the background read.
bool openAndWait(SweepDocument* document, const QString& path) {
  QSignalSpy changed(document, &SweepDocument::documentChanged);
  document->open(path);
  return changed.wait(20000) && document->isOpen();
}

bool near(double a, double b, double tolerance = kTolerance) {
  return std::abs(a - b) <= tolerance;
}

/// The colour difference of two colours, summed over channels.
int colourDistance(const QColor& a, const QColor& b) {
  return std::abs(a.red() - b.red()) + std::abs(a.green() - b.green()) + std::abs(a.blue() - b.blue());
}

}  // namespace

class TestSweepView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // the colour-map choice is saved in a test location
    saveColorMap(ColorMapName::Viridis);
    QVERIFY(m_dir.isValid());
    m_needle = m_dir.filePath(QStringLiteral("needle.h5"));
    m_documents = m_dir.filePath(QStringLiteral("documents.h5"));
    test::writeKnownSweep(m_needle, test::knownNeedleSweepHeader());
    test::writeKnownSweep(m_documents, test::knownDocumentsSweepHeader());
    QVERIFY(SweepDocument::isSweep(m_needle));
  }

  void retrievalGrid_data() {
    QTest::addColumn<bool>("exact");
    QTest::newRow("exact match") << true;
    QTest::newRow("digit accuracy") << false;
  }

  // Cells are the mean over the cell's prompts of correct (or digit accuracy), rows lengths from the bottom,
  // columns depths; both panels on one viridis scale over [0, 1]; axes labelled once per shared axis.
  void retrievalGrid() {
    QFETCH(bool, exact);
    SweepDocument document;
    SweepGridView view(&document, SweepGridKind::Retrieval);
    view.setExact(exact);
    QVERIFY(openAndWait(&document, m_needle));
    QCustomPlot* plot = view.plot();
    QCOMPARE(plot->plottableCount(), 2);
    QCOMPARE(view.figure().panels, (QStringList{"softmax", "ssmax:s=0.43"}));
    for (int panel = 0; panel < 2; ++panel) {
      QCPColorMap* map = colorMap(plot, panel);
      QCOMPARE(map->data()->keySize(), 3);
      QCOMPARE(map->data()->valueSize(), 3);
      QCOMPARE(map->colorScale(), colorMap(plot, 0)->colorScale());  // one scale for both panels
      for (int li = 0; li < 3; ++li)
        for (int di = 0; di < 3; ++di) {
          double expected = 0;
          for (int prompt = 0; prompt < 2; ++prompt)
            expected += exact ? double(test::knownCorrect(panel, li, di, prompt))
                              : test::knownDigitAccuracy(panel, li, di, prompt);
          expected /= 2;
          QVERIFY2(near(map->data()->cell(di, li), expected),
                   qPrintable(QStringLiteral("panel %1 length %2 depth %3: %4, expected %5")
                                  .arg(panel)
                                  .arg(li)
                                  .arg(di)
                                  .arg(map->data()->cell(di, li))
                                  .arg(expected)));
          QCOMPARE(view.figure().cell(panel, li, di)->count, 2);
        }
    }
    QCPColorScale* scale = colorMap(plot, 0)->colorScale();
    QCOMPARE(scale->dataRange(), QCPRange(0, 1));
    QCOMPARE(QColor(scale->gradient().color(0.3, QCPRange(0, 1))), viridisColor(0.3));
    QCOMPARE(scale->axis()->label(),
             exact ? QStringLiteral("share exactly correct") : QStringLiteral("digit accuracy"));
    const QCPAxisRect* first = colorMap(plot, 0)->keyAxis()->axisRect();
    const QCPAxisRect* second = colorMap(plot, 1)->keyAxis()->axisRect();
    QCOMPARE(first->axis(QCPAxis::atLeft)->label(), QStringLiteral("prompt length (tokens)"));
    QCOMPARE(second->axis(QCPAxis::atLeft)->label(), QString());  // rows are labelled once
    QCOMPARE(second->axis(QCPAxis::atBottom)->label(),
             QStringLiteral("needle depth (share of the haystack)"));
    plot->resize(900, 450);
    plot->replot();
    QCOMPARE(first->axis(QCPAxis::atLeft)->tickVectorLabels(), (QVector<QString>{"64", "128", "256"}));
    QCOMPARE(first->axis(QCPAxis::atBottom)->tickVectorLabels(), (QVector<QString>{"0", "0.5", "1"}));
    QVERIFY(!first->axis(QCPAxis::atLeft)->rangeReversed());  // the longest prompts at the top
  }

  // The tooltip names the cell and gives its mean, interval and count; the drawn cell has the viridis colour
  // of its mean.
  void retrievalToolTipAndColour() {
    SweepDocument document;
    SweepGridView view(&document, SweepGridKind::Retrieval);
    QVERIFY(openAndWait(&document, m_needle));
    view.setAttribute(Qt::WA_DontShowOnScreen);  // laid out at its size, as on screen
    view.resize(900, 480);
    view.show();
    QCoreApplication::processEvents();
    view.plot()->replot();
    QCPColorMap* ssmax = colorMap(view.plot(), 1);
    // ssmax, 256 tokens, depth 1: one of two prompts correct.
    const QPointF centre = ssmax->coordsToPixels(2, 2);
    const QString tip = view.toolTipAt(centre.toPoint());
    for (const char* part : {"ssmax:s=0.43", "length 256", "depth 1", "mean 0.50", "over 2 values", "CI"})
      QVERIFY2(tip.contains(QLatin1String(part)), qPrintable(tip));
    QVERIFY(view.toolTipAt(QPoint(2, 2)).isEmpty());  // the title's corner is no cell
    // Off the printed value, in the cell.
    const QPointF beside = ssmax->coordsToPixels(2.35, 2.35);
    const QImage image = view.plot()->toPixmap().toImage();
    QVERIFY2(colourDistance(image.pixelColor(beside.toPoint()), viridisColor(0.5)) < 12,
             qPrintable(image.pixelColor(beside.toPoint()).name()));
    const QPointF full = ssmax->coordsToPixels(0.35, 0.35);  // 64 tokens, depth 0: all correct
    QVERIFY(colourDistance(image.pixelColor(full.toPoint()), viridisColor(1.0)) < 12);

    // The colour map the user chose for the capture views applies here too, at once.
    saveColorMap(ColorMapName::Greys);
    QCoreApplication::processEvents();
    view.plot()->replot();
    const QImage grey = view.plot()->toPixmap().toImage();
    const QColor half = grey.pixelColor(colorMap(view.plot(), 1)->coordsToPixels(2.35, 2.35).toPoint());
    QVERIFY2(half.red() == half.green() && half.green() == half.blue(), qPrintable(half.name()));
    QVERIFY2(colourDistance(half, sequentialColor(ColorMapName::Greys, 0.5)) < 12, qPrintable(half.name()));
    saveColorMap(ColorMapName::Viridis);
  }

  // Needle scores of every head at one length: the mean over depths and prompts, layer 0 at the top, the
  // scale from 0 to the largest mean of either panel.
  void needleHeads() {
    SweepDocument document;
    SweepGridView view(&document, SweepGridKind::NeedleHeads);
    QVERIFY(openAndWait(&document, m_needle));
    view.setLength(128);
    QCustomPlot* plot = view.plot();
    QCOMPARE(plot->plottableCount(), 2);
    double largest = 0;
    for (int panel = 0; panel < 2; ++panel) {
      QCPColorMap* map = colorMap(plot, panel);
      QCOMPARE(map->data()->keySize(), 3);    // heads
      QCOMPARE(map->data()->valueSize(), 2);  // layers
      QVERIFY(map->valueAxis()->rangeReversed());
      for (int layer = 0; layer < 2; ++layer)
        for (int head = 0; head < 3; ++head) {
          const double expected = (test::knownNeedleScore(panel, 1, 0, layer, head) +
                                   test::knownNeedleScore(panel, 1, 1, layer, head)) /
                                  2.0;
          QVERIFY(near(map->data()->cell(head, layer), expected));
          QCOMPARE(view.figure().cell(panel, layer, head)->count, 6);  // 3 depths × 2 prompts
          largest = std::max(largest, expected);
        }
    }
    QVERIFY(near(colorMap(plot, 0)->colorScale()->dataRange().upper, largest));
    QVERIFY(view.figure().title.contains(QLatin1String("128 tokens")));
    QCOMPARE(colorMap(plot, 0)->keyAxis()->label(), QStringLiteral("head"));
    QCOMPARE(colorMap(plot, 0)->valueAxis()->label(), QStringLiteral("layer"));
  }

  void statCurve_data() {
    QTest::addColumn<int>("scope");
    QTest::addColumn<int>("layer");
    QTest::addColumn<int>("head");
    QTest::newRow("all heads") << int(CurveScope::AllLayers) << 0 << 0;
    QTest::newRow("layer 1") << int(CurveScope::Layer) << 1 << 0;
    QTest::newRow("layer 1 head 2") << int(CurveScope::Head) << 1 << 2;
  }

  // Per normalizer a mean line over prompts and a band between the interval's bounds; a bin's mean is over
  // the prompts long enough to have queries in it. Entropy is equal in every prompt: its band is the line.
  void statCurve() {
    QFETCH(int, scope);
    QFETCH(int, layer);
    QFETCH(int, head);
    SweepDocument document;
    SweepCurveView view(&document, SweepCurveKind::Statistic);
    QVERIFY(openAndWait(&document, m_needle));
    view.setStat(QStringLiteral("max_prob"));
    view.setScope(static_cast<CurveScope>(scope), layer, head);
    QCustomPlot* plot = view.plot();
    QCOMPARE(plot->graphCount(), 6);  // 2 normalizers × (lower, upper, mean)
    QCOMPARE(plot->xAxis->scaleType(), QCPAxis::stLogarithmic);
    QCOMPARE(plot->legend->itemCount(), 2);
    const double headTerm = scope == int(CurveScope::Head) ? 0.001 * head : 0.001;  // mean of 0, 1, 2 ms
    const std::vector<int64_t> lengths{64, 128, 256};
    for (int normalizer = 0; normalizer < 2; ++normalizer) {
      const QCPGraph* lower = plot->graph(3 * normalizer);
      const QCPGraph* upper = plot->graph(3 * normalizer + 1);
      const QCPGraph* line = plot->graph(3 * normalizer + 2);
      QCOMPARE(upper->channelFillGraph(), lower);
      QCOMPARE(line->data()->size(), 9);  // bins of n = 1 .. 256
      QCOMPARE(line->name(), normalizer == 0 ? QStringLiteral("softmax") : QStringLiteral("ssmax:s=0.43"));
      bool someBandIsWide = false;
      for (int bin = 0; bin < 9; ++bin) {
        double sum = 0;
        int count = 0;
        for (int ordinal = 0; ordinal < 18; ++ordinal)  // cells ordered length-major, 6 per length
          if (lengths[ordinal / 6] >= (int64_t{1} << bin))
            sum += test::knownStatMean(normalizer, 0, layer, 0, bin, ordinal), ++count;
        const double expected = sum / count + headTerm - 0.0;
        const double mean = (line->data()->constBegin() + bin)->value;
        const double lo = (lower->data()->constBegin() + bin)->value;
        const double hi = (upper->data()->constBegin() + bin)->value;
        QVERIFY2(near(mean, expected),
                 qPrintable(QStringLiteral("bin %1: %2, expected %3").arg(bin).arg(mean).arg(expected)));
        QVERIFY(lo <= mean + kTolerance && mean <= hi + kTolerance);
        const SweepCurvePoint& point =
            view.curves().curves[static_cast<std::size_t>(normalizer)][static_cast<std::size_t>(bin)];
        QVERIFY(near(point.value.lo, lo) && near(point.value.hi, hi));
        QCOMPARE(point.value.count, count);
        someBandIsWide = someBandIsWide || hi - lo > 0.01;
      }
      QVERIFY(someBandIsWide);  // prompts differ by 0.02 each: the interval has width
    }
    view.setStat(QStringLiteral("entropy"));
    for (int bin = 0; bin < 9; ++bin) {
      const double lo = (plot->graph(0)->data()->constBegin() + bin)->value;
      const double hi = (plot->graph(1)->data()->constBegin() + bin)->value;
      const double mean = (plot->graph(2)->data()->constBegin() + bin)->value;
      QVERIFY(near(mean, bin / 4.0) && near(lo, mean) && near(hi, mean));
    }
    const CsvTable table = view.exportTable();
    QCOMPARE(table.rows.size(), 18);
    QCOMPARE(table.header, (QStringList{"normalizer", "stat", "layer", "head", "n_lo", "n_hi", "mean",
                                        "ci_lo", "ci_hi", "count"}));
  }

  // Loss by position: a bucket's mean over the documents that reach it; a needle sweep has none.
  void lossCurve() {
    SweepDocument document;
    SweepCurveView view(&document, SweepCurveKind::Loss);
    QVERIFY(openAndWait(&document, m_documents));
    QCustomPlot* plot = view.plot();
    QCOMPARE(plot->graphCount(), 6);
    for (int normalizer = 0; normalizer < 2; ++normalizer) {
      const QCPGraph* line = plot->graph(3 * normalizer + 2);
      QCOMPARE(line->data()->size(), 4);
      for (int bucket = 0; bucket < 4; ++bucket) {
        const double expected = test::knownLoss(normalizer, bucket, 1);  // prompts 0, 1, 2: mean at 1
        QVERIFY(near((line->data()->constBegin() + bucket)->value, expected));
        const SweepEstimate& e =
            view.curves()
                .curves[static_cast<std::size_t>(normalizer)][static_cast<std::size_t>(bucket)]
                .value;
        QCOMPARE(e.count, bucket == 3 ? 3 : 6);  // only the 128-token documents reach position 64
      }
    }
    QCOMPARE(plot->yAxis->label(), QStringLiteral("loss (nats)"));
    QVERIFY(openAndWait(&document, m_needle));
    QCOMPARE(plot->graphCount(), 0);
    QVERIFY(view.curves().message.contains(QLatin1String("--documents")));
    QVERIFY(view.exportTable().empty());
  }

  void tabsFollowTheMode() {
    SweepDocument document;
    SweepView view(&document);
    QVERIFY(openAndWait(&document, m_documents));
    QVERIFY(!view.tabs()->isTabEnabled(0) && !view.tabs()->isTabEnabled(1));
    QVERIFY(view.tabs()->isTabEnabled(2) && view.tabs()->isTabEnabled(3));
    QCOMPARE(view.tabs()->currentIndex(), 2);
    QVERIFY(sweepSummary(*document.data()).contains(QStringLiteral("2 lengths × 3 documents")));
    QVERIFY(openAndWait(&document, m_needle));
    QVERIFY(view.tabs()->isTabEnabled(0) && !view.tabs()->isTabEnabled(3));
    const QString summary = sweepSummary(*document.data());
    for (const char* part : {"needle sweep of known-llama", "2 layers × 3 heads",
                             "3 lengths × 3 depths × 2 prompts", "2 normalizers", "36 of 36 records"})
      QVERIFY2(summary.contains(QString::fromUtf8(part)), qPrintable(summary));
    QCOMPARE(view.exportSources().size(), 4);
  }

  // A sweep killed after 7 of its 18 cells: the cells no record reached are grey (NaN) with a tooltip that
  // says so, the others are the means of the records there.
  void partialSweep() {
    const QString path = m_dir.filePath(QStringLiteral("partial.h5"));
    test::writeKnownSweep(path, test::knownNeedleSweepHeader(), 7);
    SweepDocument document;
    SweepGridView view(&document, SweepGridKind::Retrieval);
    QVERIFY(openAndWait(&document, path));
    QVERIFY(sweepSummary(*document.data()).contains(QStringLiteral("14 of 36 records")));
    const SweepGridFigure& figure = view.figure();
    // Cells 0..6: length 64 at every depth (2 prompts each), and the first prompt of 128 tokens at depth 0.
    QCOMPARE(figure.cell(0, 0, 2)->count, 2);
    QCOMPARE(figure.cell(0, 1, 0)->count, 1);
    QCOMPARE(figure.cell(0, 1, 1)->count, 0);
    QVERIFY(std::isnan(colorMap(view.plot(), 0)->data()->cell(1, 1)));
    QVERIFY(std::isnan(colorMap(view.plot(), 1)->data()->cell(2, 2)));
    QVERIFY(sweepCellToolTip(figure, SweepGridHit{0, 2, 2}).endsWith(QLatin1String("no records")));
    QCOMPARE(colorMap(view.plot(), 0)->data()->cell(0, 1), 1.0);  // softmax, 128 tokens, depth 0: correct
  }

  void unreadableFileKeepsTheSweep() {
    SweepDocument document;
    QVERIFY(openAndWait(&document, m_needle));
    const QString bad = m_dir.filePath(QStringLiteral("bad.h5"));
    QFile file(bad);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("not hdf5");
    file.close();
    QVERIFY(!SweepDocument::isSweep(bad));
    QSignalSpy failed(&document, &SweepDocument::errorOccurred);
    document.open(bad);
    QVERIFY(failed.wait(20000));
    QVERIFY(!failed.first().first().toString().contains(QLatin1Char('\n')));
    QCOMPARE(document.path(), m_needle);
  }

  // Each view writes PNG, PDF, SVG and CSV: the SVG holds the panels' names and axis titles as text, the PNG
  // the cells' colours, the CSV one row per cell or bin.
  void exports() {
    SweepDocument document;
    SweepView view(&document);
    view.resize(1200, 700);
    QVERIFY(openAndWait(&document, m_needle));
    ExportOptions options;
    options.width = 1000;
    options.height = 500;
    for (ExportSource* source : view.exportSources()) {
      if (source->exportName() == QLatin1String("sweep-loss")) continue;  // a needle sweep has none
      for (const char* suffix : {"png", "pdf", "svg", "csv"}) {
        const QString path = m_dir.filePath(source->exportName() + QLatin1Char('.') + QLatin1String(suffix));
        QString error;
        QVERIFY2(exportSource(*source, path, options, &error), qPrintable(error));
        QVERIFY(QFileInfo(path).size() > 200);
      }
    }
    QFile svg(m_dir.filePath(QStringLiteral("retrieval.svg")));
    QVERIFY(svg.open(QIODevice::ReadOnly));
    const QByteArray text = svg.readAll();
    for (const char* part : {"<svg", "softmax", "ssmax:s=0.43", "prompt length (tokens)", "needle depth",
                             "share exactly correct", "256"})
      QVERIFY2(text.contains(part), part);
    QFile pdf(m_dir.filePath(QStringLiteral("needle-heads.pdf")));
    QVERIFY(pdf.open(QIODevice::ReadOnly));
    QVERIFY(pdf.read(5) == "%PDF-");
    QFile csv(m_dir.filePath(QStringLiteral("retrieval.csv")));
    QVERIFY(csv.open(QIODevice::ReadOnly | QIODevice::Text));
    const QStringList lines = QString::fromUtf8(csv.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 1 + 2 * 9);
    QCOMPARE(lines.first(), QStringLiteral("normalizer,length,depth,mean,ci_lo,ci_hi,count"));
    QVERIFY(lines.contains(QStringLiteral("ssmax:s=0.43,256,1,0.5,0,1,2")) ||
            lines.filter(QStringLiteral("ssmax:s=0.43,256,1,0.5,")).size() == 1);
    // The PNG at scale 1 has the retrieval grid's colours: a cell of softmax all correct is viridis' yellow.
    QImage png(m_dir.filePath(QStringLiteral("retrieval.png")));
    QVERIFY(!png.isNull());
    QCOMPARE(png.size(), QSize(1000, 500));
    int yellow = 0, purple = 0;
    for (int y = 0; y < png.height(); y += 3)
      for (int x = 0; x < png.width(); x += 3) {
        yellow += colourDistance(png.pixelColor(x, y), viridisColor(1.0)) < 12;
        purple += colourDistance(png.pixelColor(x, y), viridisColor(0.0)) < 12;
      }
    QVERIFY2(yellow > 1000 && purple > 300, qPrintable(QStringLiteral("%1 %2").arg(yellow).arg(purple)));
  }

 private:
  QTemporaryDir m_dir;
  QString m_needle, m_documents;
};

QTEST_MAIN(TestSweepView)
#include "tst_sweepview.moc"
