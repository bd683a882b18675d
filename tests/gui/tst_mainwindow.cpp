// End to end: the main window opens a capture (the known one, and a real capture of the bundled random model
// when the test fixture made one), a head is selected in the grid, and the heatmap and curve are exported as
// PNG, PDF, SVG and CSV, then checked; the headless `attnscope --export` is checked the same way.

#include <QAction>
#include <QApplication>
#include <QDialog>
#include <QFile>
#include <QImage>
#include <QLineEdit>
#include <QProcess>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QXmlStreamReader>

#include <hdf5.h>
#include <qcustomplot.h>

#include <set>

#include "capturedocument.h"
#include "contextcurvewidget.h"
#include "headgridview.h"
#include "headsfigure.h"
#include "heatmapwidget.h"
#include "knowncapture.h"
#include "mainwindow.h"
#include "tokensview.h"

using namespace attnscope;
using namespace attnscope::gui;
using namespace attnscope::widgets;

namespace {

/// Number of distinct colours in a region of an image.
int distinctColours(const QImage& image, const QRect& region) {
  std::set<QRgb> colours;
  for (int y = region.top(); y <= region.bottom(); y += 2)
    for (int x = region.left(); x <= region.right(); x += 2) colours.insert(image.pixel(x, y));
  return static_cast<int>(colours.size());
}

void checkPdf(const QString& path) {
  QFile file(path);
  QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(path));
  QVERIFY(file.read(5) == "%PDF-");
  QVERIFY2(file.size() > 2000, qPrintable(QString::number(file.size())));
}

/// Checks an SVG parses and draws: plots must hold vector lines (path or polyline elements); widget grabs may
/// be rectangles and text only.
void checkSvg(const QString& path, bool plot = true) {
  QFile file(path);
  QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(path));
  QXmlStreamReader xml(&file);
  int paths = 0, shapes = 0, svgRoots = 0;
  while (!xml.atEnd()) {
    if (xml.readNext() != QXmlStreamReader::StartElement) continue;
    if (xml.name() == QLatin1String("svg")) ++svgRoots;
    // QSvgGenerator writes strokes as <polyline> and fills as <path>: count both.
    if (xml.name() == QLatin1String("path") || xml.name() == QLatin1String("polyline")) ++paths;
    if (xml.name() == QLatin1String("rect") || xml.name() == QLatin1String("text")) ++shapes;
  }
  QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
  QCOMPARE(svgRoots, 1);
  QVERIFY2((plot ? paths : paths + shapes) > 5,
           qPrintable(QStringLiteral("%1 paths, %2 shapes").arg(paths).arg(shapes)));
}

/// Makes a capture lie: sets an integer attribute of a run with the HDF5 C API, as another tool could.
bool setRunAttribute(const QString& path, const char* run, const char* name, int64_t value) {
  hid_t file = H5Fopen(path.toLocal8Bit().constData(), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t group = H5Gopen2(file, (std::string("runs/") + run).c_str(), H5P_DEFAULT);
  hid_t attr = H5Aopen(group, name, H5P_DEFAULT);
  const bool ok = file >= 0 && group >= 0 && attr >= 0 && H5Awrite(attr, H5T_NATIVE_INT64, &value) >= 0;
  H5Aclose(attr);
  H5Gclose(group);
  return H5Fclose(file) >= 0 && ok;
}

}  // namespace

class TestMainWindow : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // QSettings go to a test location, not the user's
    QVERIFY(m_dir.isValid());
    m_known = m_dir.filePath(QStringLiteral("known.h5"));
    test::writeKnownCapture(m_known, {64, 2, 3});
  }

  void openSelectExport_data() {
    QTest::addColumn<QString>("capture");
    QTest::addColumn<int>("layer");  // a layer whose head 2 has a map
    QTest::newRow("known") << m_known << 1;
    const QString sample = qEnvironmentVariable("ATTNSCOPE_SAMPLE_CAPTURE");
    if (!sample.isEmpty() && QFile::exists(sample)) QTest::newRow("random model") << sample << 1;
    // The bundled capture of the trained pair (samples/needle-1024.h5: maps of layer 2), as the demo opens
    // it.
    const QString bundled = qEnvironmentVariable("ATTNSCOPE_BUNDLED_CAPTURE");
    QVERIFY2(QFile::exists(bundled), qPrintable(bundled));
    QTest::newRow("bundled sample") << bundled << 2;
  }

  void openSelectExport() {
    QFETCH(QString, capture);
    QFETCH(int, layer);
    MainWindow window;
    window.resize(1400, 900);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QSignalSpy gridReady(window.headGrid(), &HeadGridView::contentReady);
    QSignalSpy curveReady(window.contextCurve(), &ContextCurveWidget::contentReady);
    QVERIFY(window.openFile(capture));
    QVERIFY(gridReady.wait(20000) || !gridReady.isEmpty());
    QVERIFY(window.windowTitle().contains(QFileInfo(capture).fileName()));

    // Select head 2 of the layer by clicking its cell.
    QTableView* table = window.headGrid()->table();
    const QModelIndex cell = table->model()->index(layer, 2);
    QVERIFY(cell.isValid());
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualRect(cell).center());
    QCOMPARE(window.document()->selection().layer, layer);
    QCOMPARE(window.document()->selection().head, 2);

    HeatmapWidget* heatmap = window.heatmap();
    for (int i = 0; i < 400 && (heatmap->tile().empty() || heatmap->isLoading()); ++i) QTest::qWait(25);
    QVERIFY(!heatmap->tile().empty());
    QCOMPARE(heatmap->tile().request.head, 2);
    for (int i = 0; i < 400 && window.contextCurve()->curves().request.head != 2; ++i) QTest::qWait(25);
    QCOMPARE(window.contextCurve()->curves().request.head, 2);
    for (int i = 0; i < 400 && window.tokensView()->weights().empty(); ++i) QTest::qWait(25);
    QCOMPARE(static_cast<int>(window.tokensView()->weights().size()), window.document()->nTokens());

    ExportOptions options;
    options.width = 640, options.height = 480, options.scale = 1;
    QString error;
    const QString png = m_dir.filePath(QStringLiteral("heatmap.png"));
    QVERIFY2(exportSource(*heatmap, png, options, &error), qPrintable(error));
    QImage image(png);
    QCOMPARE(image.size(), QSize(640, 480));
    // The plot area holds many colours (the map), the widget's corner is plain background.
    QVERIFY(distinctColours(image, QRect(200, 150, 240, 180)) > 8);
    QCOMPARE(distinctColours(image, QRect(0, 0, 6, 6)), 1);

    for (ExportSource* source : window.exportSources()) {
      const QString stem = m_dir.filePath(source->exportName());
      QVERIFY2(exportSource(*source, stem + ".pdf", options, &error), qPrintable(error));
      checkPdf(stem + ".pdf");
      QVERIFY2(exportSource(*source, stem + ".svg", options, &error), qPrintable(error));
      checkSvg(stem + ".svg", source->exportPlot() != nullptr);
    }
    const QString csv = m_dir.filePath(QStringLiteral("curve.csv"));
    QVERIFY2(exportSource(*window.contextCurve(), csv, options, &error), qPrintable(error));
    QFile csvFile(csv);
    QVERIFY(csvFile.open(QIODevice::ReadOnly));
    QVERIFY(csvFile.readLine().startsWith("run,normalizer,stat,layer,head,n_lo"));
    QVERIFY(QSettings().value("recentFiles").toStringList().value(0).endsWith(QFileInfo(capture).fileName()));
  }

  void fitsLaptopScreens_data() {
    QTest::addColumn<QString>("capture");  // empty: no file open
    QTest::newRow("no capture") << QString();
    QTest::newRow("known") << m_known;
    QTest::newRow("bundled sample") << qEnvironmentVariable("ATTNSCOPE_BUNDLED_CAPTURE");
  }

  // A 1280×800 screen leaves about 1280×760 to a window: its docks give way and its labels and combo boxes
  // elide rather than push the minimum size past that, with every view still inside the window.
  void fitsLaptopScreens() {
    QFETCH(QString, capture);
    const QSize laptop(1280, 760);
    MainWindow window;
    window.resize(1500, 950);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    if (!capture.isEmpty()) {
      QSignalSpy curveReady(window.contextCurve(), &ContextCurveWidget::contentReady);
      QVERIFY(window.openFile(capture));
      QVERIFY(curveReady.wait(20000) || !curveReady.isEmpty());
      // The status bar names the selected cell, the longest text the window shows.
      window.document()->setQuery(window.document()->nTokens() - 1);
    }
    QApplication::processEvents();
    const QList<QWidget*> views{window.headGrid(), window.centralTabs(), window.contextCurve(),
                                window.tokensView(), window.statusBar()};
    const auto format = [](QSize size) {
      return QStringLiteral("%1×%2").arg(size.width()).arg(size.height());
    };
    const QSize hint = window.minimumSizeHint(), minimum = window.minimumSize();
    QString sizes = QStringLiteral("window: minimumSizeHint %1, minimumSize %2; views' minimumSizeHint:")
                        .arg(format(hint), format(minimum));
    for (QWidget* view : views)
      sizes += QStringLiteral(" %1 %2").arg(view->metaObject()->className(), format(view->minimumSizeHint()));
    QVERIFY2(hint.width() <= laptop.width() && hint.height() <= laptop.height(), qPrintable(sizes));
    QVERIFY2(minimum.width() <= laptop.width() && minimum.height() <= laptop.height(), qPrintable(sizes));

    window.resize(laptop);
    QApplication::processEvents();
    QCOMPARE(window.size(), laptop);
    const QRect inside = window.rect();
    for (QWidget* view : views) {
      QVERIFY2(view->isVisible(), qPrintable(view->metaObject()->className()));
      const QRect placed(view->mapTo(&window, QPoint(0, 0)), view->size());
      QVERIFY2(inside.contains(placed), qPrintable(view->metaObject()->className()));
      QVERIFY2(view->width() >= view->minimumSizeHint().width(), qPrintable(view->metaObject()->className()));
    }
  }

  void exportAllHeadsFromMenu() {
    MainWindow window;
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    auto* action = window.findChild<QAction*>(QStringLiteral("exportHeadsAction"));
    QVERIFY(action);
    QVERIFY(!action->isEnabled());
    QVERIFY(window.openFile(m_known));
    QVERIFY(action->isEnabled());
    const QString out = m_dir.filePath(QStringLiteral("all-heads.png"));
    // The action runs the Export dialog modally: fill in the file name and accept it once it is up.
    bool accepted = false;
    QTimer poll;
    connect(&poll, &QTimer::timeout, this, [&] {
      auto* dialog = qobject_cast<QDialog*>(QApplication::activeModalWidget());
      if (!dialog) return;
      poll.stop();
      auto* path = dialog->findChild<QLineEdit*>(QString(), Qt::FindDirectChildrenOnly);
      if (path) {
        path->setText(out);
        accepted = true;
        dialog->accept();
      } else {
        dialog->reject();
      }
    });
    poll.start(50);
    action->trigger();
    QVERIFY(accepted);
    const QImage image(out);
    QVERIFY2(!image.isNull(), qPrintable(out));
    QCOMPARE(image.size(), headsFigureSize(2, 3) * 2);  // the dialog's default: the figure's size at 2x
    QVERIFY(distinctColours(image, image.rect().adjusted(0, 0, -1, -1)) > 8);
  }

  void headlessExport_data() {
    QTest::addColumn<QString>("figure");
    QTest::addColumn<QString>("suffix");
    QTest::newRow("curve pdf") << "context-curve"
                               << "pdf";
    QTest::newRow("heatmap png") << "heatmap"
                                 << "png";
    QTest::newRow("heatmap svg") << "heatmap"
                                 << "svg";
    QTest::newRow("grid png") << "head-grid"
                              << "png";
    QTest::newRow("tokens png") << "tokens"
                                << "png";
    QTest::newRow("heads png") << "heads"
                               << "png";
    QTest::newRow("heads pdf") << "heads"
                               << "pdf";
  }

  void headlessExport() {
    QFETCH(QString, figure);
    QFETCH(QString, suffix);
    const QString out = m_dir.filePath(figure + QStringLiteral("-headless.") + suffix);
    QProcess process;
    process.start(QStringLiteral(ATTNSCOPE_GUI_BINARY),
                  {QStringLiteral("--export"), m_known, QStringLiteral("--figure"), figure,
                   QStringLiteral("--layer"), QStringLiteral("1"), QStringLiteral("--head"),
                   QStringLiteral("2"), QStringLiteral("--out"), out, QStringLiteral("--width"),
                   QStringLiteral("700"), QStringLiteral("--height"), QStringLiteral("500")});
    QVERIFY(process.waitForFinished(60000));
    QVERIFY2(process.exitCode() == 0, process.readAllStandardError().constData());
    if (suffix == QLatin1String("pdf")) checkPdf(out);
    if (suffix == QLatin1String("svg")) checkSvg(out);
    if (suffix == QLatin1String("png")) {
      QImage image(out);
      QVERIFY(!image.isNull());
      QVERIFY(image.width() >= 700);
      QVERIFY(distinctColours(image, image.rect().adjusted(0, 0, -1, -1)) > 8);
    }
  }

  void badFileIsAnErrorNotACrash() {
    MainWindow window;
    QSignalSpy errors(window.document(), &CaptureDocument::errorOccurred);
    const QString bogus = m_dir.filePath(QStringLiteral("bogus.h5"));
    QFile file(bogus);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("not an HDF5 file");
    file.close();
    QVERIFY(!window.openFile(bogus));
    QCOMPARE(errors.count(), 1);
    QVERIFY(!window.document()->isOpen());
  }

  void lyingFileIsAnErrorNotAPlot_data() {
    QTest::addColumn<QString>("attribute");
    QTest::addColumn<int>("value");
    QTest::addColumn<QString>("message");
    QTest::newRow("n_head too big")
        << "n_head" << 9
        << "run 'softmax': dataset '/runs/softmax/stats/entropy' is [2, 3, 8] but the "
           "run's n_layer, n_head, n_tokens say [2, 9, 8]";
    QTest::newRow("n_tokens zero") << "n_tokens" << 0
                                   << "run 'softmax': attribute n_tokens = 0 is outside [1, 8] (the file's "
                                      "/tokens/ids)";
  }

  // Opening a capture whose attributes lie reports one line through the window's error path (a dialog; with
  // the offscreen platform the status bar only, so nothing blocks here) and keeps the file that was open.
  void lyingFileIsAnErrorNotAPlot() {
    QFETCH(QString, attribute);
    QFETCH(int, value);
    QFETCH(QString, message);
    const QString lying = m_dir.filePath(QStringLiteral("lying-%1.h5").arg(attribute));
    test::writeKnownCapture(lying);
    QVERIFY(setRunAttribute(lying, "softmax", attribute.toLatin1().constData(), value));
    MainWindow window;
    QVERIFY(window.openFile(m_known));
    QSignalSpy errors(window.document(), &CaptureDocument::errorOccurred);
    QVERIFY(!window.openFile(lying));
    QCOMPARE(errors.count(), 1);
    const QString error = errors.first().first().toString();
    QCOMPARE(error, lying + QStringLiteral(": ") + message);
    QCOMPARE(window.statusBar()->currentMessage(), error);
    QCOMPARE(window.document()->path(), m_known);
    QCOMPARE(window.document()->runs().front().n_head, 3);
  }

 private:
  QTemporaryDir m_dir;
  QString m_known;
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
