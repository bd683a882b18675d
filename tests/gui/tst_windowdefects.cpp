// The window's smaller defects of issue 15, end to end: the Help menu (shortcut list, About box), choosing
// the compare run as the run swaps them, headless export refuses what it cannot draw with one line and exit
// 1, the Run dialog never shows a stale verdict and reports a broken config.json as what it is, and a
// cancelled capture stops within a query block, is never opened unasked and is deleted unless the user keeps
// it.

#include <QAbstractButton>
#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include "capturedocument.h"
#include "captureworker.h"
#include "compareview.h"
#include "knowncapture.h"
#include "mainwindow.h"
#include "modelchooser.h"
#include "runmodeldialog.h"

using namespace attnscope;
using namespace attnscope::gui;
using namespace attnscope::widgets;

class TestWindowDefects : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    // Settings of their own: tst_mainwindow, which may run at the same time, checks the recent files.
    QCoreApplication::setApplicationName(QStringLiteral("attnscope-tst_windowdefects"));
    QVERIFY(m_dir.isValid());
    m_known = m_dir.filePath(QStringLiteral("known.h5"));
    test::KnownCaptureOptions options;
    options.n_tokens = 16;
    options.heads_without_map = {{1, 2}};
    test::writeKnownCapture(m_known, options);
  }

  void helpMenuListsShortcutsAndAbout() {
    MainWindow window;
    auto* keys = window.findChild<QAction*>(QStringLiteral("shortcutsAction"));
    auto* about = window.findChild<QAction*>(QStringLiteral("aboutAction"));
    QVERIFY(keys && about);
    QCOMPARE(keys->shortcut(), QKeySequence(QKeySequence::HelpContents));
    keys->trigger();
    auto* shortcuts = window.findChild<QDialog*>(QStringLiteral("shortcutsDialog"));
    QVERIFY(shortcuts && shortcuts->isVisible());
    auto* table = shortcuts->findChild<QTableWidget*>();
    QStringList rows;
    for (int row = 0; row < table->rowCount(); ++row)
      rows << table->item(row, 0)->text() + QStringLiteral(" = ") + table->item(row, 1)->text();
    const QString all = rows.join(QLatin1Char('\n'));
    QVERIFY2(all.contains(QStringLiteral("Ctrl+O = File › Open capture…")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("Ctrl+E = File › Export…")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("F1 = Help › Keyboard shortcuts")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("Up / Down = Heatmap")), qPrintable(all));
    about->trigger();
    auto* box = window.findChild<QDialog*>(QStringLiteral("aboutDialog"));
    QVERIFY(box && box->isVisible());
    const QString text = box->findChild<QLabel*>(QStringLiteral("aboutText"))->text();
    QVERIFY2(QRegularExpression(QStringLiteral("attnscope \\d+\\.\\d+")).match(text).hasMatch(),
             qPrintable(text));
    for (const char* section : {"Quick start (Debian 12)", "The desktop application", "Capture files"})
      QVERIFY2(text.contains(QString::fromUtf8(section)), qPrintable(text));
  }

  // Choosing the compare run as the run swaps the two: Compare keeps comparing them.
  void choosingTheCompareRunSwaps() {
    MainWindow window;
    QVERIFY(window.openFile(m_known));
    auto* runBox = window.findChild<QComboBox*>(QStringLiteral("runBox"));
    auto* compareBox = window.findChild<QComboBox*>(QStringLiteral("compareBox"));
    QCOMPARE(compareBox->currentData().toString(), QStringLiteral("ssmax"));
    runBox->setCurrentIndex(runBox->findData(QStringLiteral("ssmax")));
    QCOMPARE(window.document()->selection().run, QStringLiteral("ssmax"));
    QCOMPARE(window.document()->selection().compareRun, QStringLiteral("softmax"));
    QCOMPARE(compareBox->currentData().toString(), QStringLiteral("softmax"));
    QVERIFY(runBox->itemData(0, Qt::ToolTipRole).toString().contains(QStringLiteral("normalizer")));
  }

  void headlessExportRefuses_data() {
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    QTest::newRow("layer beyond the model") << QStringList{"--figure", "heatmap", "--layer", "9"}
                                            << "--layer 9 is not in 0..1 (run softmax has 2 layers)";
    QTest::newRow("head beyond the model") << QStringList{"--figure", "tokens", "--head", "3"}
                                           << "--head 3 is not in 0..2 (run softmax has 3 heads)";
    QTest::newRow("head without a map") << QStringList{"--figure", "heatmap", "--layer", "1", "--head", "2"}
                                        << "run softmax stores no attention map of layer 1 head 2";
    QTest::newRow("compare without a map")
        << QStringList{"--figure", "compare", "--layer", "1", "--head", "2"}
        << "stores no attention map of layer 1 head 2";
    QTest::newRow("query beyond T") << QStringList{"--figure", "tokens", "--query", "16"}
                                    << "--query 16 is not in 0..15 (the prompt has 16 tokens)";
    QTest::newRow("difference ignored") << QStringList{"--figure", "heatmap", "--difference"}
                                        << "--difference applies to the head-grid figure only, not heatmap";
    QTest::newRow("log ignored") << QStringList{"--figure", "head-grid", "--log"}
                                 << "--log applies to the heatmap and heads figures only";
    QTest::newRow("unknown stat") << QStringList{"--figure", "head-grid", "--stat", "max_prb"}
                                  << "unknown --stat max_prb";
    QTest::newRow("unknown compare run")
        << QStringList{"--figure", "compare", "--compare", "nope"} << "no compare run nope in";
    QTest::newRow("layer not a number")
        << QStringList{"--figure", "heatmap", "--layer", "one"} << "--layer one is not a number";
    QTest::newRow("huge size") << QStringList{"--figure", "tokens", "--width", "900000"}
                               << "--width and --height must be in 1..20000";
  }

  void headlessExportRefuses() {
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    const QString out = m_dir.filePath(QStringLiteral("refused.png"));
    QFile::remove(out);
    QProcess process;
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_dir.path());  // else Qt warns on stderr
    process.setProcessEnvironment(environment);
    process.start(QStringLiteral(ATTNSCOPE_GUI_BINARY),
                  QStringList{"--export", m_known, "--out", out} + arguments);
    QVERIFY(process.waitForFinished(60000));
    const QString error = QString::fromUtf8(process.readAllStandardError());
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QCOMPARE(process.exitCode(), 1);
    QVERIFY2(error.startsWith(QStringLiteral("attnscope: ")) && error.count(QLatin1Char('\n')) == 1,
             qPrintable(error));
    QVERIFY2(error.contains(message), qPrintable(error));
    QVERIFY(!QFile::exists(out));
  }

  void headlessCompareExport() {
    const QString out = m_dir.filePath(QStringLiteral("compare-headless.png"));
    QProcess process;
    process.start(QStringLiteral(ATTNSCOPE_GUI_BINARY),
                  {"--export", m_known, "--figure", "compare", "--layer", "1", "--head", "1", "--out", out,
                   "--scale", "1"});
    QVERIFY(process.waitForFinished(60000));
    QVERIFY2(process.exitCode() == 0, process.readAllStandardError().constData());
    QCOMPARE(QImage(out).size(), QSize(1200, 480));
  }

  void runDialogHasNoStaleVerdictAndNamesTheJsonError() {
    QTemporaryDir models;
    QDir(models.path()).mkdir(QStringLiteral("broken"));
    const QString broken = models.filePath(QStringLiteral("broken"));
    QFile config(broken + QStringLiteral("/config.json"));
    QVERIFY(config.open(QIODevice::WriteOnly));
    config.write("{\n  \"model_type\": \"llama\",\n  \"num_hidden_layers\": 2\n  \"hidden_size\": 64\n}\n");
    config.close();
    RunModelDialog dialog(models.filePath(QStringLiteral("missing")));
    const QString stale = dialog.modelInfo()->text();
    QVERIFY2(!stale.isEmpty(), "a missing directory is reported");
    QLineEdit* line = dialog.model()->combo()->lineEdit();
    QTest::keyClicks(line, QStringLiteral("x"));
    QVERIFY2(dialog.modelInfo()->text() != stale, qPrintable(dialog.modelInfo()->text()));

    dialog.setModelDir(broken);
    QVERIFY2(dialog.modelInfo()->text().contains(QStringLiteral("config.json line 4, column")),
             qPrintable(dialog.modelInfo()->text()));
    QString warning;
    QTimer::singleShot(0, this, [&warning] {
      if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
        warning = box->text();
        box->close();
      }
    });
    dialog.accept();
    QVERIFY2(warning.contains(QStringLiteral("config.json line 4")), qPrintable(warning));
    QVERIFY(!warning.contains(QStringLiteral("Choose a model")));
  }

  void cancelledCaptureIsOfferedNotOpened_data() {
    QTest::addColumn<QString>("button");
    QTest::addColumn<bool>("fileKept");
    QTest::addColumn<bool>("opened");
    QTest::newRow("delete") << "deletePartial" << false << false;
    QTest::newRow("keep") << "keepPartial" << true << false;
    QTest::newRow("open") << "openPartial" << true << true;
  }

  void cancelledCaptureIsOfferedNotOpened() {
    QFETCH(QString, button);
    QFETCH(bool, fileKept);
    QFETCH(bool, opened);
    CaptureRequest request;
    request.model_dir = qEnvironmentVariable("ATTNSCOPE_SAMPLE_MODEL").toStdString();
    for (int i = 0; i < 1024; ++i) request.prompt.ids.push_back((i * 37 + 11) % 109);
    request.normalizers = {"softmax", "ssmax:s=0.5"};
    request.maps = "all";
    request.query_block = 32;
    request.out = m_dir.filePath(QStringLiteral("cancelled-%1.h5").arg(button)).toStdString();
    const QString out = QString::fromStdString(request.out);
    MainWindow window;
    CaptureWorker* worker = window.captureWorker();
    QElapsedTimer sinceCancel;
    // Cancel once layer 0 of the first run is done: the pass stops after the next query block of layer 1.
    connect(
        worker, &CaptureWorker::progressChanged, worker,
        [worker, &sinceCancel](const CaptureProgress& progress) {
          if (!progress.loading && !sinceCancel.isValid()) {
            sinceCancel.start();
            worker->cancel();
          }
        },
        Qt::DirectConnection);
    QSignalSpy finished(worker, &CaptureWorker::finished);
    QVERIFY(window.runCapture(request, 1));
    QVERIFY(finished.wait(120000));
    qInfo("cancel to finished: %lld ms", static_cast<long long>(sinceCancel.elapsed()));
    const CaptureOutcome outcome = finished.first().first().value<CaptureOutcome>();
    QVERIFY(outcome.cancelled);
    QVERIFY(outcome.created);
    QCOMPARE(outcome.n_completed, 0);
    QVERIFY(QFile::exists(out));
    QVERIFY(!window.document()->isOpen());  // never opened unasked
    auto* box = window.findChild<QMessageBox*>(QStringLiteral("partialCaptureBox"));
    QVERIFY(box);
    QVERIFY(box->text().contains(QStringLiteral("0 of 2 runs complete")));
    QCOMPARE(box->escapeButton()->objectName(), QStringLiteral("deletePartial"));  // unasked: deleted
    auto* choice = box->findChild<QAbstractButton*>(button);
    QVERIFY(choice);
    choice->click();
    QCOMPARE(QFile::exists(out), fileKept);
    QCOMPARE(window.document()->isOpen(), opened);
  }

 private:
  QTemporaryDir m_dir;
  QString m_known;
};

QTEST_MAIN(TestWindowDefects)
#include "tst_windowdefects.moc"
