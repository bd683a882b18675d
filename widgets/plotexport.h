#pragma once
// Exports of what a view shows: QCustomPlot figures and painted figures (labels and colour scales, never the
// view's controls) as PNG (chosen size and scale), PDF (one page or several) and SVG; plotted series as CSV.
// Shared by the Export dialog and the headless --export of the application.

#include <QList>
#include <QSize>
#include <QString>
#include <QStringList>

#include <memory>

class QCPPainter;
class QCustomPlot;
class QWidget;

namespace attnscope::widgets {

/// Rows of text with a header, as written to CSV.
struct CsvTable {
  QStringList header;
  QList<QStringList> rows;
  bool empty() const { return rows.isEmpty(); }
};

enum class ExportFormat { Png, Pdf, Svg, Csv, Unknown };

/// The format a file name asks for, by its extension.
ExportFormat exportFormatForPath(const QString& path);

struct ExportOptions {
  int width = 0, height = 0;  // logical size in points/pixels; 0: the widget's current size
  double scale = 1.0;         // PNG only: pixels per logical pixel (2 = 2x resolution)
  int dpi = 96;               // PNG only: the resolution written into the file's metadata
};

/// Writes plot to path (PNG, PDF or SVG, by extension). Returns false and sets *error on failure.
bool exportPlot(QCustomPlot* plot, const QString& path, const ExportOptions& options, QString* error);
/// Writes widget (rendered as it is on screen) to path as PNG, PDF or SVG.
bool exportWidget(QWidget* widget, const QString& path, const ExportOptions& options, QString* error);
/// A figure painted for export, page by page: what a view shows, drawn with labels and colour scales.
class Figure {
 public:
  virtual ~Figure() = default;
  /// Lays the figure out on pages of `page` (layout pixels; PDF points) and returns how many it fills (>= 1).
  /// tall: one page of page.width() and as tall as the content needs (PNG, SVG); pageSize() says how tall.
  virtual int layout(const QSize& page, bool tall) = 0;
  /// The size of every page of the last layout().
  virtual QSize pageSize() const = 0;
  /// Paints page i of the last layout() at (0, 0) in layout pixels.
  virtual void paintPage(QCPPainter& painter, int i) const = 0;
};

/// Writes figure to path: PDF one page per page, PNG and SVG one tall page. Fails with a message instead of
/// allocating a PNG larger than 400 megapixels.
bool exportFigure(Figure& figure, const QString& path, const ExportOptions& options, QString* error);
/// Writes table as RFC 4180 CSV.
bool writeCsv(const CsvTable& table, const QString& path, QString* error);

/// Something the Export dialog can write: a figure (painted, a plot, or the widget) and optionally the series
/// behind it.
class ExportSource {
 public:
  virtual ~ExportSource() = default;
  /// A short name for menus and default file names ("heatmap", "context-curve").
  virtual QString exportName() const = 0;
  /// The plot to export, or nullptr when the view is not a plot.
  virtual QCustomPlot* exportPlot() const { return nullptr; }
  /// A figure painted for export; exportSource prefers it to the plot. nullptr: export the plot.
  virtual std::unique_ptr<Figure> exportFigure() const { return nullptr; }
  /// The widget whose size the export takes by default (and that is grabbed when there is neither).
  virtual QWidget* exportWidget() const = 0;
  /// The series behind the figure (empty: nothing to write as CSV).
  virtual CsvTable exportTable() const { return {}; }
};

/// Exports source to path by extension: CSV writes its table, other formats its figure, plot or widget.
bool exportSource(const ExportSource& source, const QString& path, const ExportOptions& options,
                  QString* error);

}  // namespace attnscope::widgets
