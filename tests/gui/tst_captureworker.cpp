// Running a model from the window: the capture worker runs the bundled random Llama (a copy given the raw
// byte tokenizer) on a worker thread and writes a capture the document opens with the expected runs; cancel
// leaves the interrupted run incomplete; errors come back as one line; the main window runs a job and opens
// its capture.

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "capturedocument.h"
#include "captureprogresswidget.h"
#include "captureworker.h"
#include "mainwindow.h"
#include "normalizerchooser.h"
#include "runmodeldialog.h"

using namespace attnscope;
using namespace attnscope::gui;

class TestCaptureWorker : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    const QDir sample(qEnvironmentVariable("ATTNSCOPE_SAMPLE_MODEL"));
    QVERIFY2(sample.exists(QStringLiteral("config.json")), qPrintable(sample.path()));
    m_model = m_dir.filePath(QStringLiteral("tiny-llama-bytes"));
    QVERIFY(QDir().mkpath(m_model));
    QVERIFY(
        QFile::copy(sample.filePath(QStringLiteral("model.safetensors")), m_model + "/model.safetensors"));
    QFile in(sample.filePath(QStringLiteral("config.json")));
    QVERIFY(in.open(QIODevice::ReadOnly));
    QJsonObject config = QJsonDocument::fromJson(in.readAll()).object();
    config.insert(QStringLiteral("attnscope_tokenizer"),
                  QStringLiteral("bytes"));  // vocab 109: bytes < 109 only
    QFile out(m_model + "/config.json");
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(QJsonDocument(config).toJson());
  }

  void capturesRunsTheDocumentOpens() {
    CaptureWorker worker;
    QSignalSpy progress(&worker, &CaptureWorker::progressChanged);
    QSignalSpy finished(&worker, &CaptureWorker::finished);
    QSignalSpy failed(&worker, &CaptureWorker::failed);
    CaptureJob job = makeJob(QStringLiteral("full.h5"));
    QVERIFY(worker.start(job));
    QVERIFY(!worker.start(job));  // one job at a time
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty() || !failed.isEmpty(), 60000);
    QVERIFY2(failed.isEmpty(), qPrintable(failed.value(0).value(0).toString()));
    QVERIFY(!worker.isRunning());
    const auto outcome = finished.first().first().value<CaptureOutcome>();
    QCOMPARE(outcome.n_completed, 2);
    QCOMPARE(outcome.n_tokens, 14);
    QVERIFY(!outcome.cancelled);
    QVERIFY(progress.count() >= 1 + 2 * 2);  // loading, then every layer of both runs
    QCOMPARE(progress.last().first().value<CaptureProgress>().fraction(), 1.0);

    CaptureDocument document;
    QVERIFY(document.open(outcome.path));
    QCOMPARE(document.nTokens(), 14);
    QCOMPARE(document.tokens().first(), QStringLiteral("H"));
    QCOMPARE(document.runs().size(), std::size_t(2));
    QCOMPARE(QString::fromStdString(document.runs()[0].normalizer), QStringLiteral("softmax"));
    QVERIFY(QString::fromStdString(document.runs()[1].normalizer).startsWith(QStringLiteral("ssmax:s=0.5")));
    for (const RunInfo& run : document.runs()) {
      QVERIFY(run.complete);
      QCOMPARE(run.n_layer, 2);
      QCOMPARE(run.n_head, 4);
      QVERIFY(std::find(run.stats.begin(), run.stats.end(), "target_mass") != run.stats.end());
    }
    QVERIFY(document.hasMap(QString::fromStdString(document.runs()[1].name), 1, 3));
  }

  void cancelLeavesTheRunIncomplete() {
    CaptureWorker worker;
    // A direct connection runs on the worker thread inside the progress callback, so the cancel is seen at
    // once.
    connect(
        &worker, &CaptureWorker::progressChanged, &worker,
        [&worker](const CaptureProgress& progress) {
          if (!progress.loading) worker.cancel();
        },
        Qt::DirectConnection);
    QSignalSpy finished(&worker, &CaptureWorker::finished);
    QVERIFY(worker.start(makeJob(QStringLiteral("cancelled.h5"))));
    QVERIFY(finished.wait(60000));
    const auto outcome = finished.first().first().value<CaptureOutcome>();
    QVERIFY(outcome.cancelled);
    QCOMPARE(outcome.n_completed, 0);
    CaptureDocument document;
    QVERIFY(document.open(outcome.path));
    QCOMPARE(document.runs().size(), std::size_t(1));
    QVERIFY(!document.runs()[0].complete);
  }

  void errorsComeBackAsOneLine_data() {
    QTest::addColumn<QString>("normalizer");
    QTest::addColumn<QString>("modelDir");
    QTest::addColumn<QString>("expected");
    QTest::newRow("bad spec") << "ssmax:s=abc" << QString() << "s=abc";
    QTest::newRow("no learned s") << "ssmax" << QString() << "learned";
    QTest::newRow("no model") << "softmax"
                              << "/nonexistent/model"
                              << "nonexistent";
  }

  void errorsComeBackAsOneLine() {
    QFETCH(QString, normalizer);
    QFETCH(QString, modelDir);
    QFETCH(QString, expected);
    CaptureWorker worker;
    QSignalSpy failed(&worker, &CaptureWorker::failed);
    CaptureJob job = makeJob(QStringLiteral("failed.h5"));
    job.normalizers = QStringList{normalizer};
    if (!modelDir.isEmpty()) job.modelDir = modelDir;
    QFile::remove(job.out);
    QVERIFY(worker.start(job));
    QVERIFY(failed.wait(60000));
    const QString message = failed.first().first().toString();
    QVERIFY2(message.contains(expected, Qt::CaseInsensitive), qPrintable(message));
    QVERIFY2(!message.contains(QLatin1Char('\n')), qPrintable(message));
    QVERIFY(!QFile::exists(job.out));  // checked before anything is written
  }

  void dialogMakesAJob() {
    RunModelDialog dialog(m_model);
    NormalizerChooser* chooser = dialog.normalizers();
    QCOMPARE(chooser->specs(),
             (QStringList{"softmax", "ssmax:ctx=128"}));  // the model's context; no learned s
    chooser->setSpecs({"softmax", "ssmax:s=0.3", "logn:L=64", "ssmax:s=0.2,b=0.1"});
    QCOMPARE(chooser->specs(), (QStringList{"softmax", "ssmax:s=0.3", "logn:L=64", "ssmax:s=0.2,b=0.1"}));
    dialog.setPromptText(QStringLiteral("ABC"));
    const CaptureJob job = dialog.job();
    QCOMPARE(job.modelDir, m_model);
    QCOMPARE(job.promptText, QStringLiteral("ABC"));
    QCOMPARE(job.maps, QStringLiteral("all"));
    QVERIFY(job.out.endsWith(QStringLiteral(".h5")));
  }

  void windowRunsAndOpensTheCapture() {
    MainWindow window;
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QSignalSpy opened(window.document(), &CaptureDocument::documentChanged);
    QVERIFY(window.runCapture(makeJob(QStringLiteral("window.h5"))));
    QVERIFY(window.captureProgress()->isVisible());
    QVERIFY(opened.wait(60000));
    QVERIFY(window.document()->isOpen());
    QCOMPARE(window.document()->runs().size(), std::size_t(2));
    QVERIFY(!window.captureProgress()->isVisible());
  }

 private:
  CaptureJob makeJob(const QString& name) const {
    CaptureJob job;
    job.modelDir = m_model;
    job.promptText = QStringLiteral("HELLO WORLD 42");  // uppercase, digits and spaces: bytes < 109
    job.normalizers = QStringList{QStringLiteral("softmax"), QStringLiteral("ssmax:s=0.5")};
    job.maps = QStringLiteral("all");
    job.targets = QStringLiteral("0:2");
    job.out = m_dir.filePath(name);
    job.threads = 1;
    return job;
  }

  QTemporaryDir m_dir;
  QString m_model;
};

QTEST_MAIN(TestCaptureWorker)
#include "tst_captureworker.moc"
