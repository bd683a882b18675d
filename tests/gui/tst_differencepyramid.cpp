// The difference pyramid (widgets/differencepyramid.h): every level equals the largest change per block
// computed here from the two runs' level 0 in float64; a build stopped by its job resumes to the same
// values; a declined build reads empty until allowed; the cache keeps to its byte bound. The Compare view
// shows the note of a cancelled overview and computes it again on request.

#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <memory>

#include "attnscope/store.h"
#include "capturedocument.h"
#include "compareview.h"
#include "differencepyramid.h"
#include "heatmapwidget.h"
#include "knowncapture.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

/// Run 0 and run 1 peak on neighbouring keys (the block maxima subtracted cancel), plus a faint ramp.
float peaked(int run, int query, int key) {
  if (key > query) return 0.0f;
  const int peak = (query * 7 / 10) / 2 * 2 + run;
  return key == peak ? (run == 0 ? 0.8f : 0.95f) : 1e-3f * static_cast<float>((query + 3 * key) % 11);
}

/// Largest change (signed) over a level's cell, from level 0 in float64; NaN when the cell has no key a
/// query of it sees.
double referenceCell(const std::vector<float>& a, const std::vector<float>& b, int n, int level, int r,
                     int c) {
  const int s = 1 << level;
  double best = NAN;
  for (int q = r * s; q < std::min(n, r * s + s); ++q)
    for (int k = c * s; k < std::min(n, c * s + s) && k <= q; ++k) {
      const double d =
          double{a[static_cast<std::size_t>(q * n + k)]} - b[static_cast<std::size_t>(q * n + k)];
      if (std::isnan(best) || std::abs(d) > std::abs(best)) best = d;
    }
  return best;
}

}  // namespace

class TestDifferencePyramid : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("peaked.h5"));
    test::KnownCaptureOptions options{kTokens, 1, 1};
    options.map_value = [](int, int, int q, int k) { return peaked(0, q, k); };
    options.compare_map_value = [](int, int, int q, int k) { return peaked(1, q, k); };
    test::writeKnownCapture(m_path, options);
    m_file = CaptureFile::open(m_path.toStdString());
    m_a = m_file->readMapTile("softmax", kHook, 0, 0, 0, kTokens, 0, kTokens);
    m_b = m_file->readMapTile("ssmax", kHook, 0, 0, 0, kTokens, 0, kTokens);
  }

  void firstLevelBoundsTheFinestSide() {
    QCOMPARE(firstDifferenceLevel(600), 1);
    QCOMPARE(firstDifferenceLevel(4096), 1);
    QCOMPARE(firstDifferenceLevel(4097), 2);
    QCOMPARE(firstDifferenceLevel(65536), 5);  // 2048 × 2048 cells
  }

  // Every level the pyramid holds equals the definition, cell by cell.
  void everyLevelHoldsTheLargestChange() {
    DifferencePyramids pyramids;
    int levels = 0;
    for (int level = firstDifferenceLevel(kTokens);; ++level, ++levels) {
      const MapTile tile = readWhole(pyramids, level);
      QVERIFY(!tile.empty());
      checkAgainstReference(tile);
      if (tile.rows() == 1) break;  // one cell: the top
    }
    QCOMPARE(levels, 9);  // 300, 150, ..., 2 cells a side, then 1
  }

  // A build whose job is superseded stops between bands and the next read resumes it to the same values.
  void stoppedBuildResumes() {
    DifferencePyramids pyramids(kDifferencePyramidCacheBytes, 64 * kTokens);  // bands of 64 rows
    int asked = 0;
    const MapTile stopped = readWhole(pyramids, 2, [&asked] {
      return ++asked > 2;
    });  // the read asks once, then the build before each band
    QVERIFY(stopped.empty());
    const DifferenceKey key = keyOf();
    QVERIFY(pyramids.build(key).has_value());
    QVERIFY(!pyramids.build(key)->done);
    QCOMPARE(pyramids.build(key)->fraction, (64.0 / kTokens) * (64.0 / kTokens));  // one band of ten
    const MapTile tile = readWhole(pyramids, 2);
    QVERIFY(!tile.empty());
    QVERIFY(pyramids.build(key)->done);
    QCOMPARE(pyramids.build(key)->fraction, 1.0);
    checkAgainstReference(tile);
  }

  void declinedBuildReadsEmptyUntilAllowed() {
    DifferencePyramids pyramids;
    const DifferenceKey key = keyOf();
    pyramids.decline(key);
    QVERIFY(pyramids.build(key)->declined);
    QVERIFY(readWhole(pyramids, 3).empty());
    pyramids.allow(key);
    const MapTile tile = readWhole(pyramids, 3);
    QVERIFY(!tile.empty());
    checkAgainstReference(tile);
  }

  // Each pyramid of 600 tokens plans 300² + 150² + ... cells; a bound of one and a half keeps one.
  void cacheKeepsToItsBound() {
    const std::size_t one = pyramidBytes(600);
    DifferencePyramids pyramids(one + one / 2);
    QVERIFY(!readWhole(pyramids, 1).empty());
    QCOMPARE(pyramids.bytes(), one);
    QVERIFY(!readWhole(pyramids, 1, {}, "blocks.0.attn.hook_pattern", "softmax", "ssmax", true).empty());
    QCOMPARE(pyramids.bytes(), one);  // the older pyramid made way
    QVERIFY(!pyramids.build(keyOf()).has_value());
  }

  // The Compare view says when the overview was cancelled and computes it on request.
  void compareViewOffersToComputeACancelledOverview() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    DifferencePyramids::shared().clear();
    DifferencePyramids::shared().decline(keyOf());
    CompareView view(&document);
    view.resize(1200, 700);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QTRY_VERIFY(view.differenceNote().contains(QStringLiteral("cancelled")));
    QVERIFY(view.differenceMap()->tile().empty());
    view.toggleDifferenceBuild();  // the note's Compute button
    QTRY_VERIFY_WITH_TIMEOUT(!view.differenceMap()->tile().empty() && !view.isLoading(), 20000);
    QTRY_VERIFY(view.differenceNote().isEmpty());
    const MapTile& tile = view.differenceMap()->tile();
    QVERIFY(tile.request.level >= 1);
    const int level = tile.request.level;
    const double expected = referenceCell(m_a, m_b, kTokens, level, 500 >> level, 350 >> level);
    QVERIFY(expected < -0.9);  // run 1's peak; the subtracted block maxima would cancel
    QVERIFY2(std::abs(tile.at(500, 350) - expected) < 1e-6, qPrintable(QString::number(tile.at(500, 350))));
  }

 private:
  static constexpr int kTokens = 600;
  static constexpr const char* kHook = "blocks.0.attn.hook_pattern";

  DifferenceKey keyOf(const std::string& run = "softmax", const std::string& other = "ssmax") const {
    return differenceKey(m_file->path(), m_file->run(run), m_file->run(other), kHook, 0);
  }

  static std::size_t pyramidBytes(int64_t n) {
    std::size_t cells = 0;
    for (int64_t side = (n + 1) / 2;; side = (side + 1) / 2) {
      cells += static_cast<std::size_t>(side * side);
      if (side <= 1) break;
    }
    return cells * sizeof(float);
  }

  MapTile readWhole(DifferencePyramids& pyramids, int level, std::function<bool()> cancelled = {},
                    const std::string& hook = kHook, const std::string& run = "softmax",
                    const std::string& other = "ssmax", bool reversed = false) const {
    TileRequest request;
    request.run = reversed ? other : run;
    request.hook = hook;
    request.level = level;
    request.r1 = request.c1 = (kTokens + (1 << level) - 1) >> level;
    return pyramids.read(*m_file, request, reversed ? run : other, kTokens, cancelled);
  }

  void checkAgainstReference(const MapTile& tile) const {
    for (int r = 0; r < tile.rows(); ++r)
      for (int c = 0; c < tile.columns(); ++c) {
        const double expected = referenceCell(m_a, m_b, kTokens, tile.request.level, r, c);
        const float got = tile.values[static_cast<std::size_t>(r * tile.columns() + c)];
        if (std::isnan(expected)) continue;  // above the diagonal: the view masks it
        QVERIFY2(std::abs(got - expected) < 1e-6,
                 qPrintable(QStringLiteral("level %1 cell (%2, %3): %4, expected %5")
                                .arg(tile.request.level)
                                .arg(r)
                                .arg(c)
                                .arg(got)
                                .arg(expected)));
      }
  }

  QTemporaryDir m_dir;
  QString m_path;
  std::unique_ptr<CaptureFile> m_file;
  std::vector<float> m_a, m_b;  // [T, T] level 0 of each run
};

QTEST_MAIN(TestDifferencePyramid)
#include "tst_differencepyramid.moc"
