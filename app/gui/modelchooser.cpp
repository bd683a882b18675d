#include "modelchooser.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>

#include "attnscope/hf_cache.h"

namespace attnscope::gui {
namespace {

// Item data: the snapshot directory of a listed cached model, and its id.
constexpr int kDirectoryRole = Qt::UserRole;
constexpr int kIdRole = Qt::UserRole + 1;

}  // namespace

ModelChooser::ModelChooser(QWidget* parent) : QWidget(parent), m_combo(new QComboBox(this)) {
  m_combo->setEditable(true);
  m_combo->setInsertPolicy(QComboBox::NoInsert);
  m_combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  m_combo->setMinimumContentsLength(32);
  m_combo->lineEdit()->setPlaceholderText(
      tr("A model directory, or a model id Org/Name from the local cache"));
  auto* browseButton = new QPushButton(tr("Browse…"), this);
  auto* row = new QHBoxLayout(this);
  row->setContentsMargins(0, 0, 0, 0);
  row->addWidget(m_combo, 1);
  row->addWidget(browseButton);

  connect(browseButton, &QPushButton::clicked, this, &ModelChooser::browse);
  connect(m_combo->lineEdit(), &QLineEdit::editingFinished, this, &ModelChooser::modelChanged);
  connect(m_combo, &QComboBox::activated, this, &ModelChooser::modelChanged);
  refreshCachedModels();
}

QString ModelChooser::text() const {
  return m_combo->currentText().trimmed();
}

void ModelChooser::setText(const QString& text) {
  const int listed = m_combo->findText(text, Qt::MatchExactly);
  if (listed >= 0) m_combo->setCurrentIndex(listed);  // the open list then marks it
  m_combo->setEditText(text);
}

void ModelChooser::refreshCachedModels() {
  const QString typed = m_combo->currentText();
  m_combo->clear();
  QStringList caches;
  for (const std::string& dir : hfCacheDirs()) caches << QString::fromStdString(dir);
  for (const CachedModel& model : listCachedModels()) {
    const QString id = QString::fromStdString(model.id);
    const QString revision = QString::fromStdString(model.revision);
    const QString label =
        revision == QLatin1String("main") ? id : tr("%1 (snapshot %2)").arg(id, revision.left(12));
    m_combo->addItem(label);
    const int index = m_combo->count() - 1;
    m_combo->setItemData(index, QString::fromStdString(model.directory), kDirectoryRole);
    m_combo->setItemData(index, id, kIdRole);
    m_combo->setItemData(index, QString::fromStdString(model.directory), Qt::ToolTipRole);
  }
  m_combo->setToolTip(
      tr("%n cached model(s) listed from %1", nullptr, m_combo->count())
          .arg(caches.isEmpty() ? tr("no cache (HOME is unset)") : caches.join(QStringLiteral(", "))));
  m_combo->setEditText(typed);
}

QString ModelChooser::resolvedDirectory(QString* error) const {
  const QString chosen = text();
  if (chosen.isEmpty()) {
    if (error) *error = tr("Choose a model directory or a cached model.");
    return {};
  }
  const int listed = m_combo->findText(chosen, Qt::MatchExactly);
  if (listed >= 0 && !QFileInfo::exists(chosen)) return m_combo->itemData(listed, kDirectoryRole).toString();
  try {
    return QString::fromStdString(resolveModelPath(chosen.toStdString()));
  } catch (const ModelPathError& e) {
    if (error) *error = QString::fromStdString(e.what());
    return {};
  }
}

QString ModelChooser::modelName() const {
  const int listed = m_combo->findText(text(), Qt::MatchExactly);
  const QString name = listed >= 0 ? m_combo->itemData(listed, kIdRole).toString() : text();
  return QFileInfo(QDir::cleanPath(name)).fileName();
}

void ModelChooser::browse() {
  const QString start = QFileInfo(text()).isDir() ? text() : QString();
  const QString dir =
      QFileDialog::getExistingDirectory(this, tr("Model directory (config.json + safetensors)"), start);
  if (dir.isEmpty()) return;
  setText(dir);
  Q_EMIT modelChanged();
}

}  // namespace attnscope::gui
