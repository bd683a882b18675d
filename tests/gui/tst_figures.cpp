// Exports that are figures, not grabs of widgets: the head grid, the tokens view and the Compare view are
// drawn with titles, axis labels and colour scales and without the views' controls (checked in the PNG's
// pixels and the SVG's text elements); the tokens figure draws every token, paged in PDF and one tall page in
// SVG, with no gap between tokens; the Compare table puts the heads with maps first; the document swaps the
// runs rather than dropping Compare, and opens on a head with a map.

#include <QFile>
#include <QImage>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

#include <qcustomplot.h>

#include "capturedocument.h"
#include "colormaps.h"
#include "comparesummarymodel.h"
#include "compareview.h"
#include "headgridview.h"
#include "heatmapwidget.h"
#include "knowncapture.h"
#include "tokensfigure.h"
#include "tokensview.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

int colorDistance(const QColor& a, const QColor& b) {
  return std::max(
      {std::abs(a.red() - b.red()), std::abs(a.green() - b.green()), std::abs(a.blue() - b.blue())});
}

/// Columns of image holding, top to bottom, `top` and then `bottom` (a vertical colour scale's bar), counted
/// once per run of adjacent columns.
int colourScaleBars(const QImage& image, const QColor& top, const QColor& bottom) {
  int bars = 0;
  bool inBar = false;
  for (int x = 0; x < image.width(); ++x) {
    int topY = -1, bottomY = -1;
    for (int y = 0; y < image.height(); ++y) {
      const QColor c = image.pixelColor(x, y);
      if (topY < 0 && colorDistance(c, top) < 14) topY = y;
      if (topY >= 0 && colorDistance(c, bottom) < 14) bottomY = y;
    }
    const bool bar = topY >= 0 && bottomY - topY > 40;
    if (bar && !inBar) ++bars;
    inBar = bar;
  }
  return bars;
}

/// The text elements of an SVG, in document order.
QStringList svgTexts(const QString& path) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) return {};
  QXmlStreamReader xml(&file);
  QStringList texts;
  while (!xml.atEnd())
    if (xml.readNext() == QXmlStreamReader::StartElement && xml.name() == QLatin1String("text"))
      texts << xml.readElementText(QXmlStreamReader::IncludeChildElements);
  return xml.hasError() ? QStringList{QStringLiteral("XML error: ") + xml.errorString()} : texts;
}

int pdfPages(const QString& path) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) return -1;
  return static_cast<int>(
      QString::fromLatin1(file.readAll()).count(QRegularExpression(QStringLiteral("/Type\\s*/Page[^s]"))));
}

bool anyPixelNear(const QImage& image, const QColor& color, int tolerance = 6) {
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x)
      if (colorDistance(image.pixelColor(x, y), color) <= tolerance) return true;
  return false;
}

template <typename View>
bool waitForContent(View& view) {
  QSignalSpy ready(&view, &View::contentReady);
  return ready.wait(10000) || !ready.isEmpty();
}

}  // namespace

class TestFigures : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    // The figures use the colour map the user chose: viridis, saved in a test location.
    QStandardPaths::setTestModeEnabled(true);
    saveColorMap(ColorMapName::Viridis);
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("known.h5"));
    test::KnownCaptureOptions options;
    options.n_tokens = 300;
    options.heads_without_map = {{0, 0}, {1, 2}};
    test::writeKnownCapture(m_path, options);
  }

  void headGridExportIsAFigureWithScaleAndLabels() {
    CaptureDocument document;
    HeadGridView view(&document);
    view.resize(420, 300);
    QVERIFY(document.open(m_path));
    QVERIFY(waitForContent(view));
    ExportOptions options;
    options.width = 640, options.height = 420, options.scale = 1;
    QString error;
    const QString png = m_dir.filePath(QStringLiteral("grid.png")), svg = m_dir.filePath("grid.svg");
    QVERIFY2(exportSource(view, png, options, &error), qPrintable(error));
    QVERIFY2(exportSource(view, svg, options, &error), qPrintable(error));
    const QImage image(png);
    QCOMPARE(image.size(), QSize(640, 420));
    // The colour scale: viridis from yellow (1) at the top to purple (0) at the bottom, right of the cells.
    QCOMPARE(colourScaleBars(image, viridisColor(1), viridisColor(0)), 1);
    const QStringList texts = svgTexts(svg);
    const QString all = texts.join(QLatin1Char('|'));
    QVERIFY2(texts.contains(QStringLiteral("head")) && texts.contains(QStringLiteral("layer")),
             qPrintable(all));
    QVERIFY2(all.contains(statisticTitle(defaultStatistic())), qPrintable(all));        // the title
    QVERIFY2(texts.contains(statisticAxisLabel(defaultStatistic())), qPrintable(all));  // the scale's label
    QVERIFY2(all.contains(QStringLiteral("run softmax")), qPrintable(all));
    for (int layer = 0; layer < 2; ++layer)  // every cell's value, as the view shows it
      for (int head = 0; head < 3; ++head)
        QVERIFY2(texts.contains(view.model()->index(layer, head).data().toString()), qPrintable(all));
    QVERIFY2(!all.contains(QStringLiteral("Δ vs compare run")), qPrintable(all));  // no checkbox
    QVERIFY2(!all.contains(QStringLiteral("Reading")), qPrintable(all));           // no status line
  }

  void tokensExportDrawsEveryTokenWithLegend() {
    CaptureDocument document;
    TokensView view(&document);
    view.resize(500, 160);  // a few lines on screen, hundreds of tokens in the prompt
    QVERIFY(document.open(m_path));
    document.setSelection({QStringLiteral("softmax"), QString(), 0, 1, 150});
    for (int i = 0; i < 400 && view.weights().empty(); ++i) QTest::qWait(25);
    QCOMPARE(static_cast<int>(view.weights().size()), 300);
    ExportOptions options;
    options.width = 500, options.height = 300, options.scale = 1;
    QString error;
    const QString svg = m_dir.filePath(QStringLiteral("tokens.svg")), pdf = m_dir.filePath("tokens.pdf"),
                  png = m_dir.filePath("tokens.png");
    QVERIFY2(exportSource(view, svg, options, &error), qPrintable(error));
    QVERIFY2(exportSource(view, pdf, options, &error), qPrintable(error));
    QVERIFY2(exportSource(view, png, options, &error), qPrintable(error));

    // SVG: one tall page; after the title and legend, the 300 tokens in order.
    const QStringList texts = svgTexts(svg);
    const qsizetype first = texts.indexOf(QStringLiteral("The"));
    QVERIFY2(first > 0, qPrintable(texts.join(QLatin1Char('|'))));
    // A token may be split into several text elements (a fallback font for "↵"): compare the text itself.
    QString drawn, expected;
    for (qsizetype i = first; i < texts.size(); ++i) drawn += texts[i];
    for (int i = 0; i < 300; ++i) expected += runningToken(document, i);
    drawn.remove(QLatin1Char(' '));
    expected.remove(QLatin1Char(' '));
    QVERIFY2(drawn.startsWith(expected), qPrintable(drawn.left(400)));
    const QString all = texts.join(QLatin1Char('|'));
    QVERIFY2(all.contains(QStringLiteral("Attention from query 150")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("attention received: 0")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("all 300 tokens")), qPrintable(all));
    QVERIFY2(QImage(png).height() > 300, "a tall page holds every token");

    // PDF: pages of the chosen size that together hold every token, each saying which.
    auto figure = view.exportFigure();
    const int pages = figure->layout(QSize(500, 300), false);
    QVERIFY2(pages >= 3, qPrintable(QString::number(pages)));
    QCOMPARE(pdfPages(pdf), pages);
    QCOMPARE(static_cast<TokensFigure*>(figure.get())->pageStarts().front(), 0);

    // PNG: the legend's bar reaches the top of the colour map, the query is outlined.
    const QImage image(png);
    QVERIFY(anyPixelNear(image, viridisColor(1)));
    QVERIFY(anyPixelNear(image, kQueryOutline));
  }

  // Byte-level models have one token per character: tokens sit side by side so that words read as words.
  void tokensHaveNoGapBetweenThem() {
    const QStringList text{QStringLiteral("H"), QStringLiteral("e"), QStringLiteral("l"), QStringLiteral("l"),
                           QStringLiteral("o"), QStringLiteral(" "), QStringLiteral("w")};
    const QFontMetrics metrics(QFont{});
    const TokenLayout layout = layoutTokens(text, text, metrics, 0, 1000);
    for (int i = 1; i < text.size(); ++i) {
      QCOMPARE(layout.rects[i].top(), layout.rects[0].top());
      QCOMPARE(layout.rects[i].left(), layout.rects[i - 1].right() + 1);
    }
    CaptureDocument document;
    TokensView view(&document);
    view.resize(600, 200);
    QVERIFY(document.open(m_path));
    QCOMPARE(view.tokenRect(2).left(), view.tokenRect(1).right() + 1);  // " cat" then " sat"
    QCOMPARE(runningToken(document, 1), QStringLiteral(" cat"));        // a space, not ␣
    TokensView late(&document);  // made after the file opened, as headless export makes it
    QVERIFY(late.tokenRect(299).isValid());
  }

  void compareExportsAsOneFigure() {
    CaptureDocument document;
    CompareView view(&document);
    view.resize(1200, 600);
    view.setAttribute(Qt::WA_DontShowOnScreen);
    view.show();
    QVERIFY(document.open(m_path));
    document.setHead(0, 1);
    for (int i = 0; i < 400 && (view.isLoading() || view.differenceMap()->tile().empty()); ++i)
      QTest::qWait(25);
    QVERIFY(!view.isLoading());
    ExportOptions options;
    options.width = 1200, options.height = 460, options.scale = 1;
    QString error;
    const QString png = m_dir.filePath(QStringLiteral("compare.png")), svg = m_dir.filePath("compare.svg");
    QVERIFY2(exportSource(view, png, options, &error), qPrintable(error));
    QVERIFY2(exportSource(view, svg, options, &error), qPrintable(error));
    const QImage image(png);
    QCOMPARE(image.size(), QSize(1200, 460));
    // Two viridis scales (run, compare run) and one diverging scale (difference).
    QCOMPARE(colourScaleBars(image, viridisColor(1), viridisColor(0)), 2);
    QCOMPARE(colourScaleBars(image, divergingColor(1), divergingColor(-1)), 1);
    const QString all = svgTexts(svg).join(QLatin1Char('|'));
    QVERIFY2(all.contains(QStringLiteral("Layer 0 · head 1 · softmax vs ssmax")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("softmax − ssmax")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("attention probability")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("probability difference")), qPrintable(all));
    QVERIFY2(!all.contains(QStringLiteral("Per-head change")), qPrintable(all));  // no table, no controls
  }

  // The Compare panels are narrow: a message (no map for this head) wraps to the panel instead of running
  // off it.
  void panelMessagesWrapToThePanel() {
    CaptureDocument document;
    CompareView view(&document);
    view.resize(720, 560);
    view.setAttribute(Qt::WA_DontShowOnScreen);
    view.show();
    QVERIFY(document.open(m_path));
    document.setHead(1, 2);  // no map stored
    QTest::qWait(50);
    for (HeatmapWidget* map : {view.runMap(), view.compareMap(), view.differenceMap()}) {
      map->plot()->replot();
      const int width = map->plot()->width();
      int messages = 0;
      for (int i = 0; i < map->plot()->itemCount(); ++i) {
        auto* text = qobject_cast<QCPItemText*>(map->plot()->item(i));
        if (!text || !text->visible() || text->text().isEmpty()) continue;
        ++messages;
        QVERIFY2(text->text().startsWith(QStringLiteral("No attention")), qPrintable(text->text()));
        for (const QString& line : text->text().split(QLatin1Char('\n')))
          QVERIFY2(QFontMetrics(text->font()).horizontalAdvance(line) <= width,
                   qPrintable(QStringLiteral("%1 px wide panel: '%2'").arg(width).arg(line)));
      }
      QCOMPARE(messages, 1);
    }
  }

  void compareTablePutsHeadsWithMapsFirst() {
    CaptureDocument document;
    CompareView view(&document);
    QVERIFY(document.open(m_path));
    QVERIFY(waitForContent(view));
    QTableView* table = view.summaryTable();
    QCOMPARE(table->model()->rowCount(), 6);
    for (Qt::SortOrder order : {Qt::AscendingOrder, Qt::DescendingOrder}) {
      table->sortByColumn(CompareSummaryModel::DifferenceColumn, order);
      QStringList maps;
      for (int row = 0; row < 6; ++row)
        maps << table->model()->index(row, 0).data(CompareSummaryModel::HasMapsRole).toString();
      QCOMPARE(maps.join(QLatin1Char(',')), QStringLiteral("true,true,true,true,false,false"));
    }
  }

  void documentSwapsRunsAndOpensOnAHeadWithAMap() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    QCOMPARE(document.selection().layer, 0);  // head 0.0 has no map: 0.1 is the first that has one
    QCOMPARE(document.selection().head, 1);
    QCOMPARE(document.selection().run, QStringLiteral("softmax"));
    QCOMPARE(document.selection().compareRun, QStringLiteral("ssmax"));
    document.setRun(QStringLiteral("ssmax"));
    QCOMPARE(document.selection().run, QStringLiteral("ssmax"));
    QCOMPARE(document.selection().compareRun, QStringLiteral("softmax"));
    document.setCompareRun(QStringLiteral("ssmax"));
    QCOMPARE(document.selection().run, QStringLiteral("softmax"));
    QCOMPARE(document.selection().compareRun, QStringLiteral("ssmax"));
    document.setCompareRun(QString());
    QCOMPARE(document.selection().compareRun, QString());
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
};

QTEST_MAIN(TestFigures)
#include "tst_figures.moc"
