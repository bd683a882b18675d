// Running a model from the window: the capture worker runs the bundled random Llama (a copy given the raw
// byte tokenizer) on a worker thread and writes a capture the document opens with the expected runs; cancel
// leaves the interrupted run incomplete; errors come back as one line, a request field under the dialog's
// label for it; the Run dialog's named runs and other weights (the bundled softmax- and SSMax-trained models)
// make the same file as attnscope-cli capture, and so does its induction preset (--induction-prompt); the
// main window runs a job and opens its capture.

#include <QDebug>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
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
    const CaptureRequest request = makeRequest(QStringLiteral("full.h5"));
    QVERIFY(worker.start(request, 1));
    QVERIFY(!worker.start(request, 1));  // one job at a time
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty() || !failed.isEmpty(), 60000);
    QVERIFY2(failed.isEmpty(), qPrintable(failed.value(0).value(0).toString()));
    QVERIFY(!worker.isRunning());
    const auto outcome = finished.first().first().value<CaptureOutcome>();
    QCOMPARE(outcome.n_completed, 2);
    QCOMPARE(outcome.n_tokens, 14);
    QVERIFY(!outcome.cancelled);
    QVERIFY(progress.count() >= 1 + 2 * 2);  // loading, then every layer of both runs
    QCOMPARE(progress.last().first().value<CaptureProgress>().fraction(), 1.0);

    widgets::CaptureDocument document;
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
    QVERIFY(worker.start(makeRequest(QStringLiteral("cancelled.h5")), 1));
    QVERIFY(finished.wait(60000));
    const auto outcome = finished.first().first().value<CaptureOutcome>();
    QVERIFY(outcome.cancelled);
    QCOMPARE(outcome.n_completed, 0);
    widgets::CaptureDocument document;
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
    CaptureRequest request = makeRequest(QStringLiteral("failed.h5"));
    request.normalizers = {normalizer.toStdString()};
    if (!modelDir.isEmpty()) request.model_dir = modelDir.toStdString();
    const QString out = QString::fromStdString(request.out);
    QFile::remove(out);
    QVERIFY(worker.start(request, 1));
    QVERIFY(failed.wait(60000));
    const QString message = failed.first().first().toString();
    QVERIFY2(message.contains(expected, Qt::CaseInsensitive), qPrintable(message));
    QVERIFY2(!message.contains(QLatin1Char('\n')), qPrintable(message));
    QVERIFY(!QFile::exists(out));  // checked before anything is written
  }

  void fieldErrorsUseTheDialogsLabels_data() {
    QTest::addColumn<QString>("maps");
    QTest::addColumn<QString>("runNames");
    QTest::addColumn<QString>("expected");
    QTest::newRow("maps") << "9.0" << QString() << "Attention maps '9.0': layer '9' is not in 0..1";
    QTest::newRow("run names") << "none"
                               << "one"
                               << "Run names has 1 name(s) for 2 normalizer(s): give one per normalizer";
    QTest::newRow("same names") << "none"
                                << "twin,twin"
                                << "Run names would make two runs named 'twin' (run names must differ)";
  }

  void fieldErrorsUseTheDialogsLabels() {
    QFETCH(QString, maps);
    QFETCH(QString, runNames);
    QFETCH(QString, expected);
    CaptureWorker worker;
    QSignalSpy failed(&worker, &CaptureWorker::failed);
    CaptureRequest request = makeRequest(QStringLiteral("field.h5"));
    request.maps = maps.toStdString();
    for (const QString& name : runNames.split(QLatin1Char(','), Qt::SkipEmptyParts))
      request.run_names.push_back(name.toStdString());
    QVERIFY(worker.start(request, 1));
    QVERIFY(failed.wait(60000));
    QCOMPARE(failed.first().first().toString(), expected);
    QVERIFY(!QFile::exists(QString::fromStdString(request.out)));
  }

  void dialogRunsOtherWeightsAndNamedRunsAsTheCliDoes() {
    const QString samples = qEnvironmentVariable("ATTNSCOPE_SAMPLES");
    const QString first = samples + QStringLiteral("/bytes-softmax"),
                  second = samples + QStringLiteral("/bytes-ssmax");
    const QString text = QStringLiteral("THE NEEDLE IS 4821. A haystack of words, then the question: 4821?");
    const QString gui = m_dir.filePath(QStringLiteral("gui-other.h5"));
    const QString cli = m_dir.filePath(QStringLiteral("cli-other.h5"));

    RunModelDialog dialog(first);
    dialog.setPromptText(text);
    dialog.normalizers()->setSpecs({"softmax", "ssmax:ctx=128"});
    dialog.setRunNames(QStringLiteral("plain, sharp"));
    dialog.setOutput(gui);
    CaptureRequest request = dialog.request();
    QCOMPARE(request.run_names, (std::vector<std::string>{"plain", "sharp"}));
    QVERIFY(!request.other_weights);
    QVERIFY(runToTheEnd(request));

    RunModelDialog otherDialog(second);
    otherDialog.setPromptText(text);
    otherDialog.normalizers()->setSpecs({"ssmax"});  // the model's learned s
    otherDialog.setRunNames(QStringLiteral("learned"));
    otherDialog.setOutput(gui);
    otherDialog.setOtherWeights(true);
    request = otherDialog.request();
    QVERIFY(request.other_weights);
    QCOMPARE(QString::fromStdString(request.model_dir), second);
    QVERIFY(runToTheEnd(request));

    widgets::CaptureDocument document;
    QVERIFY(document.open(gui));
    QCOMPARE(document.runs().size(), std::size_t(3));
    QStringList names;
    for (const RunInfo& run : document.runs()) {
      names << QString::fromStdString(run.name);
      QVERIFY(run.complete);
      QCOMPARE(run.model.has_value(), run.name == "learned");
      if (run.model) QVERIFY(QString::fromStdString(run.model->path).endsWith(QStringLiteral("bytes-ssmax")));
    }
    names.sort();
    QCOMPARE(names, (QStringList{"learned", "plain", "sharp"}));

    // attnscope-cli capture with the same inputs writes the same file.
    auto runCli = [&](const QStringList& args) {
      QProcess process;
      process.start(QStringLiteral(ATTNSCOPE_CLI_BINARY), QStringList{"--threads", "1", "capture"} + args);
      return process.waitForFinished(120000) && process.exitCode() == 0;
    };
    QVERIFY(runCli({first, "--text", text, "-n", "softmax", "-n", "ssmax:ctx=128", "--name", "plain",
                    "--name", "sharp", "--maps", "all", "--out", cli}));
    QVERIFY(runCli({second, "--text", text, "-n", "ssmax", "--name", "learned", "--other-weights", "--maps",
                    "all", "--out", cli}));
    QProcess compare;
    compare.start(QStringLiteral("/usr/bin/python3"), {QStringLiteral(ATTNSCOPE_COMPARE_CAPTURES), cli, gui});
    QVERIFY(compare.waitForFinished(60000));
    const QString report =
        QString::fromUtf8(compare.readAllStandardOutput() + compare.readAllStandardError());
    QVERIFY2(compare.exitCode() == 0, qPrintable(report));
    QVERIFY2(report.startsWith(QStringLiteral("identical")), qPrintable(report));
  }

  // The Run dialog's induction preset is the CLI's --induction-prompt R:SEED: the same request field, the
  // same file.
  void dialogInductionPresetIsTheClis() {
    const QString gui = m_dir.filePath(QStringLiteral("gui-induction.h5"));
    const QString cli = m_dir.filePath(QStringLiteral("cli-induction.h5"));
    RunModelDialog dialog(m_model);
    dialog.setPromptText(QStringLiteral("ignored: the preset replaces the text"));
    dialog.setInductionPrompt(40, 7);
    QVERIFY(dialog.isInductionPrompt());
    dialog.normalizers()->setSpecs({"softmax", "ssmax:s=0.5"});
    dialog.setOutput(gui);
    const CaptureRequest request = dialog.request();
    QCOMPARE(request.prompt.induction, std::string("40:7"));
    QVERIFY(request.prompt.text.empty() && request.prompt.ids.empty() && request.prompt.file.empty());
    QVERIFY(runToTheEnd(request));
    widgets::CaptureDocument document;
    QVERIFY(document.open(gui));
    QCOMPARE(document.nTokens(), 80);  // R random tokens, then the same R again

    QProcess process;
    process.start(QStringLiteral(ATTNSCOPE_CLI_BINARY),
                  {"--threads", "1", "capture", m_model, "--induction-prompt", "40:7", "-n", "softmax", "-n",
                   "ssmax:s=0.5", "--maps", "all", "--out", cli});
    QVERIFY(process.waitForFinished(120000));
    QVERIFY2(process.exitCode() == 0, process.readAllStandardError().constData());
    QProcess compare;
    compare.start(QStringLiteral("/usr/bin/python3"), {QStringLiteral(ATTNSCOPE_COMPARE_CAPTURES), cli, gui});
    QVERIFY(compare.waitForFinished(60000));
    const QString report =
        QString::fromUtf8(compare.readAllStandardOutput() + compare.readAllStandardError());
    QVERIFY2(compare.exitCode() == 0 && report.startsWith(QStringLiteral("identical")), qPrintable(report));
  }

  void dialogMakesAJob() {
    RunModelDialog dialog(m_model);
    NormalizerChooser* chooser = dialog.normalizers();
    QCOMPARE(chooser->specs(),
             (QStringList{"softmax", "ssmax:ctx=128"}));  // the model's context; no learned s
    chooser->setSpecs({"softmax", "ssmax:s=0.3", "logn:L=64", "ssmax:s=0.2,b=0.1"});
    QCOMPARE(chooser->specs(), (QStringList{"softmax", "ssmax:s=0.3", "logn:L=64", "ssmax:s=0.2,b=0.1"}));
    dialog.setPromptText(QStringLiteral("ABC"));
    const CaptureRequest request = dialog.request();
    QCOMPARE(QString::fromStdString(request.model_dir), m_model);
    QCOMPARE(request.prompt.text, std::string("ABC"));
    QVERIFY(request.prompt.ids.empty());
    QCOMPARE(request.normalizers,
             (std::vector<std::string>{"softmax", "ssmax:s=0.3", "logn:L=64", "ssmax:s=0.2,b=0.1"}));
    QCOMPARE(request.maps, std::string("all"));
    QVERIFY(request.run_names.empty());
    QVERIFY(!request.other_weights);
    QVERIFY(QString::fromStdString(request.out).endsWith(QStringLiteral(".h5")));
  }

  void windowRunsAndOpensTheCapture() {
    MainWindow window;
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QSignalSpy opened(window.document(), &widgets::CaptureDocument::documentChanged);
    QVERIFY(window.runCapture(makeRequest(QStringLiteral("window.h5")), 1));
    QVERIFY(window.captureProgress()->isVisible());
    QVERIFY(opened.wait(60000));
    QVERIFY(window.document()->isOpen());
    QCOMPARE(window.document()->runs().size(), std::size_t(2));
    QVERIFY(!window.captureProgress()->isVisible());
  }

 private:
  /// Runs a request on a worker with one compute thread (as the CLI comparison does) until it finishes.
  static bool runToTheEnd(const CaptureRequest& request) {
    CaptureWorker worker;
    QSignalSpy finished(&worker, &CaptureWorker::finished);
    QSignalSpy failed(&worker, &CaptureWorker::failed);
    if (!worker.start(request, 1)) return false;
    if (!QTest::qWaitFor([&] { return !finished.isEmpty() || !failed.isEmpty(); }, 60000)) return false;
    if (!failed.isEmpty()) qWarning() << failed.first().first().toString();
    return !finished.isEmpty() && !finished.first().first().value<CaptureOutcome>().cancelled;
  }

  CaptureRequest makeRequest(const QString& name) const {
    CaptureRequest request;
    request.model_dir = m_model.toStdString();
    request.prompt.text = "HELLO WORLD 42";  // uppercase, digits and spaces: bytes < 109
    request.normalizers = {"softmax", "ssmax:s=0.5"};
    request.maps = "all";
    request.targets = "0:2";
    request.out = m_dir.filePath(name).toStdString();
    return request;
  }

  QTemporaryDir m_dir;
  QString m_model;
};

QTEST_MAIN(TestCaptureWorker)
#include "tst_captureworker.moc"
