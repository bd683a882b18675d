// ContextCurveWidget on a known capture: one median line and a q10–q90 band per run, one point per occupied
// log-n bin, theory curves only for max attention, runs without the statistic reported, CSV of the series.

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include <cmath>

#include "capturedocument.h"
#include "contextcurvewidget.h"
#include "knowncapture.h"

using namespace attnscope;
using namespace attnscope::widgets;

class TestContextCurveWidget : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("known.h5"));
    test::writeKnownCapture(m_path);
  }

  void graphs_data() {
    QTest::addColumn<QString>("stat");
    QTest::addColumn<int>("scope");
    QTest::addColumn<int>("expectedGraphs");
    // n = 1..8 with two bins per octave occupies bins floor(2 log2 n) = 0, 2, 3, 4, 5, 6: six points.
    // Max attention: 2 runs × (median + two band edges) + softmax theory + SSMax theory (s = 0.5).
    QTest::newRow("max, head") << "max_prob" << int(CurveScope::Head) << 8;
    QTest::newRow("max, layer") << "max_prob" << int(CurveScope::Layer) << 8;
    QTest::newRow("max, all layers") << "max_prob" << int(CurveScope::AllLayers) << 8;
    QTest::newRow("entropy") << "entropy" << int(CurveScope::Head) << 6;
    QTest::newRow("target mass (softmax run only)") << "target_mass" << int(CurveScope::Head) << 3;
  }

  void graphs() {
    QFETCH(QString, stat);
    QFETCH(int, scope);
    QFETCH(int, expectedGraphs);
    CaptureDocument document;
    ContextCurveWidget widget(&document);
    widget.resize(700, 450);
    QSignalSpy ready(&widget, &ContextCurveWidget::contentReady);
    widget.setStat(stat);
    widget.setScope(static_cast<CurveScope>(scope));
    QVERIFY(document.open(m_path));
    QVERIFY(ready.wait(10000));
    QCustomPlot* plot = widget.plot();
    QCOMPARE(plot->graphCount(), expectedGraphs);
    const int runs = static_cast<int>(widget.curves().curves.size());
    QCOMPARE(runs, stat == QLatin1String("target_mass") ? 1 : 2);
    for (int i = 0; i < runs * 3; ++i) QCOMPARE(plot->graph(i)->data()->size(), 6);
    QCOMPARE(plot->xAxis->scaleType(), QCPAxis::stLogarithmic);
    if (stat == QLatin1String("target_mass")) QCOMPARE(widget.curves().missing, QStringList{"ssmax"});

    // The median of the head's last bin (n = 8) is its known value at query 7.
    if (stat == QLatin1String("max_prob") && scope == int(CurveScope::Head)) {
      const QCPGraph* median = plot->graph(2);
      const double last = (median->data()->constEnd() - 1)->value;
      QVERIFY(std::abs(last - test::knownStatValue(0, "max_prob", 0, 0, 7)) < 1e-5);
      const CsvTable table = widget.exportTable();
      QCOMPARE(table.rows.size(), 12);  // 2 runs × 6 bins
      QCOMPARE(table.header.value(9), QStringLiteral("median"));
    }
  }

  void followsSelectedHead() {
    CaptureDocument document;
    ContextCurveWidget widget(&document);
    QSignalSpy ready(&widget, &ContextCurveWidget::contentReady);
    QVERIFY(document.open(m_path));
    QVERIFY(ready.wait(10000));
    ready.clear();
    document.setHead(1, 2);
    QVERIFY(ready.wait(10000));
    QCOMPARE(widget.curves().request.layer, 1);
    QCOMPARE(widget.curves().request.head, 2);
    const double last = (widget.plot()->graph(2)->data()->constEnd() - 1)->value;
    QVERIFY(std::abs(last - test::knownStatValue(0, "max_prob", 1, 2, 7)) < 1e-5);
  }

  void theoryCurves() {
    // The paper's numbers: n = 1024 gives 0.127 under softmax and 0.9997 under SSMax with s = 0.43.
    const auto softmax = theoryCurve(1024, std::nan(""), 11);
    QVERIFY(std::abs(softmax.back().first - 1024) < 1e-6);
    QVERIFY(std::abs(softmax.back().second - 0.127) < 1e-3);
    QVERIFY(std::abs(theoryCurve(1024, 0.43, 11).back().second - 0.9997) < 1e-4);
    QCOMPARE(ssmaxScale(QStringLiteral("ssmax:s=0.5")), 0.5);
    QVERIFY(std::abs(ssmaxScale(QStringLiteral("ssmax:ctx=256")) - 1 / std::log(256.0)) < 1e-12);
    QVERIFY(std::isnan(ssmaxScale(QStringLiteral("softmax"))));
    QVERIFY(std::isnan(ssmaxScale(QStringLiteral("ssmax"))));
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
};

QTEST_MAIN(TestContextCurveWidget)
#include "tst_contextcurvewidget.moc"
