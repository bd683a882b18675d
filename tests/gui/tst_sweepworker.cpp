// Running a sweep from the window: the sweep worker runs a real needle sweep of the bundled byte-level sample
// (softmax and SSMax) with progress after every prompt and an ETA once one ran; Cancel after the first record
// leaves a file SweepReader opens with some but not all records, and a resumed run completes it to equal the
// uninterrupted run record for record; the status-bar strip shows "prompts i/n" and the ETA; the end box says
// how many records a cancelled sweep stored; the Run sweep dialog names what is wrong with a field; both
// windows have File → Run sweep….

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include "attnscope/sweep_file.h"
#include "captureprogresswidget.h"
#include "mainwindow.h"
#include "modelchooser.h"
#include "normalizerchooser.h"
#include "runsweepdialog.h"
#include "sweeprunner.h"
#include "sweepwindow.h"
#include "sweepworker.h"

using namespace attnscope;
using namespace attnscope::gui;

namespace {

/// Every record of a sweep file, normalizer after normalizer.
std::vector<SweepRecord> allRecords(const QString& path) {
  const auto reader = SweepReader::open(path.toStdString());
  std::vector<SweepRecord> records;
  for (int64_t k = 0; k < static_cast<int64_t>(reader->header().grid.normalizers.size()); ++k)
    for (SweepRecord& record : reader->records(k)) records.push_back(std::move(record));
  return records;
}

/// Waits for the worker's end; returns its outcome (fails the test on failed()).
bool waitForOutcome(QSignalSpy& finished, QSignalSpy& failed, SweepOutcome* outcome) {
  if (!QTest::qWaitFor([&] { return !finished.isEmpty() || !failed.isEmpty(); }, 300000)) return false;
  if (!failed.isEmpty()) {
    qWarning("sweep failed: %s", qPrintable(failed.first().first().toString()));
    return false;
  }
  *outcome = finished.first().first().value<SweepOutcome>();
  return true;
}

}  // namespace

class TestSweepWorker : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    m_model = qEnvironmentVariable("ATTNSCOPE_SAMPLES") + QStringLiteral("/bytes-softmax");
    QVERIFY2(QFile::exists(m_model + "/config.json"), qPrintable(m_model));
  }

  void runsWithProgressThenCancelAndResumeEqualTheUninterruptedRun() {
    // Uninterrupted, with the progress the window shows.
    SweepWorker worker;
    QSignalSpy progress(&worker, &SweepWorker::progressChanged);
    QSignalSpy finished(&worker, &SweepWorker::finished);
    QSignalSpy failed(&worker, &SweepWorker::failed);
    CaptureProgressWidget strip;
    strip.begin(CaptureProgressWidget::Job::Sweep);
    connect(&worker, &SweepWorker::progressChanged, &strip, &CaptureProgressWidget::setSweepProgress,
            Qt::QueuedConnection);
    const SweepRequest full = makeRequest(QStringLiteral("full.h5"));
    QVERIFY(worker.start(full, 1));
    QVERIFY(!worker.start(full, 1));  // one sweep at a time
    SweepOutcome outcome;
    QVERIFY(waitForOutcome(finished, failed, &outcome));
    QVERIFY(!outcome.cancelled);
    QCOMPARE(outcome.n_total, kTotal);
    QCOMPARE(outcome.n_written, kTotal);
    QCOMPARE(progress.count(), int(kTotal));  // one signal per prompt
    int64_t last = 0;
    for (const QList<QVariant>& signal : progress) {
      const auto p = signal.first().value<SweepProgress>();
      QCOMPARE(p.total, kTotal);
      QCOMPARE(p.done, last + 1);
      QVERIFY2(p.eta_seconds >= 0, "ETA set once a prompt has run");
      QVERIFY(!p.last.empty());
      last = p.done;
    }
    QCOMPARE(progress.last().first().value<SweepProgress>().eta_seconds, 0.0);
    QTRY_COMPARE(strip.labelText(), QStringLiteral("prompts %1/%1").arg(kTotal));
    QVERIFY2(strip.etaText().endsWith(QStringLiteral("left")), qPrintable(strip.etaText()));
    const std::vector<SweepRecord> reference = allRecords(outcome.path);
    QCOMPARE(static_cast<int64_t>(reference.size()), kTotal);

    // Cancel as soon as the first record is written: cancel is checked before the next prompt.
    SweepWorker cancelled;
    QSignalSpy finished2(&cancelled, &SweepWorker::finished);
    QSignalSpy failed2(&cancelled, &SweepWorker::failed);
    connect(
        &cancelled, &SweepWorker::progressChanged, &cancelled, [&cancelled] { cancelled.cancel(); },
        Qt::DirectConnection);
    SweepRequest partial = makeRequest(QStringLiteral("partial.h5"));
    QVERIFY(cancelled.start(partial, 1));
    QVERIFY(waitForOutcome(finished2, failed2, &outcome));
    QVERIFY(outcome.cancelled);
    QCOMPARE(outcome.n_written, qint64(1));
    const std::vector<SweepRecord> stored = allRecords(outcome.path);
    QVERIFY(!stored.empty() && static_cast<int64_t>(stored.size()) < kTotal);

    // Resume: skips what is stored, runs the rest, and the file equals the uninterrupted one.
    SweepWorker resumed;
    QSignalSpy progress3(&resumed, &SweepWorker::progressChanged);
    QSignalSpy finished3(&resumed, &SweepWorker::finished);
    QSignalSpy failed3(&resumed, &SweepWorker::failed);
    partial.resume = true;
    QVERIFY(resumed.start(partial, 1));
    QVERIFY(waitForOutcome(finished3, failed3, &outcome));
    QVERIFY(!outcome.cancelled);
    QCOMPARE(outcome.n_skipped, qint64(stored.size()));
    QCOMPARE(outcome.n_written, kTotal - qint64(stored.size()));
    QCOMPARE(progress3.first().first().value<SweepProgress>().skipped, qint64(stored.size()));
    const std::vector<SweepRecord> completed = allRecords(outcome.path);
    QCOMPARE(completed.size(), reference.size());
    for (std::size_t i = 0; i < reference.size(); ++i)
      QVERIFY2(sameSweepRecord(completed[i], reference[i]), qPrintable(QString::number(i)));
  }

  void runnerShowsProgressAndOffersTheCancelledFile() {
    QMainWindow window;
    SweepRunner runner(&window);
    QSignalSpy finished(runner.worker(), &SweepWorker::finished);
    connect(
        runner.worker(), &SweepWorker::progressChanged, runner.worker(),
        [&runner] { runner.worker()->cancel(); }, Qt::DirectConnection);
    QVERIFY(runner.run(makeRequest(QStringLiteral("runner.h5")), 1));
    QVERIFY(runner.progress()->isVisibleTo(&window));
    QVERIFY(!runner.run(makeRequest(QStringLiteral("other.h5")), 1));
    QTRY_VERIFY_WITH_TIMEOUT(runner.endBox() != nullptr, 300000);
    QVERIFY(!runner.progress()->isVisibleTo(&window));
    const QString text = runner.endBox()->text();
    QVERIFY2(text.contains(QStringLiteral("1 of %1 records are stored").arg(kTotal)), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("Resume")), qPrintable(text));
    // Run sweep… again comes back with Resume on: it continues the cancelled file.
    QTimer::singleShot(0, &runner, [] {
      auto* dialog = qobject_cast<RunSweepDialog*>(QApplication::activeModalWidget());
      QVERIFY(dialog);
      QVERIFY(dialog->resume()->isChecked());
      QCOMPARE(dialog->lengths()->text(), QStringLiteral("192, 256"));
      dialog->reject();
    });
    runner.showDialog();
    QSignalSpy opened(&runner, &SweepRunner::sweepOpened);
    auto* open = qobject_cast<QPushButton*>(runner.endBox()->buttons().value(0));
    QVERIFY(open && open->isEnabled());
    open->click();
    QCOMPARE(opened.count(), 1);
    const auto windows = QApplication::topLevelWidgets();
    SweepWindow* sweep = nullptr;
    for (QWidget* w : windows)
      if (auto* candidate = qobject_cast<SweepWindow*>(w)) sweep = candidate;
    QVERIFY(sweep);
    sweep->close();
  }

  void runnerShowsARefusedRequestInTheDialog() {
    QMainWindow window;
    SweepRunner runner(&window);
    SweepRequest request = makeRequest(QStringLiteral("refused.h5"));
    request.lengths = {1};  // the dialog refuses this itself; the runner's own check is what is shown here
    QString shown;
    bool resumeShown = true;
    // The dialog is modal (its own event loop): a polling timer reads and closes it from inside that loop.
    QTimer poll;
    poll.setInterval(20);
    connect(&poll, &QTimer::timeout, &runner, [&] {
      auto* dialog = qobject_cast<RunSweepDialog*>(QApplication::activeModalWidget());
      if (!dialog) return;
      poll.stop();
      shown = dialog->errorText();
      resumeShown = dialog->resume()->isChecked();
      dialog->reject();
    });
    poll.start();
    QVERIFY(runner.run(request, 1));
    QTRY_VERIFY_WITH_TIMEOUT(!shown.isEmpty(), 60000);
    QVERIFY2(shown.startsWith(QStringLiteral("lengths: 1 ")), qPrintable(shown));
    QVERIFY(!resumeShown);
    QVERIFY(!QFile::exists(QString::fromStdString(request.out)));
  }

  void dialogNamesTheWrongField_data() {
    QTest::addColumn<QString>("lengths");
    QTest::addColumn<QString>("depths");
    QTest::addColumn<QString>("out");
    QTest::addColumn<bool>("resume");
    QTest::addColumn<QString>("expected");
    QTest::newRow("length word") << "192, abc"
                                 << "0"
                                 << "a.h5" << false
                                 << "Lengths: 'abc' is not a whole number of tokens of at least 2";
    QTest::newRow("length 1") << "1"
                              << "0"
                              << "a.h5" << false
                              << "Lengths: '1' is not a whole number of tokens of at least 2";
    QTest::newRow("depth > 1") << "192"
                               << "0, 1.5"
                               << "a.h5" << false << "Depths: '1.5' is not a number in [0, 1]";
    QTest::newRow("no depth") << "192"
                              << " , "
                              << "a.h5" << false << "Depths: give at least one depth in [0, 1]";
    QTest::newRow("no file") << "192"
                             << "0"
                             << "" << false << "Sweep file: choose where to write the sweep";
    QTest::newRow("resume nothing") << "192"
                                    << "0"
                                    << "missing.h5" << true
                                    << "Resume: %1 does not exist; clear Resume to start a new sweep";
    QTest::newRow("fine") << "192 256"
                          << "0 0.5"
                          << "a.h5" << false << "";
  }

  void dialogNamesTheWrongField() {
    QFETCH(QString, lengths);
    QFETCH(QString, depths);
    QFETCH(QString, out);
    QFETCH(bool, resume);
    QFETCH(QString, expected);
    RunSweepDialog dialog(m_model);
    dialog.lengths()->setText(lengths);
    dialog.depths()->setText(depths);
    const QString path = out.isEmpty() ? out : m_dir.filePath(out);
    dialog.output()->setText(path);
    dialog.resume()->setChecked(resume);
    dialog.accept();
    QCOMPARE(dialog.errorText(), expected.contains(QLatin1String("%1")) ? expected.arg(path) : expected);
    QCOMPARE(dialog.result(), expected.isEmpty() ? int(QDialog::Accepted) : int(QDialog::Rejected));
    if (!expected.isEmpty()) return;
    const SweepRequest request = dialog.request();
    QCOMPARE(request.lengths, (std::vector<int64_t>{192, 256}));
    QCOMPARE(request.depths, (std::vector<double>{0.0, 0.5}));
    QCOMPARE(QString::fromStdString(request.out), path);
  }

  void dialogOffersResumeForAnExistingFile() {
    const QString path = m_dir.filePath(QStringLiteral("exists.h5"));
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.close();
    for (const bool agree : {false, true}) {
      RunSweepDialog dialog(m_model);
      dialog.lengths()->setText(QStringLiteral("192"));
      dialog.output()->setText(path);
      QTimer::singleShot(0, &dialog, [agree] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        QVERIFY(box);
        box->button(agree ? QMessageBox::Yes : QMessageBox::No)->click();
      });
      dialog.accept();
      QCOMPARE(dialog.resume()->isChecked(), agree);
      QCOMPARE(dialog.result(), agree ? int(QDialog::Accepted) : int(QDialog::Rejected));
      QCOMPARE(dialog.errorText(),
               agree ? QString()
                     : QStringLiteral("Sweep file: %1 exists; choose another file or resume it").arg(path));
      if (agree) QVERIFY(dialog.request().resume);
    }
  }

  void dialogNamesABadModelAndNormalizer() {
    RunSweepDialog dialog(m_dir.filePath(QStringLiteral("no-such-model")));
    dialog.output()->setText(m_dir.filePath(QStringLiteral("a.h5")));
    dialog.accept();
    QVERIFY2(dialog.errorText().startsWith(QStringLiteral("Model: ")), qPrintable(dialog.errorText()));
    dialog.model()->setText(m_model);
    Q_EMIT dialog.model()->modelChanged();
    dialog.normalizers()->setSpecs({QStringLiteral("ssmax:s=banana")});
    dialog.accept();
    QVERIFY2(dialog.errorText().startsWith(QStringLiteral("Normalizers: ")), qPrintable(dialog.errorText()));
  }

  void dialogRoundTripsARequest() {
    RunSweepDialog dialog(m_model);
    const SweepRequest request = makeRequest(QStringLiteral("round.h5"));
    dialog.setRequest(request);
    const SweepRequest back = dialog.request();
    QCOMPARE(back.lengths, request.lengths);
    QCOMPARE(back.depths, request.depths);
    QCOMPARE(back.prompts_per_cell, request.prompts_per_cell);
    QCOMPARE(back.seed, request.seed);
    QCOMPARE(back.normalizers, request.normalizers);
    QCOMPARE(back.out, request.out);
  }

  void bothWindowsHaveRunSweep() {
    MainWindow main;
    SweepWindow sweep;
    for (QMainWindow* window : {static_cast<QMainWindow*>(&main), static_cast<QMainWindow*>(&sweep)}) {
      QMenu* file = window->menuBar()->actions().first()->menu();
      bool found = false;
      for (QAction* action : file->actions()) found |= action->text() == QStringLiteral("Run &sweep…");
      QVERIFY(found);
      QVERIFY(window->findChild<SweepRunner*>());
    }
  }

 private:
  static constexpr qint64 kTotal = 2 * 2 * 1 * 2;  // lengths × depths × prompts × normalizers

  SweepRequest makeRequest(const QString& name) const {
    SweepRequest request;
    request.model_dir = m_model.toStdString();
    request.normalizers = {"softmax", "ssmax:s=0.3"};
    request.lengths = {192, 256};
    request.depths = {0.0, 1.0};
    request.prompts_per_cell = 1;
    request.out = m_dir.filePath(name).toStdString();
    return request;
  }

  QTemporaryDir m_dir;
  QString m_model;
};

QTEST_MAIN(TestSweepWorker)
#include "tst_sweepworker.moc"
