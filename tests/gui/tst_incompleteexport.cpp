// Issue 15 defect 4, headless side: `attnscope --export` of a layer a cancelled capture never computed exits
// 1 with one line naming the layer and run; a computed layer of the same run still exports.

#include <QImage>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "knowncapture.h"

class TestIncompleteExport : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("cancelled.h5"));
    attnscope::test::KnownCaptureOptions options{16, 3, 2};
    options.computed_layers = 1;  // run "ssmax": layer 0 computed, 4 queries of layer 1, nothing of layer 2
    options.partial_queries = 4;
    attnscope::test::writeKnownCapture(m_path, options);
  }

  void exportOfALayer_data() {
    QTest::addColumn<QString>("figure");
    QTest::addColumn<int>("layer");
    QTest::addColumn<int>("exitCode");
    QTest::newRow("heatmap, computed layer") << "heatmap" << 0 << 0;
    QTest::newRow("heatmap, layer never computed") << "heatmap" << 2 << 1;
    QTest::newRow("curve, layer never computed") << "context-curve" << 2 << 1;
  }

  void exportOfALayer() {
    QFETCH(QString, figure);
    QFETCH(int, layer);
    QFETCH(int, exitCode);
    const QString out = m_dir.filePath(QStringLiteral("%1-%2.png").arg(figure).arg(layer));
    QProcess process;
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_dir.path());  // else Qt warns on stderr, too
    process.setProcessEnvironment(environment);
    process.start(QStringLiteral(ATTNSCOPE_GUI_BINARY),
                  {QStringLiteral("--export"), m_path, QStringLiteral("--figure"), figure,
                   QStringLiteral("--run"), QStringLiteral("ssmax"), QStringLiteral("--layer"),
                   QString::number(layer), QStringLiteral("--out"), out});
    QVERIFY(process.waitForFinished(60000));
    const QString error = QString::fromLocal8Bit(process.readAllStandardError());
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QVERIFY2(process.exitCode() == exitCode, qPrintable(error));
    if (exitCode == 0) {
      QVERIFY(!QImage(out).isNull());
      return;
    }
    QCOMPARE(error.count(QLatin1Char('\n')), 1);
    QVERIFY2(error.contains(QStringLiteral("Layer 2 of run ssmax was not computed")), qPrintable(error));
    QVERIFY(!QFile::exists(out));
  }

 private:
  QTemporaryDir m_dir;
  QString m_path;
};

QTEST_MAIN(TestIncompleteExport)
#include "tst_incompleteexport.moc"
