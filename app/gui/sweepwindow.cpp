#include "sweepwindow.h"

#include <QApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QScreen>
#include <QSettings>
#include <QStatusBar>

#include "exportdialog.h"
#include "mainwindow.h"
#include "sweepdocument.h"
#include "sweeprunner.h"
#include "sweepview.h"

namespace attnscope::gui {

using namespace attnscope::widgets;

SweepWindow::SweepWindow(QWidget* parent)
    : QMainWindow(parent), m_document(new SweepDocument(this)), m_view(new SweepView(m_document, this)) {
  setWindowTitle(tr("attnscope sweep"));
  setCentralWidget(m_view);
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open…"), this, &SweepWindow::showOpenDialog)->setShortcut(QKeySequence::Open);
  auto* sweeps = new SweepRunner(this);
  file->addAction(tr("Run &sweep…"), sweeps, [sweeps] { sweeps->showDialog(); });
  m_exportAction = file->addAction(tr("&Export…"), this, &SweepWindow::showExportDialog);
  m_exportAction->setShortcut(QKeySequence(tr("Ctrl+E")));
  file->addSeparator();
  file->addAction(tr("&Close window"), this, &QWidget::close)->setShortcut(QKeySequence::Close);
  file->addAction(tr("&Quit"), qApp, &QApplication::closeAllWindows)->setShortcut(QKeySequence::Quit);
  connect(m_document, &SweepDocument::documentChanged, this, &SweepWindow::onDocumentChanged);
  connect(m_document, &SweepDocument::errorOccurred, this, &SweepWindow::showError);
  resize(QSize(1500, 950).boundedTo(screen()->availableGeometry().size()));
  onDocumentChanged();
}

SweepWindow* SweepWindow::openInNewWindow(const QString& path) {
  auto* window = new SweepWindow;
  window->setAttribute(Qt::WA_DeleteOnClose);
  window->show();
  window->openFile(path);
  return window;
}

void SweepWindow::openFile(const QString& path) {
  statusBar()->showMessage(tr("Reading %1…").arg(path));
  m_document->open(path);
}

void SweepWindow::showOpenDialog() {
  const QString path = QFileDialog::getOpenFileName(
      this, tr("Open sweep or capture"), QSettings().value("lastDirectory").toString(),
      tr("attnscope sweeps and captures (*.h5 *.hdf5);;All files (*)"));
  if (path.isEmpty()) return;
  QSettings().setValue("lastDirectory", QFileInfo(path).absolutePath());
  if (SweepDocument::isSweep(path)) {
    openFile(path);
    return;
  }
  auto* window = new MainWindow;  // a capture: the capture window shows it
  window->setAttribute(Qt::WA_DeleteOnClose);
  window->show();
  window->openFile(path);
}

void SweepWindow::showExportDialog() {
  QSettings settings;
  ExportDialog dialog(m_view->exportSources(), m_view->currentSource(),
                      settings.value("exportDirectory", QDir::homePath()).toString(), this);
  if (dialog.exec() != QDialog::Accepted) return;
  QString error;
  if (!exportSource(*dialog.source(), dialog.path(), dialog.options(), &error)) {
    showError(error);
    return;
  }
  settings.setValue("exportDirectory", QFileInfo(dialog.path()).absolutePath());
  statusBar()->showMessage(tr("Exported %1").arg(dialog.path()), 5000);
}

void SweepWindow::onDocumentChanged() {
  const bool open = m_document->isOpen();
  setWindowTitle(open ? tr("%1 — attnscope sweep").arg(QFileInfo(m_document->path()).fileName())
                      : tr("attnscope sweep"));
  m_exportAction->setEnabled(open);
  statusBar()->showMessage(open ? tr("Read %1").arg(m_document->path()) : tr("Open a sweep file (Ctrl+O)"),
                           open ? 5000 : 0);
}

void SweepWindow::showError(const QString& message) {
  statusBar()->showMessage(message, 10000);
  if (!QApplication::platformName().startsWith(QLatin1String("offscreen")))
    QMessageBox::warning(this, tr("attnscope"), message);
}

}  // namespace attnscope::gui
