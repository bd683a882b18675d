#include "helpdialogs.h"

#include <QAction>
#include <QApplication>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QMainWindow>
#include <QMenu>
#include <QMenuBar>
#include <QTableWidget>
#include <QUrl>
#include <QVBoxLayout>

namespace attnscope::gui {
namespace {

/// The README sections a new user reads, by their headings.
const char* const kReadmeSections[] = {"Quick start (Debian 12)", "The desktop application", "Capture files",
                                       "Normalizers (--normalizer SPEC)", "Tests and benchmarks"};

/// The keys and gestures of the views, which are not menu actions.
QList<QPair<QString, QString>> viewKeys() {
  return {
      {QObject::tr("Wheel / drag"), QObject::tr("Heatmap: zoom at the cursor / pan")},
      {QObject::tr("Click"),
       QObject::tr("Heatmap: make that row the query; Tokens: make that token the query")},
      {QObject::tr("Up / Down"), QObject::tr("Heatmap: previous / next query")},
      {QObject::tr("Left / Right"), QObject::tr("Heatmap: previous / next key")},
      {QObject::tr("+ / −"), QObject::tr("Heatmap: zoom in / out")},
      {QObject::tr("Ctrl+C"), QObject::tr("Heatmap: copy the selected row as tab-separated values")},
      {QObject::tr("Arrow keys"), QObject::tr("Heads: select the head above, below, left or right")},
      {QObject::tr("Click a row"), QObject::tr("Compare runs table: show that head")},
  };
}

/// Every action with a shortcut under menu, with the menu path ("File › Open capture…").
void collectShortcuts(const QMenu* menu, const QString& path, QList<QPair<QString, QString>>* out) {
  for (QAction* action : menu->actions()) {
    const QString text = action->text().remove(QLatin1Char('&'));
    if (action->menu()) {
      collectShortcuts(action->menu(), path + text + QStringLiteral(" › "), out);
    } else if (!action->shortcut().isEmpty()) {
      out->append({action->shortcut().toString(QKeySequence::NativeText), path + text});
    }
  }
}

QString readmeHtml() {
  // A source checkout has the README beside the build; link it when it is there.
  const QFileInfo readme(QStringLiteral(ATTNSCOPE_README));
  QStringList items;
  for (const char* section : kReadmeSections) {
    const QString name = QString::fromUtf8(section).toHtmlEscaped();
    items << (readme.exists() ? QStringLiteral("<a href=\"%1\">%2</a>")
                                    .arg(QUrl::fromLocalFile(readme.absoluteFilePath()).toString(), name)
                              : name);
  }
  return QObject::tr("Read the README (%1), sections: %2.")
      .arg(readme.exists() ? readme.absoluteFilePath().toHtmlEscaped() : QStringLiteral("README.md"),
           items.join(QStringLiteral(" · ")));
}

}  // namespace

QList<QPair<QString, QString>> shortcutList(const QMainWindow* window) {
  QList<QPair<QString, QString>> list;
  for (QAction* action : window->menuBar()->actions())
    if (action->menu())
      collectShortcuts(action->menu(), action->text().remove(QLatin1Char('&')) + QStringLiteral(" › "),
                       &list);
  return list + viewKeys();
}

QDialog* createShortcutsDialog(QMainWindow* window) {
  auto* dialog = new QDialog(window);
  dialog->setObjectName(QStringLiteral("shortcutsDialog"));
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setWindowTitle(QObject::tr("Keyboard shortcuts"));
  const QList<QPair<QString, QString>> list = shortcutList(window);
  auto* table = new QTableWidget(static_cast<int>(list.size()), 2, dialog);
  table->setHorizontalHeaderLabels({QObject::tr("Keys"), QObject::tr("Does")});
  for (int row = 0; row < list.size(); ++row) {
    table->setItem(row, 0, new QTableWidgetItem(list[row].first));
    table->setItem(row, 1, new QTableWidgetItem(list[row].second));
  }
  table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table->verticalHeader()->hide();
  table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  table->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
  table->setWordWrap(true);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, dialog);
  QObject::connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::close);
  auto* layout = new QVBoxLayout(dialog);
  layout->addWidget(table, 1);
  layout->addWidget(buttons);
  dialog->resize(620, 460);  // fits a 1280×800 screen with room to spare
  return dialog;
}

QDialog* createAboutDialog(QWidget* parent) {
  auto* dialog = new QDialog(parent);
  dialog->setObjectName(QStringLiteral("aboutDialog"));
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setWindowTitle(QObject::tr("About attnscope"));
  auto* text = new QLabel(dialog);
  text->setObjectName(QStringLiteral("aboutText"));
  text->setTextFormat(Qt::RichText);
  text->setWordWrap(true);
  text->setOpenExternalLinks(true);
  text->setTextInteractionFlags(Qt::TextBrowserInteraction);
  text->setText(
      QObject::tr(
          "<h3>attnscope %1</h3>"
          "<p>See how each attention head of a transformer distributes attention under softmax and "
          "Scalable-Softmax (SSMax, <a href=\"https://arxiv.org/abs/2501.19399\">arXiv 2501.19399</a>) "
          "as the context grows.</p><p>%2</p><p>Qt %3 · keyboard shortcuts: Help › Keyboard "
          "shortcuts.</p>")
          .arg(QStringLiteral(ATTNSCOPE_VERSION).toHtmlEscaped(), readmeHtml(),
               QString::fromLatin1(qVersion())));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, dialog);
  QObject::connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::close);
  auto* layout = new QVBoxLayout(dialog);
  layout->addWidget(text, 1);
  layout->addWidget(buttons);
  dialog->resize(520, 280);
  return dialog;
}

}  // namespace attnscope::gui
