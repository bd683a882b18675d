#pragma once
// Exports of what a view shows: QCustomPlot figures as PNG (chosen size and scale), PDF and SVG; any other
// widget as a grab; plotted series as CSV. Shared by the Export dialog and the headless --export of the
// application.

#include <QList>
#include <QString>
#include <QStringList>

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
/// Writes table as RFC 4180 CSV.
bool writeCsv(const CsvTable& table, const QString& path, QString* error);

/// Something the Export dialog can write: a figure (plot or widget) and optionally the series behind it.
class ExportSource {
 public:
  virtual ~ExportSource() = default;
  /// A short name for menus and default file names ("heatmap", "context-curve").
  virtual QString exportName() const = 0;
  /// The plot to export, or nullptr when the view is not a plot.
  virtual QCustomPlot* exportPlot() const { return nullptr; }
  /// The widget to export when there is no plot.
  virtual QWidget* exportWidget() const = 0;
  /// The series behind the figure (empty: nothing to write as CSV).
  virtual CsvTable exportTable() const { return {}; }
};

/// Exports source to path by extension: CSV writes its table, other formats its plot or widget.
bool exportSource(const ExportSource& source, const QString& path, const ExportOptions& options,
                  QString* error);

}  // namespace attnscope::widgets
