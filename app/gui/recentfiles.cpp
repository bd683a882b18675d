#include "recentfiles.h"

#include <QDir>
#include <QFileInfo>
#include <QMenu>
#include <QSettings>

namespace attnscope::gui {
namespace {

constexpr int kMaxFiles = 10;
const char* const kKey = "recentFiles";

}  // namespace

RecentFiles::RecentFiles(QMenu* menu, QObject* parent) : QObject(parent), m_menu(menu) {
  rebuildMenu();
}

QStringList RecentFiles::files() const {
  return QSettings().value(kKey).toStringList();
}

void RecentFiles::add(const QString& path) {
  const QString absolute = QFileInfo(path).absoluteFilePath();
  QStringList list = files();
  list.removeAll(absolute);
  list.prepend(absolute);
  while (list.size() > kMaxFiles) list.removeLast();
  store(list);
}

void RecentFiles::remove(const QString& path) {
  QStringList list = files();
  list.removeAll(QFileInfo(path).absoluteFilePath());
  store(list);
}

void RecentFiles::store(const QStringList& files) {
  QSettings().setValue(kKey, files);
  rebuildMenu();
}

void RecentFiles::rebuildMenu() {
  m_menu->clear();
  const QStringList list = files();
  for (int i = 0; i < list.size(); ++i) {
    const QString path = list[i];
    QAction* action = m_menu->addAction(tr("&%1 %2").arg((i + 1) % 10).arg(QDir::toNativeSeparators(path)));
    connect(action, &QAction::triggered, this, [this, path] { Q_EMIT fileChosen(path); });
  }
  if (list.isEmpty()) m_menu->addAction(tr("(none)"))->setEnabled(false);
  m_menu->addSeparator();
  QAction* clear = m_menu->addAction(tr("Clear list"));
  clear->setEnabled(!list.isEmpty());
  connect(clear, &QAction::triggered, this, [this] { store({}); });
}

}  // namespace attnscope::gui
