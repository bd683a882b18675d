// The per-token table (issue 15): the values it shows against the known capture, its behaviour as an item
// model (QAbstractItemModelTester), sorting through the proxy, the selection link both ways, and the TSV that
// Ctrl+C copies. On the bundled needle capture: the argmax column names the key's token and the head-type
// columns come from the file.

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QClipboard>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "attnscope/store.h"
#include "capturedocument.h"
#include "knowncapture.h"
#include "pertokenmodel.h"
#include "pertokenview.h"

using namespace attnscope;
using namespace attnscope::widgets;

class TestPerTokenView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("known.h5"));
    test::writeKnownCapture(m_path);
  }

  void modelValues() {
    auto file = CaptureFile::open(m_path.toStdString());
    PerTokenModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    for (int run = 0; run < 2; ++run) {
      const QString name = run == 0 ? QStringLiteral("softmax") : QStringLiteral("ssmax");
      PerTokenTable table = readPerTokenTable(*file, name, 1, 2);
      // The catalogue's viewed order, restricted to what the run stores (ssmax has no targets).
      const QStringList expected = run == 0
                                       ? QStringList{"max_prob", "entropy", "target_mass", "induction_mass"}
                                       : QStringList{"max_prob", "entropy", "induction_mass"};
      QCOMPARE(table.stats, expected);
      QStringList display;
      for (int i = 0; i < 8; ++i) display << test::knownToken(i);
      model.setTable(std::move(table), display);
      QCOMPARE(model.rowCount(), 8);
      QCOMPARE(model.columnCount(), 2 + expected.size());
      for (int q = 0; q < 8; ++q) {
        QCOMPARE(model.index(q, PerTokenModel::PositionColumn).data().toString(), QString::number(q));
        QCOMPARE(model.index(q, PerTokenModel::TokenColumn).data().toString(), test::knownToken(q));
        for (const QString& stat : expected) {
          const float want = test::knownStatValue(run, stat, 1, 2, q);
          const QModelIndex index = model.index(q, model.statColumn(stat));
          if (std::isnan(want)) {
            QCOMPARE(index.data().toString(), QStringLiteral("—"));
          } else {
            QCOMPARE(index.data(PerTokenModel::SortRole).toDouble(), double(want));
            QCOMPARE(index.data().toString(), QString::number(double(want), 'g', 4));
          }
        }
      }
      QCOMPARE(
          model.headerData(model.statColumn("max_prob"), Qt::Horizontal, PerTokenModel::NameRole).toString(),
          QStringLiteral("max_prob"));
    }
    model.clear();
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.columnCount(), 0);
  }

  void sorting() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    PerTokenView view(&document);
    QVERIFY(waitForContent(view));
    QAbstractItemModelTester tester(view.proxy(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    // Softmax's max_prob falls with the query: sorted ascending, the last query comes first.
    const int column = view.model()->statColumn(QStringLiteral("max_prob"));
    view.table()->sortByColumn(column, Qt::AscendingOrder);
    QSortFilterProxyModel* proxy = view.proxy();
    for (int row = 0; row < 8; ++row) QCOMPARE(proxy->index(row, 0).data().toInt(), 7 - row);
    double previous = -1e9;
    for (int row = 0; row < 8; ++row) {
      const double value = proxy->index(row, column).data(PerTokenModel::SortRole).toDouble();
      QVERIFY(value >= previous);
      previous = value;
    }
    view.table()->sortByColumn(PerTokenModel::TokenColumn, Qt::AscendingOrder);
    QStringList shown;  // tokens as drawn (␣ for a space, ↵ for a newline), sorted by text
    for (int i = 0; i < 8; ++i) shown << document.displayToken(i);
    shown.sort();
    for (int row = 0; row < 8; ++row)
      QCOMPARE(proxy->index(row, PerTokenModel::TokenColumn).data().toString(), shown[row]);
  }

  void selectionLink() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    document.setQuery(3);
    PerTokenView view(&document);
    view.resize(600, 300);
    view.show();
    QVERIFY(waitForContent(view));
    view.table()->sortByColumn(view.model()->statColumn(QStringLiteral("max_prob")), Qt::AscendingOrder);
    // The document's query is the current row, wherever sorting put it.
    const auto currentQuery = [&] { return view.proxy()->mapToSource(view.table()->currentIndex()).row(); };
    document.setQuery(5);
    QCOMPARE(currentQuery(), 5);
    QCOMPARE(view.table()->selectionModel()->selectedRows().size(), 1);
    // Clicking a row selects its query.
    const QModelIndex row6 = view.proxy()->mapFromSource(view.model()->index(6, 1));
    view.table()->scrollTo(row6);
    QTest::mouseClick(view.table()->viewport(), Qt::LeftButton, {}, view.table()->visualRect(row6).center());
    QCOMPARE(document.selection().query, 6);
    // Another head reloads the table and keeps the query selected.
    document.setHead(0, 1);
    QVERIFY(waitForContent(view));
    QCOMPARE(currentQuery(), 6);
    QCOMPARE(view.proxy()->index(0, 0).data(PerTokenModel::SortRole).isValid(), true);
  }

  void tsv() {
    CaptureDocument document;
    QVERIFY(document.open(m_path));
    document.setHead(1, 2);
    PerTokenView view(&document);
    QVERIFY(waitForContent(view));
    view.table()->selectionModel()->select(
        QItemSelection(view.proxy()->index(1, 0), view.proxy()->index(2, view.proxy()->columnCount() - 1)),
        QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    view.copySelection();
    const QStringList lines = QApplication::clipboard()->text().split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 3);
    QCOMPARE(lines[0], QStringLiteral("query\ttoken\tmax_prob\tentropy\ttarget_mass\tinduction_mass"));
    const QStringList cells = lines[1].split(QLatin1Char('\t'));
    QCOMPARE(cells.size(), 6);
    QCOMPARE(cells[0], QStringLiteral("1"));
    QCOMPARE(cells[2], QString::number(double(test::knownStatValue(0, "max_prob", 1, 2, 1)), 'g', 4));
    QCOMPARE(cells[5], QStringLiteral("—"));  // induction mass is undefined at query 1
    // Query 7's token is a newline: the TSV keeps one line per row.
    view.table()->selectionModel()->select(view.proxy()->index(7, 0),
                                           QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    QCOMPARE(view.selectedTsv().count(QLatin1Char('\n')), 2);
  }

  void longCapture() {
    // 65,536 queries (statistics only: no T×T map): the table reads off the GUI thread, shows every row,
    // sorts and follows the selection. Prints how long each step took (not asserted: the machine is shared).
    const QString path = m_dir.filePath(QStringLiteral("long.h5"));
    test::KnownCaptureOptions options;
    options.n_tokens = 65536;
    for (int layer = 0; layer < 2; ++layer)
      for (int head = 0; head < 3; ++head) options.heads_without_map.push_back({layer, head});
    test::writeKnownCapture(path, options);
    CaptureDocument document;
    QVERIFY(document.open(path));
    QElapsedTimer timer;
    timer.start();
    PerTokenView view(&document);
    view.resize(600, 300);
    view.show();
    const qint64 built = timer.restart();
    QVERIFY(waitForContent(view));
    const qint64 loaded = timer.restart();
    QCOMPARE(view.model()->rowCount(), 65536);
    view.table()->sortByColumn(view.model()->statColumn(QStringLiteral("entropy")), Qt::DescendingOrder);
    const qint64 sorted = timer.restart();
    QCOMPARE(view.proxy()->index(0, 0).data().toInt(), 65535);  // entropy grows with the query
    document.setQuery(40000);
    QCOMPARE(view.proxy()->mapToSource(view.table()->currentIndex()).row(), 40000);
    qInfo("64k queries: view built in %lld ms, table read and shown %lld ms later, sorted in %lld ms", built,
          loaded, sorted);
  }

  void bundledArgmax() {
    const QString bundled = qEnvironmentVariable("ATTNSCOPE_BUNDLED_CAPTURE");
    if (bundled.isEmpty()) QSKIP("ATTNSCOPE_BUNDLED_CAPTURE not set");
    auto file = CaptureFile::open(bundled.toStdString());
    const RunInfo run = file->runs().front();
    PerTokenTable table = readPerTokenTable(*file, QString::fromStdString(run.name), 0, 0);
    QVERIFY(table.stats.contains(QStringLiteral("argmax")));
    QCOMPARE(table.stats.indexOf(QStringLiteral("argmax")),
             table.stats.indexOf(QStringLiteral("max_prob")) + 1);
    for (const char* stat : {"prev_token_mass", "induction_mass", "local_mass", "mean_distance"})
      QCOMPARE(table.stats.contains(QLatin1String(stat)),
               std::find(run.stats.begin(), run.stats.end(), stat) != run.stats.end());
    const std::vector<float> argmax = file->readStat(run.name, "argmax", 0, 0);
    CaptureDocument document;
    QVERIFY(document.open(bundled));
    PerTokenModel model;
    QStringList display;
    for (int i = 0; i < document.nTokens(); ++i) display << document.displayToken(i);
    model.setTable(std::move(table), display);
    const int q = document.nTokens() - 1, key = static_cast<int>(argmax[static_cast<std::size_t>(q)]);
    QCOMPARE(model.index(q, model.statColumn("argmax")).data().toString(),
             QStringLiteral("%1 «%2»").arg(key).arg(document.displayToken(key)));
  }

 private:
  static bool waitForContent(PerTokenView& view) {
    QSignalSpy spy(&view, &PerTokenView::contentReady);
    return spy.wait(10000);
  }

  QTemporaryDir m_dir;
  QString m_path;
};

QTEST_MAIN(TestPerTokenView)
#include "tst_pertokenview.moc"
