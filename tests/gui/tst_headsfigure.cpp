// HeadsFigure exports every head of a known capture as small multiples: in the PNG, the diagonal head's cell
// is bright on the diagonal and dark below it, the uniform head's cell is one colour, the head without a
// stored map is a blank cell with a "no map" label; the PDF has a page, the SVG parses and holds the maps and
// labels; the level read fits the pixels a cell gets.

#include <QFile>
#include <QImage>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

#include <qcustomplot.h>

#include <cmath>

#include "attnscope/store.h"
#include "capturedocument.h"
#include "colormaps.h"
#include "headsfigure.h"
#include "knowncapture.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

constexpr int kTokens = 64;

/// Layer 0 head 0 attends to itself only, layer 0 head 1 spreads 0.5 over every key, layer 1 head 2 stores no
/// map; the others hold the usual known map.
float mapValue(int layer, int head, int query, int key) {
  if (layer == 0 && head == 0) return query == key ? 1.0f : 0.0f;
  if (layer == 0 && head == 1) return 0.5f;
  return test::knownMapValue(query, key, kTokens);
}

int colorDistance(const QColor& a, const QColor& b) {
  return std::max(
      {std::abs(a.red() - b.red()), std::abs(a.green() - b.green()), std::abs(a.blue() - b.blue())});
}

/// The colour the figure gives probability p on the linear or log scale.
QColor expectedColor(double p, bool log) {
  return viridisColor(log ? std::log(std::max(p, 1e-4) / 1e-4) / std::log(1e4) : p);
}

/// The pixel at the centre of token cell (query, key) of a small map drawn in rect.
QPoint tokenPixel(const QRect& rect, int query, int key) {
  return {rect.left() + static_cast<int>((key + 0.5) / kTokens * rect.width()),
          rect.top() + static_cast<int>((query + 0.5) / kTokens * rect.height())};
}

bool waitUntilDrawn(HeadsFigure& figure) {
  QTest::qWait(10);
  for (int i = 0; i < 400 && figure.isLoading(); ++i) QTest::qWait(25);
  return !figure.isLoading();
}

}  // namespace

class TestHeadsFigure : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    // The figures use the colour map the user chose: viridis, saved in a test location.
    QStandardPaths::setTestModeEnabled(true);
    saveColorMap(ColorMapName::Viridis);
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("heads.h5"));
    test::KnownCaptureOptions options;
    options.n_tokens = kTokens;
    options.map_value = mapValue;
    options.heads_without_map = {{1, 2}};
    test::writeKnownCapture(m_path, options);
  }

  void pngShowsEachHeadInItsCell_data() {
    QTest::addColumn<bool>("log");
    QTest::newRow("linear") << false;
    QTest::newRow("log") << true;
  }

  void pngShowsEachHeadInItsCell() {
    QFETCH(bool, log);
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    HeadsFigure figure(&document);
    figure.setLogScale(log);
    const QSize size = headsFigureSize(2, 3, 192);  // 3 pixels per token: every cell is sampled cleanly
    figure.resize(size);
    figure.show();
    QVERIFY(QTest::qWaitForWindowExposed(&figure));
    QVERIFY(waitUntilDrawn(figure));
    QVERIFY(figure.tile(1, 2).empty());
    for (auto [layer, head] : {std::pair{0, 0}, std::pair{0, 1}, std::pair{1, 1}}) {
      QCOMPARE(figure.tile(layer, head).request.level, 0);
      QCOMPARE(figure.tile(layer, head).rows(), kTokens);
    }

    ExportOptions options;
    options.width = size.width(), options.height = size.height(), options.scale = 1;
    const QString png = m_dir.filePath(QStringLiteral("heads.png"));
    QString error;
    QVERIFY2(exportSource(figure, png, options, &error), qPrintable(error));
    const QImage image(png);
    QCOMPARE(image.size(), size);

    // The export laid the plot out at its size; cell rectangles are from that layout.
    const QRect diagonal = figure.cellRect(0, 0), uniform = figure.cellRect(0, 1),
                missing = figure.cellRect(1, 2);
    QVERIFY2(diagonal.width() > 2 * kTokens && diagonal.height() > 2 * kTokens,
             qPrintable(QStringLiteral("%1x%2 at %3,%4")
                            .arg(diagonal.width())
                            .arg(diagonal.height())
                            .arg(diagonal.x())
                            .arg(diagonal.y())));
    QVERIFY(diagonal.right() < uniform.left());  // head 1 is right of head 0
    QVERIFY(diagonal.bottom() < missing.top());  // layer 1 is below layer 0
    const auto check = [&](const QRect& rect, int q, int k, double p) {
      const QColor actual = image.pixelColor(tokenPixel(rect, q, k)), expected = expectedColor(p, log);
      QVERIFY2(colorDistance(actual, expected) <= 8,
               qPrintable(QStringLiteral("q=%1 k=%2 p=%3: pixel %4, expected %5")
                              .arg(q)
                              .arg(k)
                              .arg(p)
                              .arg(actual.name(), expected.name())));
    };
    for (int t : {5, 20, 47, 60}) {
      check(diagonal, t, t, 1.0);
      check(diagonal, t, (t + 32) % kTokens, 0.0);
      check(uniform, t, t, 0.5);
      check(uniform, t, (t + 32) % kTokens, 0.5);
    }
    check(figure.cellRect(1, 1), 40, 10, test::knownMapValue(40, 10, kTokens));

    // No map: a blank cell with a grey label in its middle, and no map colours.
    int white = 0, grey = 0, total = 0;
    for (int y = missing.top() + 2; y < missing.bottom() - 1; ++y)
      for (int x = missing.left() + 2; x < missing.right() - 1; ++x, ++total) {
        const QColor c = image.pixelColor(x, y);
        if (c == QColor(Qt::white))
          ++white;
        else if (std::abs(c.red() - c.green()) < 8 && std::abs(c.green() - c.blue()) < 8)
          ++grey;
      }
    QVERIFY2(white > total * 9 / 10, qPrintable(QStringLiteral("%1 of %2 white").arg(white).arg(total)));
    QVERIFY2(grey > 20 && white + grey == total, qPrintable(QStringLiteral("%1 grey").arg(grey)));
  }

  void pdfAndSvgAreValid() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    HeadsFigure figure(&document);
    figure.resize(headsFigureSize(2, 3));
    QVERIFY(waitUntilDrawn(figure));
    ExportOptions options;
    options.width = 500, options.height = 260;
    QString error;

    const QString pdf = m_dir.filePath(QStringLiteral("heads.pdf"));
    QVERIFY2(exportSource(figure, pdf, options, &error), qPrintable(error));
    QFile pdfFile(pdf);
    QVERIFY(pdfFile.open(QIODevice::ReadOnly));
    const QByteArray pdfBytes = pdfFile.readAll();
    QVERIFY(pdfBytes.startsWith("%PDF-"));
    QCOMPARE(QString::fromLatin1(pdfBytes).count(QRegularExpression(QStringLiteral("/Type\\s*/Page[^s]"))),
             1);
    QVERIFY(pdfBytes.contains("/Subtype /Image"));  // the maps are embedded as images

    const QString svg = m_dir.filePath(QStringLiteral("heads.svg"));
    QVERIFY2(exportSource(figure, svg, options, &error), qPrintable(error));
    QFile svgFile(svg);
    QVERIFY(svgFile.open(QIODevice::ReadOnly));
    QXmlStreamReader xml(&svgFile);
    int roots = 0, images = 0;
    QStringList texts;
    while (!xml.atEnd()) {
      if (xml.readNext() != QXmlStreamReader::StartElement) continue;
      if (xml.name() == QLatin1String("svg")) ++roots;
      if (xml.name() == QLatin1String("image")) ++images;
      if (xml.name() == QLatin1String("text"))
        texts << xml.readElementText(QXmlStreamReader::IncludeChildElements);
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(roots, 1);
    QCOMPARE(images, 5 + 1);  // five stored maps and the colour bar
    for (const QString& label : {QStringLiteral("layer 0"), QStringLiteral("layer 1"),
                                 QStringLiteral("head 2"), QStringLiteral("no map")})
      QVERIFY2(texts.contains(label),
               qPrintable(label + QStringLiteral(" not among ") + texts.join(QLatin1Char('|'))));

    const CsvTable table = figure.exportTable();
    QCOMPARE(table.rows.size(), 6);
    QCOMPARE(table.rows[5].mid(1, 3), (QStringList{"1", "2", "0"}));  // layer 1 head 2: no map
    QCOMPARE(table.rows[0].value(6).toDouble(), 1.0);                 // the diagonal head's largest value
  }

  void levelFitsTheCellPixels() {
    const QString path = m_dir.filePath(QStringLiteral("long.h5"));
    test::writeKnownCapture(path, {600, 1, 1});
    CaptureDocument document;
    QVERIFY(document.open(path));
    HeadsFigure figure(&document);
    figure.setCellPixels(100);
    QVERIFY(waitUntilDrawn(figure));
    // 600 tokens into 100 pixels: level 3 (75 cells of 8 tokens) is the finest with no more cells than
    // pixels.
    const MapTile& tile = figure.tile(0, 0);
    QCOMPARE(tile.request.level, 3);
    QCOMPARE(tile.rows(), 75);
    QCOMPARE(tile.columns(), 75);
    // Max-pooled: the cell holding query 599, key 599 has the map's largest value.
    QCOMPARE(tile.at(599, 599), test::knownMapValue(599, 599, 600));
    QCOMPARE(headsFigureCellPixels(headsFigureSize(4, 4, 100), 2.0, 4, 4), 200);
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
};

QTEST_MAIN(TestHeadsFigure)
#include "tst_headsfigure.moc"
