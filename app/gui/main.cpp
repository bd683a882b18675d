// attnscope: the desktop application. With --export it renders one figure offscreen and exits.

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QTabWidget>
#include <QTimer>

#include <cstdio>
#include <cstring>

#include "attnscope/statistics.h"
#include "capturedocument.h"
#include "headlessexport.h"
#include "mainwindow.h"
#include "sweepdocument.h"
#include "sweepwindow.h"

namespace {

bool wantsExport(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--export") == 0) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // Headless export needs no display: pick the offscreen platform unless the user chose one.
  if (wantsExport(argc, argv) && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
    qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("attnscope"));
  QApplication::setApplicationName(QStringLiteral("attnscope"));
  QApplication::setApplicationVersion(QStringLiteral(ATTNSCOPE_VERSION));
  QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/attnscope.svg")));
  QApplication::setDesktopFileName(QStringLiteral("attnscope"));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("Inspect transformer attention under softmax and SSMax."));
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("file"),
                               QStringLiteral("A capture or sweep file (.h5) to open."));
  const QCommandLineOption exportOption(QStringLiteral("export"),
                                        QStringLiteral("Write one figure and exit."));
  const QCommandLineOption figure(
      QStringLiteral("figure"),
      QStringLiteral("heatmap, context-curve, head-grid, tokens, or heads (every head's map as\n"
                     "small multiples: one shared colour scale, 'no map' where none is stored);\n"
                     "of a sweep file: retrieval, needle-heads, sweep-curve or sweep-loss."),
      QStringLiteral("name"), QStringLiteral("context-curve"));
  const QCommandLineOption out(QStringLiteral("out"), QStringLiteral("Output: .png, .pdf, .svg or .csv."),
                               QStringLiteral("file"));
  const QCommandLineOption run(QStringLiteral("run"), QStringLiteral("Run to show (default: the first)."),
                               QStringLiteral("name"));
  const QCommandLineOption compare(QStringLiteral("compare"), QStringLiteral("Run to compare with."),
                                   QStringLiteral("name"));
  const QCommandLineOption layer(QStringLiteral("layer"), QStringLiteral("Layer."), QStringLiteral("L"),
                                 QStringLiteral("0"));
  const QCommandLineOption head(QStringLiteral("head"), QStringLiteral("Head."), QStringLiteral("H"),
                                QStringLiteral("0"));
  const QCommandLineOption query(QStringLiteral("query"), QStringLiteral("Query position (default: last)."),
                                 QStringLiteral("Q"), QStringLiteral("-1"));
  QStringList stats;
  for (const std::string& name : attnscope::viewedStatistics()) stats << QString::fromStdString(name);
  const QCommandLineOption stat(
      QStringLiteral("stat"),
      QStringLiteral("Context curve and head grid statistic: %1.").arg(stats.join(QStringLiteral(", "))),
      QStringLiteral("name"), attnscope::widgets::defaultStatistic());
  const QCommandLineOption scope(QStringLiteral("scope"), QStringLiteral("Curve scope: head, layer or all."),
                                 QStringLiteral("scope"), QStringLiteral("head"));
  const QCommandLineOption log(QStringLiteral("log"),
                               QStringLiteral("Heatmap, heads: logarithmic colour scale."));
  const QCommandLineOption difference(QStringLiteral("difference"),
                                      QStringLiteral("Head grid: run minus compare run."));
  const QCommandLineOption width(QStringLiteral("width"),
                                 QStringLiteral("Figure width (default 900; heads: sized to the grid)."),
                                 QStringLiteral("px"));
  const QCommandLineOption height(QStringLiteral("height"),
                                  QStringLiteral("Figure height (default 600; heads: sized to the grid)."),
                                  QStringLiteral("px"));
  const QCommandLineOption scale(QStringLiteral("scale"), QStringLiteral("PNG pixels per layout pixel."),
                                 QStringLiteral("x"), QStringLiteral("2"));
  const QCommandLineOption length(QStringLiteral("length"),
                                  QStringLiteral("Sweep needle-heads: prompt length (default: the longest)."),
                                  QStringLiteral("tokens"));
  const QCommandLineOption digits(QStringLiteral("digits"),
                                  QStringLiteral("Sweep retrieval: digit accuracy, not exact match."));
  const QCommandLineOption model(
      QStringLiteral("model"),
      QStringLiteral("Open the Run model dialog for a model directory or a model id Org/Name of the local "
                     "Hugging Face cache."),
      QStringLiteral("dir|id"));
  parser.addOptions({model, exportOption, figure, out, run, compare, layer, head, query, stat, scope, log,
                     difference, width, height, scale, length, digits});
  parser.process(app);

  if (parser.isSet(exportOption)) {
    if (parser.positionalArguments().size() != 1) {
      std::fprintf(stderr, "attnscope: --export needs exactly one capture file\n");
      return 2;
    }
    attnscope::gui::HeadlessExportOptions options;
    options.capture = parser.positionalArguments().first();
    options.figure = parser.value(figure);
    options.out = parser.value(out);
    options.run = parser.value(run);
    options.compareRun = parser.value(compare);
    options.layer = parser.value(layer).toInt();
    options.head = parser.value(head).toInt();
    options.query = parser.value(query).toInt();
    options.stat = parser.value(stat);
    options.scope = parser.isSet(scope) ? parser.value(scope) : QString();  // sweeps default to all heads
    options.logScale = parser.isSet(log);
    options.difference = parser.isSet(difference);
    options.width = parser.value(width).toInt();  // unset: 0, the figure's default size
    options.height = parser.value(height).toInt();
    options.scale = parser.value(scale).toDouble();
    bool lengthOk = true;
    options.length = parser.isSet(length) ? parser.value(length).toLongLong(&lengthOk) : 0;
    if (!lengthOk) options.length = -1;  // refused with the lengths the sweep holds
    options.digits = parser.isSet(digits);
    return attnscope::gui::runHeadlessExport(options);
  }

  if (!parser.positionalArguments().isEmpty() &&
      attnscope::widgets::SweepDocument::isSweep(parser.positionalArguments().first())) {
    attnscope::gui::SweepWindow::openInNewWindow(parser.positionalArguments().first());
    return app.exec();
  }
  attnscope::gui::MainWindow window;
  window.show();
  if (!parser.positionalArguments().isEmpty() && window.openFile(parser.positionalArguments().first())) {
    // The selection options of --export also choose what the window opens on.
    attnscope::widgets::CaptureDocument* document = window.document();
    if (parser.isSet(run)) document->setRun(parser.value(run));
    if (parser.isSet(compare)) {
      document->setCompareRun(parser.value(compare));
      window.centralTabs()->setCurrentIndex(1);  // Compare runs
    }
    if (parser.isSet(layer) || parser.isSet(head))
      document->setHead(parser.value(layer).toInt(), parser.value(head).toInt());
  }
  if (parser.isSet(model))
    QTimer::singleShot(0, &window, [&window, dir = parser.value(model)] { window.showRunDialog(dir); });
  return app.exec();
}
