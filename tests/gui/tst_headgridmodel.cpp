// HeadGridModel: the values it reduces from a known capture, its behaviour as an item model
// (QAbstractItemModelTester), and the view's click and keyboard selection; the head types in its menu and its
// colour legend (issue 15), on screen and in its export.

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QImage>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "attnscope/statistics.h"
#include "attnscope/store.h"
#include "capturedocument.h"
#include "colorlegend.h"
#include "headgridmodel.h"
#include "headgridview.h"
#include "knowncapture.h"
#include "plotexport.h"
#include "statisticnames.h"

using namespace attnscope;
using namespace attnscope::widgets;

class TestHeadGridModel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("known.h5"));
    test::writeKnownCapture(m_path);
    m_file = CaptureFile::open(m_path.toStdString());
  }

  void values_data() {
    QTest::addColumn<QString>("stat");
    QTest::addColumn<QString>("run");
    QTest::addColumn<bool>("difference");
    QTest::newRow("max, softmax") << "max_prob"
                                  << "softmax" << false;
    QTest::newRow("max, ssmax") << "max_prob"
                                << "ssmax" << false;
    QTest::newRow("entropy") << "entropy"
                             << "softmax" << false;
    QTest::newRow("target mass") << "target_mass"
                                 << "softmax" << false;
    QTest::newRow("max, ssmax − softmax") << "max_prob"
                                          << "ssmax" << true;
    QTest::newRow("induction mass") << "induction_mass"
                                    << "softmax" << false;
  }

  void values() {
    QFETCH(QString, stat);
    QFETCH(QString, run);
    QFETCH(bool, difference);
    HeadGridRequest request;
    request.run = run;
    request.compareRun = QStringLiteral("softmax");
    request.stat = stat;
    request.difference = difference;
    const HeadGridValues values = computeHeadGrid(*m_file, request);
    QCOMPARE(values.n_layer, 2);
    QCOMPARE(values.n_head, 3);
    const int runIndex = run == QLatin1String("softmax") ? 0 : 1;
    // The per-head summary of 8 queries is the mean over the last ceil(8 / 10) = 1 of them: query 7 (which
    // sees the target tokens 2..3).
    const auto reduce = [&](int r, int layer, int head) {
      return double(test::knownStatValue(r, stat, layer, head, 7));
    };
    HeadGridModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setValues(values);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.columnCount(), 3);
    for (int layer = 0; layer < 2; ++layer)
      for (int head = 0; head < 3; ++head) {
        double expected = reduce(runIndex, layer, head);
        if (difference) expected -= reduce(0, layer, head);
        QVERIFY2(std::abs(model.value(layer, head) - expected) < 1e-5,
                 qPrintable(QStringLiteral("L%1 H%2: %3 vs %4")
                                .arg(layer)
                                .arg(head)
                                .arg(model.value(layer, head))
                                .arg(expected)));
        const QModelIndex index = model.index(layer, head);
        QCOMPARE(index.data(HeadGridModel::ValueRole).toDouble(), model.value(layer, head));
        QVERIFY(index.data(Qt::BackgroundRole).value<QBrush>().color().isValid());
      }
    model.clear();
    QCOMPARE(model.rowCount(), 0);
  }

  void missingStatisticIsNaN() {
    HeadGridRequest request;
    request.run = QStringLiteral("ssmax");  // written without target_mass
    request.stat = QStringLiteral("target_mass");
    HeadGridModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setValues(computeHeadGrid(*m_file, request));
    QVERIFY(std::isnan(model.value(0, 0)));
    QCOMPARE(model.index(0, 0).data().toString(), QStringLiteral("–"));
  }

  // Issue 15: every statistic of the catalogue the views offer is in the grid's menu, head types included,
  // and the grid has a colour legend with the statistic's label and range — also in its export.
  void legendShowsStatisticAndRange() {
    CaptureDocument document;
    HeadGridView view(&document);
    auto* menu = view.findChild<QComboBox*>();
    QVERIFY(menu);
    for (const std::string& stat : viewedStatistics())
      QVERIFY2(menu->findData(QString::fromStdString(stat)) >= 0, stat.c_str());
    QVERIFY(menu->findData(QString::fromLatin1(kStatInductionMass)) >= 0);
    QVERIFY(menu->findData(QString::fromLatin1(kStatMeanDistance)) >= 0);

    QSignalSpy ready(&view, &HeadGridView::contentReady);
    view.resize(420, 360);
    QVERIFY(document.open(m_path));
    QVERIFY(ready.wait(10000) || ready.count() > 0);
    ready.clear();
    view.setStat(QString::fromLatin1(kStatInductionMass));
    QVERIFY(ready.wait(10000));
    ColorLegend* legend = view.legend();
    QCPColorGradient gradient = legend->colorScale()->gradient();

    // Exported the moment the values arrive, as the headless export does (no event loop between): the legend
    // draws both ends of its gradient below the table.
    const QString png = m_dir.filePath(QStringLiteral("grid.png"));
    QString error;
    QVERIFY2(exportSource(view, png, {}, &error), qPrintable(error));
    const QImage image(png);
    QVERIFY(!image.isNull());
    const auto hasColor = [&](const QColor& want) {
      const int top = legend->geometry().top() * image.height() / view.height();
      for (int y = top; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x) {
          const QColor c = image.pixelColor(x, y);
          if (std::abs(c.red() - want.red()) + std::abs(c.green() - want.green()) +
                  std::abs(c.blue() - want.blue()) <
              24)
            return true;
        }
      return false;
    };
    QVERIFY(hasColor(QColor::fromRgb(gradient.color(0, QCPRange(0, 1)))));
    QVERIFY(hasColor(QColor::fromRgb(gradient.color(1, QCPRange(0, 1)))));

    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QVERIFY(legend->isVisible());
    QVERIFY(legend->colorScale()->visible());
    QCOMPARE(legend->label(), statisticAxisLabel(QString::fromLatin1(kStatInductionMass)));
    QCOMPARE(legend->colorScale()->dataRange(), QCPRange(0, 1));  // a probability
    legend->replot(QCustomPlot::rpImmediateRefresh);
    const QVector<double> ticks = legend->colorScale()->axis()->tickVector();
    QVERIFY(ticks.size() >= 3);
    QCOMPARE(ticks.first(), 0.0);  // the range's ends are labelled
    QCOMPARE(ticks.last(), 1.0);
    // A cell and the legend agree: the cell's colour is the scale's colour at its value.
    const double v = view.model()->value(1, 2);
    QVERIFY(std::abs(v - (0.2 * 2 + 0.3 + 0.1)) < 1e-5);
    QCOMPARE(view.model()->index(1, 2).data(Qt::BackgroundRole).value<QBrush>().color().rgb(),
             QColor::fromRgb(gradient.color(v, QCPRange(0, 1))).rgb());

    // Differences: a symmetric range and a label naming the two runs.
    ready.clear();
    view.setDifference(true);
    QVERIFY(ready.wait(10000));
    const QCPRange range = legend->colorScale()->dataRange();
    QVERIFY(range.upper > 0);
    QCOMPARE(range.lower, -range.upper);
    QVERIFY2(legend->label().contains(QStringLiteral("softmax − ssmax")), qPrintable(legend->label()));

    document.close();
    QVERIFY(!legend->colorScale()->visible());
  }

  void viewSelectsHeads() {
    CaptureDocument document;
    HeadGridView view(&document);
    QAbstractItemModelTester tester(view.model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy ready(&view, &HeadGridView::contentReady);
    QVERIFY(document.open(m_path));
    QVERIFY(ready.wait(10000) || ready.count() > 0);
    view.resize(400, 300);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QTableView* table = view.table();
    QCOMPARE(table->currentIndex(), view.model()->index(0, 0));

    const QRect cell = table->visualRect(view.model()->index(1, 2));
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, cell.center());
    QCOMPARE(document.selection().layer, 1);
    QCOMPARE(document.selection().head, 2);

    table->setFocus();
    QTest::keyClick(table, Qt::Key_Left);
    QCOMPARE(document.selection().head, 1);
    QTest::keyClick(table, Qt::Key_Up);
    QCOMPARE(document.selection().layer, 0);

    document.setHead(1, 0);  // from elsewhere (another view): the grid follows
    QCOMPARE(table->currentIndex(), view.model()->index(1, 0));

    ready.clear();
    view.setDifference(true);  // ssmax is the compare run after opening
    QVERIFY(ready.wait(10000));
    QVERIFY(view.model()->values().request.difference);
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
  std::unique_ptr<CaptureFile> m_file;
};

QTEST_MAIN(TestHeadGridModel)
#include "tst_headgridmodel.moc"
