#pragma once
// The most recently opened capture files, kept in QSettings between sessions, shown as a menu.

#include <QObject>
#include <QStringList>

class QMenu;

namespace attnscope::gui {

class RecentFiles : public QObject {
  Q_OBJECT
 public:
  explicit RecentFiles(QMenu* menu, QObject* parent = nullptr);

  QStringList files() const;
  /// Moves path to the top of the list (adding it if new).
  void add(const QString& path);
  void remove(const QString& path);

 Q_SIGNALS:
  void fileChosen(const QString& path);

 private:
  void store(const QStringList& files);
  void rebuildMenu();

  QMenu* m_menu;
};

}  // namespace attnscope::gui
