// One colour-map choice for every view (issue 15): choosing greys in the heatmap's Colours control recolours
// the head grid's cells and its legend, the tokens view's shades, the all-heads figure and the exports of
// each (every drawn colour is grey, r == g == b, but for the marks that are meant to stand out), and the
// choice is saved for the next window. Choosing viridis again brings the colours back.

#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include <cmath>

#include "capturedocument.h"
#include "colorlegend.h"
#include "colormaps.h"
#include "headgridview.h"
#include "headsfigure.h"
#include "heatmapwidget.h"
#include "knowncapture.h"
#include "plotexport.h"
#include "tokensfigure.h"
#include "tokensview.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

bool isGrey(const QColor& c) {
  return c.red() == c.green() && c.green() == c.blue();
}

/// How far a colour is from grey: the spread of its channels.
int chroma(const QColor& c) {
  return std::max({c.red(), c.green(), c.blue()}) - std::min({c.red(), c.green(), c.blue()});
}

/// Pixels of an image that are clearly coloured (not grey, not antialiased text), apart from those of the hue
/// of `except` (a mark, blended into the greys at its antialiased edges).
int colouredPixels(const QImage& image, const QColor& except) {
  int n = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) {
      const QColor c = image.pixelColor(x, y);
      const int hue = std::abs(c.hue() - except.hue());
      n += chroma(c) > 24 && std::min(hue, 360 - hue) > 12;
    }
  return n;
}

template <typename View>
bool waitForContent(View& view) {
  QSignalSpy ready(&view, &View::contentReady);
  return ready.wait(10000) || !ready.isEmpty();
}

}  // namespace

class TestColorMapChoice : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // the choice is saved in a test location
    saveColorMap(ColorMapName::Viridis);
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("known.h5"));
    test::KnownCaptureOptions options;
    options.n_tokens = 24;
    test::writeKnownCapture(m_path, options);
  }

  void greysEverywhere() {
    CaptureDocument document;
    HeatmapWidget heatmap(&document);
    HeadGridView grid(&document);
    TokensView tokens(&document);
    HeadsFigure heads(&document);
    grid.resize(420, 360);
    tokens.resize(640, 240);
    grid.show();
    tokens.show();
    QVERIFY(QTest::qWaitForWindowExposed(&tokens));
    QVERIFY(document.open(m_path));
    // Run ssmax has no targets: no underline, every mark left is the query's outline.
    document.setSelection({QStringLiteral("ssmax"), QString(), 1, 2, 20});
    QVERIFY(waitForContent(grid));
    for (int i = 0; i < 400 && (tokens.weights().empty() || heads.isLoading()); ++i) QTest::qWait(25);
    QCOMPARE(static_cast<int>(tokens.weights().size()), 24);
    QVERIFY(!heads.isLoading());

    // In viridis the grid's cells are coloured.
    const auto cellColour = [&grid] {
      return grid.model()->index(1, 2).data(Qt::BackgroundRole).value<QBrush>().color();
    };
    QVERIFY(chroma(cellColour()) > 24);

    // The user picks greys in the heatmap's Colours control; it is saved, and every view follows.
    heatmap.setSequentialMap(ColorMapName::Greys);
    QCOMPARE(savedColorMap(), ColorMapName::Greys);
    QCOMPARE(colorMapFromName(QSettings().value("view/colorMap").toString()), ColorMapName::Greys);

    // Head grid: the model's cell colour and the drawn cell.
    QVERIFY(isGrey(cellColour()));
    QTableView* table = grid.table();
    const QImage gridImage = table->viewport()->grab().toImage();
    const QRect cellRect = table->visualRect(table->model()->index(0, 1));  // not the selected head's outline
    const QColor drawn = gridImage.pixelColor(cellRect.left() + 3, cellRect.top() + 3);
    QVERIFY2(isGrey(drawn), qPrintable(drawn.name()));
    QCOMPARE(drawn.rgb(), table->model()->index(0, 1).data(Qt::BackgroundRole).value<QBrush>().color().rgb());

    // The legend's gradient bar: greys from white to black along its length.
    ColorLegend* legend = grid.legend();
    const QImage legendImage = legend->grab().toImage();
    const QRect bar = legend->colorScale()->axis()->axisRect()->rect();
    QVERIFY(bar.width() > 50);
    QSet<QRgb> shades;
    for (int x = bar.left() + 1; x < bar.right(); ++x) {
      const QColor c = legendImage.pixelColor(x, bar.center().y());
      QVERIFY2(isGrey(c), qPrintable(QStringLiteral("x=%1 %2").arg(x).arg(c.name())));
      shades.insert(c.rgb());
    }
    QVERIFY2(shades.size() > 20, qPrintable(QString::number(shades.size())));
    QVERIFY(legend->colorScale()->gradient().color(0.5, QCPRange(0, 1)) ==
            sequentialColor(ColorMapName::Greys, 0.5).rgb());

    // Tokens view: each shaded token is grey, the shade of its weight on the greys map.
    const QImage tokenImage = tokens.viewport()->grab().toImage();
    float largest = 0;
    for (float w : tokens.weights()) largest = std::max(largest, w);
    int checked = 0;
    for (int t = 0; t < 20; ++t) {  // tokens the query (20) sees, not the outlined query itself
      const QRect r = tokens.tokenRect(t);
      if (r.width() < 4) continue;
      const QColor c = tokenImage.pixelColor(r.center().x(), r.top() + 1);  // above the text
      QVERIFY2(isGrey(c), qPrintable(QStringLiteral("token %1: %2").arg(t).arg(c.name())));
      const QColor expected =
          sequentialColor(ColorMapName::Greys, tokens.weights()[std::size_t(t)] / largest);
      QVERIFY2(std::abs(c.red() - expected.red()) <= 2, qPrintable(QStringLiteral("token %1").arg(t)));
      ++checked;
    }
    QVERIFY(checked > 10);

    // The heads figure's scale, which its small maps share.
    QVERIFY(heads.plot()->findChild<QCPColorScale*>());
    QCOMPARE(QColor(heads.plot()->findChild<QCPColorScale*>()->gradient().color(0.3, QCPRange(0, 1))),
             sequentialColor(ColorMapName::Greys, 0.3));

    // Exports: the head grid, the tokens figure and the heads figure hold no colour but the query outline.
    ExportOptions options;
    options.width = 600, options.height = 400, options.scale = 1;
    QString error;
    for (ExportSource* source : QList<ExportSource*>{&grid, &tokens, &heads}) {
      const QString png = m_dir.filePath(source->exportName() + QStringLiteral(".png"));
      QVERIFY2(exportSource(*source, png, options, &error), qPrintable(error));
      const QImage image = QImage(png).convertToFormat(QImage::Format_RGB32);
      QVERIFY2(colouredPixels(image, kQueryOutline) == 0, qPrintable(png));
    }

    // Back to viridis (from anywhere): colours again, in the views and their exports.
    saveColorMap(ColorMapName::Viridis);
    QCOMPARE(heatmap.sequentialMap(), ColorMapName::Viridis);
    QVERIFY(chroma(cellColour()) > 24);
    const QString png = m_dir.filePath(QStringLiteral("tokens-viridis.png"));
    QVERIFY2(exportSource(tokens, png, options, &error), qPrintable(error));
    QVERIFY(colouredPixels(QImage(png).convertToFormat(QImage::Format_RGB32), kQueryOutline) > 100);
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
};

QTEST_MAIN(TestColorMapChoice)
#include "tst_colormapchoice.moc"
