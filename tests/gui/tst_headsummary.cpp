// One per-head summary in every view: the head grid, the compare table and `attnscope-cli stats --heads` show
// the same number for the same head — the mean over the last ceil(T / 10) queries, for target_mass only over
// those that see a target. The capture is built so that the old definitions (all queries; floor(T / 10)
// queries; every tail query for target_mass) would each give other numbers.

#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <map>

#include "attnscope/store.h"
#include "comparesummarymodel.h"
#include "headgridmodel.h"

using namespace attnscope;
using namespace attnscope::widgets;

namespace {

constexpr int kTokens = 25, kLayers = 2, kHeads = 3;   // tail: queries 22, 23, 24
constexpr int64_t kTargetBegin = 23, kTargetEnd = 24;  // query 22 cannot see the target

/// Stat value of run r (0: "softmax", 1: "ssmax") at (layer, head, query): distinct per query, so the tail
/// chosen matters.
float statValue(int r, const std::string& stat, int layer, int head, int q) {
  const float base = stat == "entropy" ? 2.0f : 0.1f;
  return base + 0.01f * static_cast<float>(q * (head + 1)) / (1.0f + static_cast<float>(layer + r)) +
         (stat == "target_mass" ? 0.2f * static_cast<float>(head) : 0.0f);
}

/// The expected summary, spelled out: which queries count, then their mean.
double expected(int r, const std::string& stat, int layer, int head) {
  const std::vector<int> queries =
      stat == "target_mass" ? std::vector<int>{23, 24} : std::vector<int>{22, 23, 24};
  double sum = 0;
  for (int q : queries) sum += statValue(r, stat, layer, head, q);
  return sum / static_cast<double>(queries.size());
}

void writeCapture(const QString& path) {
  CaptureTokens tokens;
  for (int i = 0; i < kTokens; ++i) tokens.ids.push_back(i), tokens.text.push_back("t" + std::to_string(i));
  auto file = CaptureFile::create(path.toStdString(), {"{}", "summary-test", "0"}, tokens);
  const char* const names[] = {"softmax", "ssmax"};
  for (int r = 0; r < 2; ++r) {
    RunSpec spec;
    spec.name = names[r];
    spec.normalizer = names[r];
    spec.n_layer = kLayers, spec.n_head = kHeads, spec.n_tokens = kTokens;
    spec.stats = {"max_prob", "entropy", "sink_mass", "target_mass", "n_keys"};
    spec.targets = {{kTargetBegin, kTargetEnd}};
    RunWriter writer = file->beginRun(spec);
    for (const std::string& stat : spec.stats)
      for (int layer = 0; layer < kLayers; ++layer) {
        std::vector<float> values;  // [head, q]
        for (int head = 0; head < kHeads; ++head)
          for (int q = 0; q < kTokens; ++q)
            values.push_back(stat == "n_keys" ? static_cast<float>(q + 1)
                                              : statValue(r, stat, layer, head, q));
        writer.writeStat(stat, layer, 0, kTokens, values.data());
      }
    writer.finish();
  }
}

/// `attnscope-cli stats --heads FILE`: run → stat → value per (layer, head), as printed.
using CliValues = std::map<std::string, std::map<std::string, std::map<std::pair<int, int>, QString>>>;

CliValues runCliStats(const QString& path) {
  QProcess cli;
  cli.start(QStringLiteral(ATTNSCOPE_CLI_BINARY), {QStringLiteral("stats"), QStringLiteral("--heads"), path});
  if (!cli.waitForFinished(60000) || cli.exitCode() != 0) {
    qWarning("attnscope-cli stats failed: %s", cli.readAllStandardError().constData());
    return {};
  }
  CliValues out;
  std::string run;
  QStringList columns;
  const QRegularExpression headRow(QStringLiteral("^\\s+(\\d+)\\s+(\\d+)((?:\\s+\\S+)+)$"));
  for (const QString& line : QString::fromUtf8(cli.readAllStandardOutput()).split(QLatin1Char('\n'))) {
    if (line.startsWith(QLatin1String("run "))) run = line.section(QLatin1Char(' '), 1, 1).toStdString();
    const QStringList words = line.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    if (words.size() > 2 && words[0] == QLatin1String("layer") && words[1] == QLatin1String("head"))
      columns = words.mid(2);
    const QRegularExpressionMatch match = headRow.match(line);
    if (!match.hasMatch()) continue;
    const QStringList values = match.captured(3).split(QLatin1Char(' '), Qt::SkipEmptyParts);
    for (int i = 0; i < values.size() && i < columns.size(); ++i)
      out[run][columns[i].toStdString()][{match.captured(1).toInt(), match.captured(2).toInt()}] = values[i];
  }
  return out;
}

}  // namespace

class TestHeadSummary : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("summary.h5"));
    writeCapture(m_path);
    m_cli = runCliStats(m_path);
    QVERIFY(!m_cli.empty());
  }

  void threeViewsShowOneValue_data() {
    QTest::addColumn<QString>("stat");
    for (const char* stat : {"max_prob", "entropy", "sink_mass", "target_mass"}) QTest::newRow(stat) << stat;
  }

  void threeViewsShowOneValue() {
    QFETCH(QString, stat);
    const std::string name = stat.toStdString();
    auto file = CaptureFile::open(m_path.toStdString());
    HeadGridModel grid;
    HeadGridRequest gridRequest;
    gridRequest.run = QStringLiteral("softmax");
    gridRequest.stat = stat;
    grid.setValues(computeHeadGrid(*file, gridRequest));
    CompareSummaryModel table;
    table.setSummary(
        computeCompareSummary(*file, {QStringLiteral("softmax"), QStringLiteral("ssmax"), stat}));
    QCOMPARE(table.summary().q0, int64_t(22));
    QCOMPARE(table.rowCount(), kLayers * kHeads);
    for (int row = 0; row < table.rowCount(); ++row) {
      const int layer = row / kHeads, head = row % kHeads;
      const QString where = QStringLiteral("%1 L%2 H%3").arg(stat).arg(layer).arg(head);
      const double want = expected(0, name, layer, head), wantB = expected(1, name, layer, head);
      // Head grid (run A).
      QVERIFY2(std::abs(grid.value(layer, head) - want) < 1e-6, qPrintable(where));
      QCOMPARE(grid.index(layer, head).data(HeadGridModel::ValueRole).toDouble(), grid.value(layer, head));
      // Compare table: the same number for run A, and run B's own.
      const double a =
          table.index(row, CompareSummaryModel::RunAColumn).data(CompareSummaryModel::ValueRole).toDouble();
      const double b =
          table.index(row, CompareSummaryModel::RunBColumn).data(CompareSummaryModel::ValueRole).toDouble();
      QCOMPARE(a, grid.value(layer, head));
      QVERIFY2(std::abs(b - wantB) < 1e-6, qPrintable(where));
      // attnscope-cli stats --heads prints what the compare table displays, for both runs.
      const QString shownA = table.index(row, CompareSummaryModel::RunAColumn).data().toString();
      const QString shownB = table.index(row, CompareSummaryModel::RunBColumn).data().toString();
      QCOMPARE(shownA, QString::number(want, 'f', 4));
      const std::pair<int, int> cell{layer, head};
      QCOMPARE(m_cli["softmax"][name][cell], shownA);
      QCOMPARE(m_cli["ssmax"][name][cell], shownB);
    }
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
  CliValues m_cli;
};

QTEST_MAIN(TestHeadSummary)
#include "tst_headsummary.moc"
