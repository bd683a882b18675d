// Compare view: the per-head summary (mean over the last 10% of queries, run A, run B, A − B) has the known
// capture's values and passes QAbstractItemModelTester, directly and through the sorting proxy; the three
// maps share zoom and pan; the difference map holds run − compare run; opening another file whose runs have
// the same names shows that file's numbers.

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include <cmath>

#include "attnscope/analysis.h"
#include "attnscope/store.h"
#include "capturedocument.h"
#include "comparesummarymodel.h"
#include "compareview.h"
#include "heatmapwidget.h"
#include "knowncapture.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

constexpr int kTokens = 64, kLayers = 2, kHeads = 3;

/// The mean of the last ceil(T / 10) queries (7 of 64), all after the target tokens 2..3.
double expectedTailMean(int run, const QString& stat, int layer, int head, int n_tokens = kTokens) {
  const int64_t q0 = n_tokens - (n_tokens + 9) / 10;
  double sum = 0;
  for (int64_t q = q0; q < n_tokens; ++q)
    sum += test::knownStatValue(run, stat, layer, head, static_cast<int>(q));
  return sum / static_cast<double>(n_tokens - q0);
}

}  // namespace

class TestCompareView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("known.h5"));
    test::writeKnownCapture(m_path, {kTokens, kLayers, kHeads});
  }

  void tailBeginCoversTheLastTenPercent() {
    QCOMPARE(summaryTailBegin(64), int64_t(57));  // ceil(6.4) = 7 queries
    QCOMPARE(summaryTailBegin(10), int64_t(9));
    QCOMPARE(summaryTailBegin(30), int64_t(27));  // exactly 3, though 0.1 * 30 > 3 in floating point
    QCOMPARE(summaryTailBegin(25), int64_t(22));
    QCOMPARE(summaryTailBegin(3), int64_t(2));  // at least one query
    QCOMPARE(summaryTailBegin(1), int64_t(0));
  }

  void summaryValues_data() {
    QTest::addColumn<QString>("stat");
    QTest::newRow("max_prob") << "max_prob";
    QTest::newRow("entropy") << "entropy";
    QTest::newRow("target_mass") << "target_mass";  // run B lacks it: NaN, shown as "–"
  }

  void summaryValues() {
    QFETCH(QString, stat);
    auto file = CaptureFile::open(m_path.toStdString());
    CompareSummaryModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setSummary(
        computeCompareSummary(*file, {QStringLiteral("softmax"), QStringLiteral("ssmax"), stat}));
    QCOMPARE(model.rowCount(), kLayers * kHeads);
    QCOMPARE(model.columnCount(), int(CompareSummaryModel::ColumnCount));
    QCOMPARE(model.headerData(CompareSummaryModel::RunAColumn, Qt::Horizontal).toString(),
             QStringLiteral("softmax"));
    for (int row = 0; row < model.rowCount(); ++row) {
      const int layer = row / kHeads, head = row % kHeads;
      const auto value = [&](int column) {
        return model.index(row, column).data(CompareSummaryModel::ValueRole);
      };
      QCOMPARE(value(CompareSummaryModel::LayerColumn).toInt(), layer);
      QCOMPARE(value(CompareSummaryModel::HeadColumn).toInt(), head);
      const double a = expectedTailMean(0, stat, layer, head), b = expectedTailMean(1, stat, layer, head);
      QVERIFY(std::abs(value(CompareSummaryModel::RunAColumn).toDouble() - a) < 1e-5);
      if (std::isnan(b)) {
        QVERIFY(std::isnan(value(CompareSummaryModel::RunBColumn).toDouble()));
        QCOMPARE(model.index(row, CompareSummaryModel::DifferenceColumn).data().toString(),
                 QStringLiteral("–"));
      } else {
        QVERIFY(std::abs(value(CompareSummaryModel::RunBColumn).toDouble() - b) < 1e-5);
        QVERIFY(std::abs(value(CompareSummaryModel::DifferenceColumn).toDouble() - (a - b)) < 1e-5);
      }
    }
    model.clear();
    QCOMPARE(model.rowCount(), 0);
  }

  void viewSortsSelectsAndSynchronises() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));  // the second run becomes the compare run
    QCOMPARE(document.selection().compareRun, QStringLiteral("ssmax"));
    CompareView view(&document);
    QAbstractItemModelTester tester(view.summaryTable()->model(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    view.resize(1200, 800);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QTRY_COMPARE_WITH_TIMEOUT(view.summaryModel()->rowCount(), kLayers * kHeads, 10000);

    // Sorted by A − B ascending: the first row has the smallest change.
    QAbstractItemModel* sorted = view.summaryTable()->model();
    double previous = -1e9;
    for (int row = 0; row < sorted->rowCount(); ++row) {
      const double d = sorted->index(row, CompareSummaryModel::DifferenceColumn)
                           .data(CompareSummaryModel::ValueRole)
                           .toDouble();
      QVERIFY(d >= previous);
      previous = d;
    }
    // Clicking a row selects its head.
    const QModelIndex last = sorted->index(sorted->rowCount() - 1, 0);
    const int layer = last.data(CompareSummaryModel::ValueRole).toInt();
    const int head = sorted->index(last.row(), 1).data(CompareSummaryModel::ValueRole).toInt();
    QTest::mouseClick(view.summaryTable()->viewport(), Qt::LeftButton, {},
                      view.summaryTable()->visualRect(last).center());
    QCOMPARE(document.selection().layer, layer);
    QCOMPARE(document.selection().head, head);

    // Zooming one map zooms the others.
    for (HeatmapWidget* map : {view.runMap(), view.compareMap(), view.differenceMap()})
      QTRY_VERIFY_WITH_TIMEOUT(!map->tile().empty() && !map->isLoading(), 10000);
    view.compareMap()->plot()->xAxis->setRange(9.5, 29.5);
    view.compareMap()->plot()->yAxis->setRange(19.5, 39.5);
    for (HeatmapWidget* map : {view.runMap(), view.differenceMap()}) {
      QCOMPARE(map->plot()->xAxis->range().lower, 9.5);
      QCOMPARE(map->plot()->yAxis->range().upper, 39.5);
    }
    // Both runs store the same known map, so their difference is 0 everywhere.
    QTRY_VERIFY_WITH_TIMEOUT(!view.differenceMap()->isLoading(), 10000);
    const MapTile& tile = view.differenceMap()->tile();
    QVERIFY(!tile.empty());
    for (float v : tile.values) QVERIFY(v == 0.0f || std::isnan(v));  // NaN: masked cells (future keys)
    QVERIFY(view.differenceMap()->describeCell(30, 20).contains(QStringLiteral("Δp = 0")));
    QVERIFY(view.runMap()->tile().at(30, 20) > 0.3f);
  }

  void openingAnotherFileRefreshesTheTable_data() {
    QTest::addColumn<int>("n_tokens");  // of the second file; its runs have the first file's names
    QTest::newRow("shorter prompt") << 32;
    QTest::newRow("longer prompt") << 100;
  }

  void openingAnotherFileRefreshesTheTable() {
    QFETCH(int, n_tokens);
    const QString second = m_dir.filePath(QStringLiteral("second-%1.h5").arg(n_tokens));
    test::writeKnownCapture(second, {n_tokens, kLayers, kHeads});
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    CompareView view(&document);
    QTRY_COMPARE_WITH_TIMEOUT(view.summaryModel()->rowCount(), kLayers * kHeads, 10000);
    QCOMPARE(view.summaryModel()->summary().n_tokens, int64_t(kTokens));

    QVERIFY(document.open(second));  // the same runs, the same statistic: only the numbers differ
    QTRY_COMPARE_WITH_TIMEOUT(view.summaryModel()->summary().n_tokens, int64_t(n_tokens), 5000);
    QAbstractItemModel* table = view.summaryTable()->model();
    QCOMPARE(table->rowCount(), kLayers * kHeads);
    for (int row = 0; row < table->rowCount(); ++row) {
      const auto value = [&](int column) {
        return table->index(row, column).data(CompareSummaryModel::ValueRole).toDouble();
      };
      const int layer = static_cast<int>(value(CompareSummaryModel::LayerColumn));
      const int head = static_cast<int>(value(CompareSummaryModel::HeadColumn));
      const double a = expectedTailMean(0, QStringLiteral("max_prob"), layer, head, n_tokens);
      const double b = expectedTailMean(1, QStringLiteral("max_prob"), layer, head, n_tokens);
      QVERIFY(std::abs(a - expectedTailMean(0, QStringLiteral("max_prob"), layer, head)) > 1e-3);
      QVERIFY(std::abs(value(CompareSummaryModel::RunAColumn) - a) < 1e-5);
      QVERIFY(std::abs(value(CompareSummaryModel::RunBColumn) - b) < 1e-5);
    }
  }

  void noCompareRunExplainsItself() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    document.setCompareRun(QString());
    CompareView view(&document);
    QCOMPARE(view.summaryModel()->rowCount(), 0);
    QVERIFY(view.compareMap()->tile().empty());
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
};

QTEST_MAIN(TestCompareView)
#include "tst_compareview.moc"
