// The Run model dialog's model chooser lists the models of the local Hugging Face cache (a fake hub cache of
// the bundled random Llama, laid out with refs, snapshots and blob symlinks), resolves a chosen or typed id
// to its snapshot directory, and names the caches searched when an id is not there.

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "modelchooser.h"
#include "normalizerchooser.h"
#include "runmodeldialog.h"

using namespace attnscope::gui;

namespace {

const QString kMain = QStringLiteral("0123456789abcdef0123456789abcdef01234567");
const QString kDetached = QStringLiteral("fedcba9876543210fedcba9876543210fedcba98");

/// models--<folder> in `hub` with the sample's files as blobs and one snapshot linking to them.
bool addRepo(const QString& hub, const QString& folder, const QString& hash, bool withMainRef) {
  const QDir sample(qEnvironmentVariable("ATTNSCOPE_SAMPLE_MODEL"));
  const QString repo = hub + QStringLiteral("/models--") + folder;
  const QString snapshot = repo + QStringLiteral("/snapshots/") + hash;
  if (!QDir().mkpath(repo + QStringLiteral("/blobs")) || !QDir().mkpath(repo + QStringLiteral("/refs")) ||
      !QDir().mkpath(snapshot))
    return false;
  bool ok =
      QFile::copy(sample.filePath(QStringLiteral("config.json")), repo + QStringLiteral("/blobs/c0nf16")) &&
      QFile::copy(sample.filePath(QStringLiteral("model.safetensors")),
                  repo + QStringLiteral("/blobs/5afe7e")) &&
      QFile::link(QStringLiteral("../../blobs/c0nf16"), snapshot + QStringLiteral("/config.json")) &&
      QFile::link(QStringLiteral("../../blobs/5afe7e"), snapshot + QStringLiteral("/model.safetensors"));
  if (ok && withMainRef) {
    QFile ref(repo + QStringLiteral("/refs/main"));
    ok = ref.open(QIODevice::WriteOnly) && ref.write(hash.toLatin1()) == hash.size();
  }
  return ok;
}

}  // namespace

class TestModelChooser : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    m_hub = m_dir.filePath(QStringLiteral("hub"));
    QVERIFY(addRepo(m_hub, QStringLiteral("Org--Tiny"), kMain, true));
    QVERIFY(addRepo(m_hub, QStringLiteral("gpt2"), kDetached, false));
    // Only the fake cache: the hub's other places point into the temporary directory too.
    qputenv("HF_HUB_CACHE", m_hub.toUtf8());
    qputenv("HF_HOME", m_dir.filePath(QStringLiteral("hf-home")).toUtf8());
    qputenv("XDG_CACHE_HOME", m_dir.filePath(QStringLiteral("xdg")).toUtf8());
  }

  void listsTheCachedModels() {
    ModelChooser chooser;
    QCOMPARE(chooser.combo()->count(), 2);
    QCOMPARE(chooser.combo()->itemText(0), QStringLiteral("Org/Tiny"));
    QCOMPARE(chooser.combo()->itemText(1), QStringLiteral("gpt2 (snapshot fedcba987654)"));
    QVERIFY(chooser.combo()->toolTip().contains(m_hub));
    QVERIFY(chooser.text().isEmpty());  // listing chooses nothing

    chooser.combo()->setCurrentIndex(1);
    QString error;
    QCOMPARE(chooser.resolvedDirectory(&error),
             m_hub + QStringLiteral("/models--gpt2/snapshots/") + kDetached);
    QCOMPARE(chooser.modelName(), QStringLiteral("gpt2"));
  }

  void dialogRunsACachedModelById() {
    RunModelDialog dialog(QStringLiteral("Org/Tiny"));  // as `attnscope --model Org/Tiny` opens it
    // The sample's config reached through the blob symlinks: its context sets the default SSMax.
    QCOMPARE(dialog.normalizers()->specs(), (QStringList{"softmax", "ssmax:ctx=128"}));
    dialog.setPromptText(QStringLiteral("x"));
    CaptureJob job = dialog.job();
    QCOMPARE(job.modelDir, m_hub + QStringLiteral("/models--Org--Tiny/snapshots/") + kMain);
    QVERIFY2(QFileInfo(job.out).fileName().startsWith(QStringLiteral("Tiny-")), qPrintable(job.out));

    // Picking the other listed model in the list.
    QComboBox* combo = dialog.model()->combo();
    combo->setCurrentIndex(1);
    Q_EMIT combo->activated(1);
    job = dialog.job();
    QCOMPARE(job.modelDir, m_hub + QStringLiteral("/models--gpt2/snapshots/") + kDetached);
    QVERIFY2(QFileInfo(job.out).fileName().startsWith(QStringLiteral("gpt2-")), qPrintable(job.out));
  }

  void missingIdNamesTheCachesSearched() {
    ModelChooser chooser;
    chooser.setText(QStringLiteral("Org/Nope"));
    QString error;
    QVERIFY(chooser.resolvedDirectory(&error).isEmpty());
    QVERIFY2(error.contains(QStringLiteral("searched '") + m_hub + QStringLiteral("/models--Org--Nope'")),
             qPrintable(error));
    QVERIFY(!error.contains(QLatin1Char('\n')));
  }

 private:
  QTemporaryDir m_dir;
  QString m_hub;
};

QTEST_MAIN(TestModelChooser)
#include "tst_modelchooser.moc"
