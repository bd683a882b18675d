// The application's sweep glue: MainWindow::openFile hands a sweep file to a sweep window of its own, which
// reads it in the background; `attnscope --export SWEEP.h5 --figure NAME` writes each sweep figure in every
// format and refuses, with one line and exit 1, what a sweep cannot draw.

#include <QApplication>
#include <QFile>
#include <QImage>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "capturedocument.h"
#include "knownsweep.h"
#include "mainwindow.h"
#include "sweepdocument.h"
#include "sweepgridview.h"
#include "sweepview.h"
#include "sweepwindow.h"

using namespace attnscope;
using namespace attnscope::gui;
using namespace attnscope::widgets;

namespace {

struct Outcome {
  int exitCode = -1;
  QString out, err;
};

Outcome runAttnscope(const QStringList& arguments, const QString& runtimeDir) {
  QProcess process;
  // Qt warns on stderr without a runtime directory; the refusals' stderr must be their one line.
  QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
  environment.insert(QStringLiteral("XDG_RUNTIME_DIR"), runtimeDir);
  process.setProcessEnvironment(environment);
  process.start(QStringLiteral(ATTNSCOPE_GUI_BINARY), arguments);
  Outcome outcome;
  if (!process.waitForFinished(60000)) return outcome;
  outcome.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
  outcome.out = QString::fromUtf8(process.readAllStandardOutput());
  outcome.err = QString::fromUtf8(process.readAllStandardError());
  return outcome;
}

}  // namespace

class TestSweepWindow : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    m_needle = m_dir.filePath(QStringLiteral("needle.h5"));
    m_documents = m_dir.filePath(QStringLiteral("documents.h5"));
    test::writeKnownSweep(m_needle, test::knownNeedleSweepHeader());
    test::writeKnownSweep(m_documents, test::knownDocumentsSweepHeader());
  }

  void mainWindowOpensSweepWindow() {
    MainWindow window;
    QVERIFY(window.openFile(m_needle));
    SweepWindow* sweep = nullptr;
    for (QWidget* w : QApplication::topLevelWidgets())
      if (auto* candidate = qobject_cast<SweepWindow*>(w)) sweep = candidate;
    QVERIFY(sweep);
    QVERIFY(sweep->isVisible());
    QVERIFY(!window.document()->isOpen());  // the capture window keeps what it showed
    QTRY_VERIFY_WITH_TIMEOUT(sweep->document()->isOpen(), 20000);
    QCOMPARE(sweep->document()->path(), m_needle);
    QVERIFY(sweep->windowTitle().contains(QLatin1String("needle.h5")));
    QCOMPARE(sweep->view()->retrieval()->figure().panels.size(), 2);
    sweep->close();  // deleted on close
  }

  // The window fits a 1280 × 800 screen: its minimum size leaves room for the frame and a panel.
  void fitsSmallScreens() {
    SweepWindow window;
    window.openFile(m_needle);
    QTRY_VERIFY_WITH_TIMEOUT(window.document()->isOpen(), 20000);
    const QSize minimum = window.minimumSizeHint();
    QVERIFY2(minimum.width() <= 1200 && minimum.height() <= 720,
             qPrintable(QStringLiteral("%1 × %2").arg(minimum.width()).arg(minimum.height())));
  }

  void headlessExport_data() {
    QTest::addColumn<QString>("figure");
    QTest::addColumn<bool>("documents");
    QTest::addColumn<QStringList>("extra");
    QTest::addColumn<QString>("csvHeader");
    QTest::newRow("retrieval") << "retrieval" << false << QStringList{}
                               << "normalizer,length,depth,mean,ci_lo,ci_hi,count";
    QTest::newRow("retrieval digits") << "retrieval" << false << QStringList{"--digits"}
                                      << "normalizer,length,depth,mean,ci_lo,ci_hi,count";
    QTest::newRow("needle-heads") << "needle-heads" << false << QStringList{"--length", "128"}
                                  << "normalizer,layer,head,mean,ci_lo,ci_hi,count";
    QTest::newRow("sweep-curve") << "sweep-curve" << false << QStringList{"--stat", "entropy"}
                                 << "normalizer,stat,layer,head,n_lo,n_hi,mean,ci_lo,ci_hi,count";
    QTest::newRow("sweep-loss") << "sweep-loss" << true << QStringList{}
                                << "normalizer,position_lo,position_hi,mean,ci_lo,ci_hi,count";
  }

  void headlessExport() {
    QFETCH(QString, figure);
    QFETCH(bool, documents);
    QFETCH(QStringList, extra);
    QFETCH(QString, csvHeader);
    for (const QString suffix : {"png", "pdf", "svg", "csv"}) {
      const QString out = m_dir.filePath(figure + QStringLiteral("-headless.") + suffix);
      const Outcome outcome = runAttnscope(
          QStringList{"--export", documents ? m_documents : m_needle, "--figure", figure, "--out", out} +
              extra,
          m_dir.path());
      QVERIFY2(outcome.exitCode == 0, qPrintable(outcome.err));
      QFile file(out);
      QVERIFY(file.open(QIODevice::ReadOnly));
      const QByteArray bytes = file.readAll();
      if (suffix == QLatin1String("png")) {
        const QImage image = QImage::fromData(bytes, "PNG");
        QVERIFY(!image.isNull() && image.width() >= 700);
      } else if (suffix == QLatin1String("pdf")) {
        QVERIFY(bytes.startsWith("%PDF-") && bytes.size() > 2000);
      } else if (suffix == QLatin1String("svg")) {
        QVERIFY(bytes.contains("<svg") && bytes.contains("softmax") && bytes.contains("ssmax:s=0.43"));
      } else {
        QCOMPARE(QString::fromUtf8(bytes).section(QLatin1Char('\n'), 0, 0), csvHeader);
        QVERIFY(bytes.count('\n') > 4);
      }
    }
  }

  void headlessRefusals_data() {
    QTest::addColumn<bool>("documents");
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    QTest::newRow("loss of a needle sweep")
        << false << QStringList{"--figure", "sweep-loss"} << "no loss by position";
    QTest::newRow("retrieval of documents")
        << true << QStringList{"--figure", "retrieval"} << "needs a --needle sweep";
    QTest::newRow("length not swept")
        << false << QStringList{"--figure", "needle-heads", "--length", "100"} << "lengths: 64, 128, 256";
    QTest::newRow("statistic not recorded")
        << false << QStringList{"--figure", "sweep-curve", "--stat", "sink"} << "recorded no statistic sink";
    QTest::newRow("head out of range")
        << false << QStringList{"--figure", "sweep-curve", "--head", "3"} << "2 layers × 3 heads";
    QTest::newRow("capture figure") << false << QStringList{"--figure", "heatmap"}
                                    << "not one of its figures";
  }

  void headlessRefusals() {
    QFETCH(bool, documents);
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    const QString out = m_dir.filePath(QStringLiteral("refused.png"));
    const Outcome outcome = runAttnscope(
        QStringList{"--export", documents ? m_documents : m_needle, "--out", out} + arguments, m_dir.path());
    QCOMPARE(outcome.exitCode, 1);
    QVERIFY2(outcome.err.contains(message), qPrintable(outcome.err));
    QCOMPARE(outcome.err.count(QLatin1Char('\n')), 1);
    QVERIFY(!QFile::exists(out));
  }

 private:
  QTemporaryDir m_dir;
  QString m_needle, m_documents;
};

QTEST_MAIN(TestSweepWindow)
#include "tst_sweepwindow.moc"
