#include "mainwindow.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QEventLoop>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QScreen>
#include <QSettings>
#include <QSignalBlocker>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>

#include "capturedocument.h"
#include "captureprogresswidget.h"
#include "captureworker.h"
#include "compareview.h"
#include "contextcurvewidget.h"
#include "elidedlabel.h"
#include "exportdialog.h"
#include "headgridview.h"
#include "headsfigure.h"
#include "heatmapwidget.h"
#include "helpdialogs.h"
#include "pertokenview.h"
#include "recentfiles.h"
#include "runmodeldialog.h"
#include "sweepdocument.h"
#include "sweeprunner.h"
#include "sweepwindow.h"
#include "tokensview.h"

namespace attnscope::gui {

using namespace attnscope::widgets;

namespace {

bool isCaptureFile(const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  return suffix == QLatin1String("h5") || suffix == QLatin1String("hdf5");
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      m_document(new CaptureDocument(this)),
      m_grid(new HeadGridView(m_document, this)),
      m_heatmap(new HeatmapWidget(m_document, this)),
      m_compare(new CompareView(m_document, this)),
      m_tabs(new QTabWidget(this)),
      m_curve(new ContextCurveWidget(m_document, this)),
      m_tokens(new TokensView(m_document, this)),
      m_perToken(new PerTokenView(m_document, this)),
      m_worker(new CaptureWorker(this)),
      m_progress(new CaptureProgressWidget(this)),
      m_runBox(new QComboBox(this)),
      m_compareBox(new QComboBox(this)),
      m_position(new ElidedLabel(this)) {
  setWindowTitle(tr("attnscope"));
  setAcceptDrops(true);
  m_tabs->addTab(m_heatmap, tr("Heatmap"));
  m_tabs->addTab(m_compare, tr("Compare runs"));
  m_tabs->setTabToolTip(
      1, tr("The run and the compare run side by side, their difference, and how each head changed"));
  setCentralWidget(m_tabs);
  createMenus();
  // One key in both: the tokens view's key mode marks its key on the heatmap, a heatmap click chooses it.
  connect(m_tokens, &TokensView::keyChanged, m_heatmap, &HeatmapWidget::setSelectedKey);
  for (HeatmapWidget* map :
       {m_heatmap, m_compare->runMap(), m_compare->compareMap(), m_compare->differenceMap()})
    connect(map, &HeatmapWidget::keySelected, m_tokens, &TokensView::setKey);
  createDocks();
  createHelpMenu();
  statusBar()->addPermanentWidget(m_position, 1);
  statusBar()->addPermanentWidget(m_progress);
  connect(m_worker, &CaptureWorker::progressChanged, m_progress, &CaptureProgressWidget::setProgress);
  connect(m_worker, &CaptureWorker::finished, this, &MainWindow::onCaptureFinished);
  connect(m_worker, &CaptureWorker::failed, this, &MainWindow::onCaptureFailed);
  connect(m_progress, &CaptureProgressWidget::cancelRequested, m_worker, &CaptureWorker::cancel);
  connect(m_document, &CaptureDocument::documentChanged, this, &MainWindow::onDocumentChanged);
  connect(m_document, &CaptureDocument::selectionChanged, this, &MainWindow::onSelectionChanged);
  connect(m_document, &CaptureDocument::errorOccurred, this, &MainWindow::showError);
  QSettings settings;
  // The first time, as large as a desktop allows and no larger than a laptop's screen.
  if (!restoreGeometry(settings.value("window/geometry").toByteArray()))
    // The frame is not known before the window is shown: leave room for a title bar (else the status bar
    // falls off a 1280×800 screen).
    resize(QSize(1500, 950).boundedTo(screen()->availableGeometry().size() - QSize(8, 40)));
  restoreState(settings.value("window/state").toByteArray());
  m_tabs->setCurrentIndex(settings.value("window/tab", 0).toInt());
  onDocumentChanged();
  statusBar()->showMessage(
      tr("Open a capture file (Ctrl+O), drop one on the window, or run a model (Ctrl+M)"));
}

MainWindow::~MainWindow() = default;

void MainWindow::createMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("&Open capture…"), this, &MainWindow::showOpenDialog);
  open->setShortcut(QKeySequence::Open);
  m_runAction = file->addAction(tr("Open &model…"), this, [this] { showRunDialog(); });
  m_runAction->setShortcut(QKeySequence(tr("Ctrl+M")));
  m_runAction->setToolTip(tr("Run a prompt through a model directory and open the capture"));
  auto* sweeps = new SweepRunner(this);
  file->addAction(tr("Run &sweep…"), sweeps, [sweeps] { sweeps->showDialog(); });
  m_recent = new RecentFiles(file->addMenu(tr("Open &recent")), this);
  connect(m_recent, &RecentFiles::fileChosen, this, &MainWindow::openFile);
  file->addSeparator();
  m_exportAction = file->addAction(tr("&Export…"), this, &MainWindow::showExportDialog);
  m_exportAction->setShortcut(QKeySequence(tr("Ctrl+E")));
  m_exportHeadsAction = file->addAction(tr("Export all &heads…"), this, &MainWindow::showExportHeadsDialog);
  m_exportHeadsAction->setObjectName(QStringLiteral("exportHeadsAction"));
  m_exportHeadsAction->setToolTip(
      tr("One figure with every head's attention map of the run as small multiples"));
  file->addSeparator();
  m_closeAction = file->addAction(tr("&Close"), m_document, &CaptureDocument::close);
  m_closeAction->setShortcut(QKeySequence::Close);
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QToolBar* runs = addToolBar(tr("Runs"));
  runs->setObjectName(QStringLiteral("runsToolBar"));
  runs->addWidget(new QLabel(tr(" Run: "), this));
  runs->addWidget(m_runBox);
  runs->addWidget(new QLabel(tr("  Compare with: "), this));
  runs->addWidget(m_compareBox);
  m_runBox->setObjectName(QStringLiteral("runBox"));
  m_compareBox->setObjectName(QStringLiteral("compareBox"));
  m_runBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  m_compareBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  m_runBox->setToolTip(tr("The run the head grid, heatmap and tokens view show"));
  m_compareBox->setToolTip(tr("A second run for the head grid's difference and the Compare runs tab"));
  connect(m_runBox, &QComboBox::currentIndexChanged, this,
          [this] { m_document->setRun(m_runBox->currentData().toString()); });
  connect(m_compareBox, &QComboBox::currentIndexChanged, this,
          [this] { m_document->setCompareRun(m_compareBox->currentData().toString()); });
}

void MainWindow::createHelpMenu() {
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  QAction* keys =
      help->addAction(tr("&Keyboard shortcuts"), this, [this] { createShortcutsDialog(this)->show(); });
  keys->setShortcut(QKeySequence::HelpContents);
  keys->setObjectName(QStringLiteral("shortcutsAction"));
  QAction* about = help->addAction(tr("&About attnscope"), this, [this] { createAboutDialog(this)->show(); });
  about->setObjectName(QStringLiteral("aboutAction"));
}

void MainWindow::createDocks() {
  const auto addDock = [this](QWidget* widget, const QString& title, const QString& name,
                              Qt::DockWidgetArea area) {
    auto* dock = new QDockWidget(title, this);
    dock->setObjectName(name);
    dock->setWidget(widget);
    addDockWidget(area, dock);
    return dock;
  };
  QDockWidget* grid = addDock(m_grid, tr("Heads"), QStringLiteral("headsDock"), Qt::LeftDockWidgetArea);
  QDockWidget* curve =
      addDock(m_curve, tr("Attention vs context size"), QStringLiteral("curveDock"), Qt::RightDockWidgetArea);
  QDockWidget* tokens =
      addDock(m_tokens, tr("Tokens"), QStringLiteral("tokensDock"), Qt::BottomDockWidgetArea);
  QDockWidget* perToken =
      addDock(m_perToken, tr("Per token"), QStringLiteral("perTokenDock"), Qt::BottomDockWidgetArea);
  tabifyDockWidget(tokens, perToken);
  tokens->raise();
  resizeDocks({grid, curve}, {330, 560}, Qt::Horizontal);
  resizeDocks({tokens}, {230}, Qt::Vertical);
  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (QDockWidget* dock : {grid, curve, tokens, perToken}) view->addAction(dock->toggleViewAction());
  m_sideDocks = {grid, curve};
  m_bottomDocks = {tokens, perToken};
  connect(m_tabs, &QTabWidget::currentChanged, this, &MainWindow::arrangeDocksForView);
}

void MainWindow::arrangeDocksForView() {
  // Three maps of kCompareMapWidth beside both side docks at their default widths (330 + 560 px); maps of
  // ~300 px height above the per-head table need the height of a 1080-px screen with the Tokens dock.
  constexpr int kCompareMapWidth = 300, kRoomForCompare = 3 * kCompareMapWidth + 330 + 560 + 60;
  constexpr int kRoomForCompareHeight = 1000;
  if (m_tabs->currentWidget() == m_compare) {
    const auto giveWay = [this](const QList<QDockWidget*>& docks) {
      for (QDockWidget* dock : docks)
        if (!dock->isHidden() && !dock->isFloating()) {
          // The current tab of a tabified group: both are visible, only it has pixels on screen.
          if (!dock->visibleRegion().isEmpty()) m_raisedBeforeCompare << dock;
          m_gaveWay << dock;
        }
      for (QDockWidget* dock : docks)
        if (m_gaveWay.contains(dock)) dock->hide();
    };
    if (width() < kRoomForCompare) giveWay(m_sideDocks);
    if (height() < kRoomForCompareHeight) giveWay(m_bottomDocks);
    if (!m_gaveWay.isEmpty())
      statusBar()->showMessage(tr("The panels make room for Compare (the View menu shows them again)"), 8000);
    return;
  }
  for (QDockWidget* dock : m_gaveWay) dock->show();
  for (QDockWidget* dock : m_raisedBeforeCompare) dock->raise();
  m_gaveWay.clear();
  m_raisedBeforeCompare.clear();
}

bool MainWindow::openFile(const QString& path) {
  if (SweepDocument::isSweep(path)) {  // a sweep has a window of its own
    SweepWindow::openInNewWindow(path);
    m_recent->add(path);
    return true;
  }
  if (!m_document->open(path)) {
    m_recent->remove(path);
    return false;
  }
  m_recent->add(path);
  QSettings().setValue("lastDirectory", QFileInfo(path).absolutePath());
  return true;
}

void MainWindow::showOpenDialog() {
  const QString path =
      QFileDialog::getOpenFileName(this, tr("Open capture"), QSettings().value("lastDirectory").toString(),
                                   tr("attnscope captures (*.h5 *.hdf5);;All files (*)"));
  if (!path.isEmpty()) openFile(path);
}

void MainWindow::showRunDialog(const QString& modelDir) {
  RunModelDialog dialog(
      modelDir.isEmpty() ? QSettings().value(QStringLiteral("run/modelDir")).toString() : modelDir, this);
  if (dialog.exec() == QDialog::Accepted) runCapture(dialog.request());
}

bool MainWindow::runCapture(const CaptureRequest& request, int threads) {
  if (!m_worker->start(request, threads)) return false;
  m_captureOut = QString::fromStdString(request.out);
  m_runAction->setEnabled(false);
  m_progress->begin();
  statusBar()->showMessage(
      tr("Running %1…").arg(QFileInfo(QString::fromStdString(request.model_dir)).fileName()));
  return true;
}

void MainWindow::onCaptureFinished(const CaptureOutcome& outcome) {
  m_progress->end();
  m_runAction->setEnabled(true);
  if (m_closeAfterCapture) {
    // Stop and close: a partial file this capture made goes, unless the user kept it where they chose.
    if (outcome.cancelled && outcome.created && !m_keepPartialOnClose)
      resolvePartialCapture(outcome, PartialCapture::Delete);
    close();
    return;
  }
  if (outcome.cancelled) {
    offerPartialCapture(outcome);
    return;
  }
  if (!outcome.path.isEmpty() && !openFile(outcome.path)) return;
  statusBar()->showMessage(tr("Captured %1 run(s) of %2 tokens into %3")
                               .arg(outcome.n_completed)
                               .arg(outcome.n_tokens)
                               .arg(outcome.path),
                           15000);
}

void MainWindow::offerPartialCapture(const CaptureOutcome& outcome) {
  if (outcome.path.isEmpty()) {
    statusBar()->showMessage(tr("Capture cancelled before anything was written"), 15000);
    return;
  }
  const double megabytes = QFileInfo(outcome.path).size() / 1e6;
  auto* box = new QMessageBox(QMessageBox::Question, tr("Capture cancelled"),
                              tr("The capture was cancelled: %1 of %2 runs complete, the interrupted run is "
                                 "marked incomplete.\n\n%3 (%4 MB)")
                                  .arg(outcome.n_completed)
                                  .arg(outcome.n_requested)
                                  .arg(outcome.path)
                                  .arg(megabytes, 0, 'f', 1),
                              QMessageBox::NoButton, this);
  box->setObjectName(QStringLiteral("partialCaptureBox"));
  box->setAttribute(Qt::WA_DeleteOnClose);
  QPushButton* open = box->addButton(tr("Open partial capture"), QMessageBox::AcceptRole);
  QPushButton* keep = box->addButton(tr("Keep file"), QMessageBox::RejectRole);
  QPushButton* remove = nullptr;
  if (outcome.created) {
    // The file is this capture's alone: closing the box without choosing deletes it.
    remove = box->addButton(tr("Delete file"), QMessageBox::DestructiveRole);
    box->setDefaultButton(remove);
    box->setEscapeButton(remove);
  } else {
    box->setInformativeText(tr("The file held other runs before: it is kept."));
    box->setDefaultButton(keep);
    box->setEscapeButton(keep);
  }
  open->setObjectName(QStringLiteral("openPartial"));
  keep->setObjectName(QStringLiteral("keepPartial"));
  if (remove) remove->setObjectName(QStringLiteral("deletePartial"));
  connect(box, &QMessageBox::buttonClicked, this, [this, outcome, open, keep](QAbstractButton* button) {
    resolvePartialCapture(outcome, button == open    ? PartialCapture::Open
                                   : button == keep  ? PartialCapture::Keep
                                   : outcome.created ? PartialCapture::Delete
                                                     : PartialCapture::Keep);
  });
  box->open();
}

void MainWindow::resolvePartialCapture(const CaptureOutcome& outcome, PartialCapture choice) {
  switch (choice) {
    case PartialCapture::Open:
      openFile(outcome.path);
      break;
    case PartialCapture::Keep:
      statusBar()->showMessage(tr("Kept the partial capture %1").arg(outcome.path), 15000);
      break;
    case PartialCapture::Delete:
      if (!outcome.created) return;  // never delete a file that held runs before this capture
      if (m_document->path() == outcome.path) m_document->close();
      if (QFile::remove(outcome.path))
        statusBar()->showMessage(tr("Deleted the partial capture %1").arg(outcome.path), 15000);
      else
        showError(tr("Cannot delete %1").arg(outcome.path));
      break;
  }
}

void MainWindow::onCaptureFailed(const QString& message) {
  m_progress->end();
  m_runAction->setEnabled(true);
  if (m_closeAfterCapture) {
    close();
    return;
  }
  showError(tr("Running the model failed: %1").arg(message));
}

QList<ExportSource*> MainWindow::exportSources() const {
  return {m_heatmap, m_curve, m_grid, m_tokens, m_compare};
}

ExportSource* MainWindow::focusedSource() const {
  for (QWidget* w = QApplication::focusWidget(); w; w = w->parentWidget())
    if (auto* source = dynamic_cast<ExportSource*>(w)) return source;
  return m_heatmap;
}

void MainWindow::showExportDialog() {
  QSettings settings;
  ExportDialog dialog(exportSources(), focusedSource(),
                      settings.value("exportDirectory", QDir::homePath()).toString(), this);
  if (dialog.exec() == QDialog::Accepted) writeExport(*dialog.source(), dialog.path(), dialog.options());
}

void MainWindow::showExportHeadsDialog() {
  const RunInfo* run = m_document->currentRun();
  if (!run) return;
  const int n_layer = static_cast<int>(run->n_layer), n_head = static_cast<int>(run->n_head);
  // The figure is never on screen; it starts reading while the dialog is open.
  HeadsFigure figure(m_document);
  figure.setAttribute(Qt::WA_DontShowOnScreen);
  figure.resize(headsFigureSize(n_layer, n_head));
  figure.show();
  ExportDialog dialog({&figure}, &figure, QSettings().value("exportDirectory", QDir::homePath()).toString(),
                      this);
  dialog.setWindowTitle(tr("Export all heads"));
  if (dialog.exec() != QDialog::Accepted) return;
  const ExportOptions options = dialog.options();
  const double pixels = exportFormatForPath(dialog.path()) == ExportFormat::Png ? options.scale : 4.0;
  figure.setCellPixels(headsFigureCellPixels(QSize(options.width, options.height), pixels, n_layer, n_head));
  if (figure.isLoading()) {
    statusBar()->showMessage(tr("Reading every head's map…"));
    QApplication::setOverrideCursor(Qt::WaitCursor);
    QEventLoop loop;
    connect(&figure, &HeadsFigure::contentReady, &loop, &QEventLoop::quit);
    loop.exec();
    QApplication::restoreOverrideCursor();
  }
  writeExport(figure, dialog.path(), options);
}

void MainWindow::writeExport(const ExportSource& source, const QString& path, const ExportOptions& options) {
  QString error;
  if (!exportSource(source, path, options, &error)) {
    showError(error);
    return;
  }
  QSettings().setValue("exportDirectory", QFileInfo(path).absolutePath());
  statusBar()->showMessage(tr("Exported %1").arg(path), 5000);
}

void MainWindow::onDocumentChanged() {
  const bool open = m_document->isOpen();
  setWindowTitle(open ? tr("%1 — attnscope").arg(QFileInfo(m_document->path()).fileName()) : tr("attnscope"));
  m_exportAction->setEnabled(open);
  m_exportHeadsAction->setEnabled(open);
  m_closeAction->setEnabled(open);
  const QSignalBlocker blockRuns(m_runBox), blockCompare(m_compareBox);
  m_runBox->clear();
  m_compareBox->clear();
  m_compareBox->addItem(tr("(none)"), QString());
  for (const RunInfo& run : m_document->runs()) {
    const QString name = QString::fromStdString(run.name);
    const QString label =
        tr("%1  [%2]%3")
            .arg(name, normalizerLabel(run.normalizer), run.complete ? QString() : tr(" (incomplete)"));
    const QString exact = tr("%1: normalizer %2").arg(name, QString::fromStdString(run.normalizer));
    m_runBox->addItem(label, name);
    m_compareBox->addItem(label, name);
    m_runBox->setItemData(m_runBox->count() - 1, exact, Qt::ToolTipRole);
    m_compareBox->setItemData(m_compareBox->count() - 1, exact, Qt::ToolTipRole);
  }
  m_runBox->setEnabled(open);
  m_compareBox->setEnabled(open);
  onSelectionChanged(m_document->selection());
}

void MainWindow::onSelectionChanged(const Selection& selection) {
  {
    const QSignalBlocker blockRuns(m_runBox), blockCompare(m_compareBox);
    m_runBox->setCurrentIndex(m_runBox->findData(selection.run));
    m_compareBox->setCurrentIndex(std::max(0, m_compareBox->findData(selection.compareRun)));
  }
  if (!m_document->isOpen()) {
    m_position->setText(QString());
    return;
  }
  m_position->setText(tr("%1 · %2 tokens · run %3 · layer %4 · head %5 · query %6 «%7»")
                          .arg(QFileInfo(m_document->path()).fileName())
                          .arg(m_document->nTokens())
                          .arg(selection.run)
                          .arg(selection.layer)
                          .arg(selection.head)
                          .arg(selection.query)
                          .arg(m_document->displayToken(selection.query)));
}

void MainWindow::showError(const QString& message) {
  statusBar()->showMessage(message, 10000);
  if (!QApplication::platformName().startsWith(QLatin1String("offscreen")))
    QMessageBox::warning(this, tr("attnscope"), message);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  const QList<QUrl> urls = event->mimeData()->urls();
  if (!urls.isEmpty() && urls.first().isLocalFile() && isCaptureFile(urls.first().toLocalFile()))
    event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QList<QUrl> urls = event->mimeData()->urls();
  if (urls.isEmpty()) return;
  event->acceptProposedAction();
  openFile(urls.first().toLocalFile());
}

void MainWindow::askToStopCapture() {
  const QFileInfo out(m_captureOut);
  // Captures written to the cache directory are the window's own scratch files; elsewhere the user chose.
  const bool chosen = QDir(out.absolutePath()) != QDir(RunModelDialog::captureCacheDirectory());
  auto* box = new QMessageBox(QMessageBox::Question, tr("Capture running"),
                              tr("A capture is running into %1.\n\nStop it and close the window?")
                                  .arg(QDir::toNativeSeparators(out.absoluteFilePath())),
                              QMessageBox::NoButton, this);
  box->setObjectName(QStringLiteral("stopCaptureBox"));
  box->setAttribute(Qt::WA_DeleteOnClose);
  QPushButton* stop = box->addButton(tr("Stop and close"), QMessageBox::DestructiveRole);
  QPushButton* keepRunning = box->addButton(tr("Keep running"), QMessageBox::RejectRole);
  stop->setObjectName(QStringLiteral("stopAndClose"));
  keepRunning->setObjectName(QStringLiteral("keepRunning"));
  box->setDefaultButton(keepRunning);
  box->setEscapeButton(keepRunning);
  if (chosen) {
    auto* keep = new QCheckBox(tr("Keep the partial capture file (its interrupted run marked incomplete)"));
    keep->setObjectName(QStringLiteral("keepPartialFile"));
    box->setCheckBox(keep);
  } else {
    box->setInformativeText(tr("Stopping deletes the partial capture file."));
  }
  connect(box, &QMessageBox::buttonClicked, this, [this, box, stop](QAbstractButton* button) {
    if (button != stop || !m_worker->isRunning()) return;
    m_closeAfterCapture = true;
    m_keepPartialOnClose = box->checkBox() && box->checkBox()->isChecked();
    m_worker->cancel();
    statusBar()->showMessage(tr("Stopping the capture; the window closes when it has stopped…"));
  });
  box->open();
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (m_worker->isRunning()) {
    event->ignore();  // closed by onCaptureFinished once the capture has stopped
    if (!m_closeAfterCapture && !findChild<QMessageBox*>(QStringLiteral("stopCaptureBox")))
      askToStopCapture();
    return;
  }
  QSettings settings;
  settings.setValue("window/geometry", saveGeometry());
  settings.setValue("window/state", saveState());
  settings.setValue("window/tab", m_tabs->currentIndex());
  QMainWindow::closeEvent(event);
}

}  // namespace attnscope::gui
