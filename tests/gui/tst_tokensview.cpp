// The tokens view's search, target marks and key mode (issue 15): findInTokens across token boundaries, the
// find field (typing, Enter, Shift+Enter, Ctrl+F) selecting the match's query, the run's --targets ranges
// underlined, and key mode shading each query by the map's column of the clicked key.

#include <QFile>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

#include <cmath>

#include "attnscope/store.h"
#include "capturedocument.h"
#include "colormaps.h"
#include "knowncapture.h"
#include "plotexport.h"
#include "tokensearch.h"
#include "tokensview.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

/// A map whose column of each key differs per query, layer and head (0 above the diagonal, as causal).
float columnValue(int layer, int head, int query, int key) {
  if (key > query) return 0;
  return static_cast<float>((query * 7 + key * 3 + head + 2 * layer) % 11) / 11.0f;
}

}  // namespace

class TestTokensView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("known.h5"));
    test::KnownCaptureOptions options;
    options.n_tokens = 12;
    options.map_value = columnValue;
    test::writeKnownCapture(m_path, options);
  }

  void findAcrossTokenBoundaries() {
    const QStringList tokens{"The", " cat", " sat", " on", " the", " mat", ".", "\n"};
    QCOMPARE(findInTokens(tokens, QStringLiteral("t sa")), (std::vector<TokenMatch>{{1, 2}}));
    QCOMPARE(findInTokens(tokens, QStringLiteral("at")), (std::vector<TokenMatch>{{1, 1}, {2, 2}, {5, 5}}));
    QCOMPARE(findInTokens(tokens, QStringLiteral("THE")), (std::vector<TokenMatch>{{0, 0}, {4, 4}}));
    QCOMPARE(findInTokens(tokens, QStringLiteral("THE"), Qt::CaseSensitive), std::vector<TokenMatch>{});
    QCOMPARE(findInTokens(tokens, QStringLiteral("on the mat.\n")), (std::vector<TokenMatch>{{3, 7}}));
    QCOMPARE(findInTokens(tokens, QString()), std::vector<TokenMatch>{});
    QCOMPARE(findInTokens({"a", "", "b"}, QStringLiteral("ab")), (std::vector<TokenMatch>{{0, 2}}));
  }

  void findFieldJumpsAndSelects() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    TokensView view(&document);
    view.resize(640, 240);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QTest::keyClick(&view, Qt::Key_F, Qt::ControlModifier);
    QTRY_VERIFY(view.findField()->hasFocus());
    QTest::keyClicks(view.findField(), QStringLiteral("cat sat"));
    QCOMPARE(view.matches(), (std::vector<TokenMatch>{{1, 2}}));
    QCOMPARE(document.selection().query, 1);
    view.findField()->clear();
    QTest::keyClicks(view.findField(), QStringLiteral("at"));
    // " cat", " sat", " mat", then tokens 9 and 10: " cat1", " sat1" (knownToken).
    QCOMPARE(view.matches(), (std::vector<TokenMatch>{{1, 1}, {2, 2}, {5, 5}, {9, 9}, {10, 10}}));
    QCOMPARE(document.selection().query, 1);
    QTest::keyClick(view.findField(), Qt::Key_Return);
    QCOMPARE(document.selection().query, 2);
    QTest::keyClick(view.findField(), Qt::Key_Return);
    QCOMPARE(document.selection().query, 5);
    QTest::keyClick(view.findField(), Qt::Key_Return, Qt::ShiftModifier);
    QCOMPARE(document.selection().query, 2);
    QTest::keyClick(view.findField(), Qt::Key_Return, Qt::ShiftModifier);
    QTest::keyClick(view.findField(), Qt::Key_Return, Qt::ShiftModifier);  // wraps to the last match
    QCOMPARE(document.selection().query, 10);
    QVERIFY(view.findField()->text() == QLatin1String("at"));
  }

  void findInFileOfDrawnTokens() {
    // The bundled capture stores byte-level tokens as drawn (␣ for a space): search reads them as text.
    const QString bundled = qEnvironmentVariable("ATTNSCOPE_BUNDLED_CAPTURE");
    if (bundled.isEmpty()) QSKIP("ATTNSCOPE_BUNDLED_CAPTURE not set");
    CaptureDocument document;
    QVERIFY(document.open(bundled));
    TokensView view(&document);
    view.find(QStringLiteral("magic Prague number is: "));
    // The needle, and the question's restatement at the end of the prompt.
    QCOMPARE(view.matches().size(), std::size_t(2));
    const TokenMatch match = view.matches().front();
    QVERIFY(!view.isTarget(view.matches().back().first));
    QCOMPARE(match.last - match.first + 1, 24);  // byte-level: one token per character
    QCOMPARE(document.selection().query, match.first);
    QVERIFY(view.isTarget(match.first) && view.isTarget(match.last));  // inside the needle (--targets)
    QVERIFY(!view.isTarget(match.first - 20));
  }

  void targetsAreUnderlined() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    document.setRun(QStringLiteral("softmax"));  // targets {2, 4}: " sat on"
    TokensView view(&document);
    view.resize(640, 240);
    for (int i = 0; i < 12; ++i) QCOMPARE(view.isTarget(i), i == 2 || i == 3);
    const QImage image = view.viewport()->grab().toImage();
    const QRect target = view.tokenRect(2), other = view.tokenRect(5);
    const auto blueOnBottom = [&](const QRect& rect) {
      const QColor c = image.pixelColor(rect.center().x(), rect.bottom());
      return c.blue() > 150 && c.red() < 80;
    };
    QVERIFY(blueOnBottom(target));
    QVERIFY(!blueOnBottom(other));
    // The exported figure underlines them too, and its legend says what the underline means.
    ExportOptions options;
    options.width = 500, options.height = 300, options.scale = 1;
    QString error;
    const QString png = m_dir.filePath(QStringLiteral("targets.png")), svg = m_dir.filePath("targets.svg");
    QVERIFY2(exportSource(view, png, options, &error), qPrintable(error));
    QVERIFY2(exportSource(view, svg, options, &error), qPrintable(error));
    const QImage figure = QImage(png).convertToFormat(QImage::Format_RGB32);
    int underline = 0;
    for (int y = 0; y < figure.height(); ++y)
      for (int x = 0; x < figure.width(); ++x) underline += figure.pixelColor(x, y) == targetColor();
    QVERIFY2(underline > 20, qPrintable(QString::number(underline)));
    QFile file(svg);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(QString::fromUtf8(file.readAll()).contains(QStringLiteral("target (--targets)")));
    document.setRun(QStringLiteral("ssmax"));  // no targets
    QVERIFY(!view.isTarget(2));
  }

  void keyModeShadesByTheMapColumn() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    document.setHead(1, 2);
    document.setQuery(11);
    TokensView view(&document);
    view.resize(640, 240);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy ready(&view, &TokensView::contentReady);
    QSignalSpy keys(&view, &TokensView::keyChanged);  // the window marks the key on the heatmap
    view.keyModeButton()->click();
    QCOMPARE(view.mode(), TokensView::Mode::Key);
    QCOMPARE(view.key(), 11);  // key mode starts on the selected query
    QVERIFY(ready.wait(10000));
    ready.clear();
    // Clicking a token in key mode makes it the key and leaves the query.
    QTest::mouseClick(view.viewport(), Qt::LeftButton, {}, view.tokenRect(4).center());
    QCOMPARE(view.key(), 4);
    QCOMPARE(document.selection().query, 11);
    QCOMPARE(keys.size(), 2);
    QCOMPARE(keys.at(0).at(0).toInt(), 11);
    QCOMPARE(keys.at(1).at(0).toInt(), 4);
    QVERIFY(ready.wait(10000));
    QCOMPARE(view.weights().size(), std::size_t(12));
    for (int q = 0; q < 12; ++q)  // stored as fp16
      QVERIFY2(std::abs(view.weights()[std::size_t(q)] - columnValue(1, 2, q, 4)) < 1e-3,
               qPrintable(QString::number(q)));
    // The export says what key mode shows: the CSV lists the column, the figure's legend the key.
    QCOMPARE(view.exportTable().header.last(), QStringLiteral("attention to key 4"));
    QCOMPARE(view.exportTable().rows.size(), 12);
    ExportOptions options;
    options.width = 500, options.height = 300, options.scale = 1;
    QString error;
    const QString svg = m_dir.filePath(QStringLiteral("key.svg"));
    QVERIFY2(exportSource(view, svg, options, &error), qPrintable(error));
    QFile file(svg);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QString text = QString::fromUtf8(file.readAll());
    QVERIFY(text.contains(QStringLiteral("Attention to key 4")));
    QVERIFY(text.contains(QStringLiteral("attention given to the key")));
    QVERIFY(text.contains(QStringLiteral("before the key, cannot see it")));
    // Another head: the column of the same key there.
    ready.clear();
    document.setHead(0, 1);
    QVERIFY(ready.wait(10000));
    for (int q = 0; q < 12; ++q)
      QVERIFY(std::abs(view.weights()[std::size_t(q)] - columnValue(0, 1, q, 4)) < 1e-3);
    // Back to query mode: the query's row.
    ready.clear();
    view.keyModeButton()->click();
    QVERIFY(ready.wait(10000));
    for (int k = 0; k < 12; ++k)
      QVERIFY(std::abs(view.weights()[std::size_t(k)] - columnValue(0, 1, 11, k)) < 1e-3);
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
};

QTEST_MAIN(TestTokensView)
#include "tst_tokensview.moc"
