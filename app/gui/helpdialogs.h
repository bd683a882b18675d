#pragma once
// The Help menu's dialogs: the keyboard shortcut list (the window's own actions, read from its menus, and the
// keys and mouse gestures of the views) and the About box (version, what attnscope is, the README sections
// to read).

#include <QList>
#include <QPair>
#include <QString>

class QDialog;
class QMainWindow;
class QWidget;

namespace attnscope::gui {

/// (keys, what they do): the shortcuts of window's menu actions, then the views' keys and gestures.
QList<QPair<QString, QString>> shortcutList(const QMainWindow* window);

/// A dialog listing shortcutList(window); the caller shows it (it deletes itself when closed).
QDialog* createShortcutsDialog(QMainWindow* window);

/// The About box: name, version, a line on SSMax and the README sections by name; deletes itself when closed.
QDialog* createAboutDialog(QWidget* parent);

}  // namespace attnscope::gui
