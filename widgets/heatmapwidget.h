#pragma once
// Query × key attention map of the selected head, drawn from the capture's max-pooled pyramid: the level that
// fits the visible range is read (off the GUI thread), so a huge map draws whole and zooms to single tokens.
// The same widget shows the compare run, or the difference run − compare run on a diverging scale (Compare
// view).

#include <QWidget>

#include "jobtracker.h"
#include "maptiles.h"
#include "plotexport.h"

class QCheckBox;
class QCPColorMap;
class QCPColorScale;
class QCPItemRect;
class QCPItemText;
class QCPRange;
class QCPTextElement;
class QCustomPlot;
class QMouseEvent;
class QTimer;

namespace attnscope::widgets {

class CaptureDocument;
struct Selection;

/// Which map a heatmap shows: the selected run's, the compare run's, or their difference (run − compare run).
enum class HeatmapRole { Run, CompareRun, Difference };

class HeatmapWidget : public QWidget, public ExportSource {
  Q_OBJECT
 public:
  explicit HeatmapWidget(CaptureDocument* document, QWidget* parent = nullptr,
                         HeatmapRole role = HeatmapRole::Run);

  HeatmapRole role() const { return m_role; }
  /// Titles name the run(s) only, for narrow side-by-side maps whose head is shown elsewhere.
  void setCompactTitle(bool compact);

  QCustomPlot* plot() const { return m_plot; }
  QCPColorMap* colorMap() const { return m_map; }
  /// The tile on screen (empty when the head has no stored map).
  const MapTile& tile() const { return m_tile; }
  bool logScale() const;
  void setLogScale(bool log);
  /// Whether a tile read is pending or running.
  bool isLoading() const;
  /// Shows the whole map.
  void resetView();
  /// The tooltip text for a token cell, as shown on hover.
  QString describeCell(int64_t query, int64_t key) const;

  QString exportName() const override { return QStringLiteral("heatmap"); }
  QCustomPlot* exportPlot() const override { return m_plot; }
  QWidget* exportWidget() const override;
  /// The visible cells of the tile on screen: query and key ranges and the (max-pooled) probability.
  CsvTable exportTable() const override;

 Q_SIGNALS:
  /// A tile was drawn, or there is nothing to draw (no file, no map for this head, read error).
  void contentReady();

 private:
  /// The run whose map is read (the compare run for CompareRun; the run for Difference).
  QString shownRun(const Selection& selection) const;
  /// Whether the selection has everything this role needs (a compare run, stored maps); sets *why if not.
  bool canShow(const Selection& selection, QString* why) const;
  void onDocumentChanged();
  void onSelectionChanged(const Selection& selection);
  void clampRanges();
  TokenWindow visibleWindow() const;
  void loadVisibleTile();
  void applyTile(MapTile tile);
  void applyScale();
  void updateTickers();
  void updateQueryMarker();
  void showMessage(const QString& text);
  void onMouseMove(QMouseEvent* event);
  void onMouseRelease(QMouseEvent* event);

  CaptureDocument* m_document;
  HeatmapRole m_role;
  bool m_compactTitle = false;
  QCustomPlot* m_plot;
  QCPColorMap* m_map;
  QCPColorScale* m_scale;
  QCPTextElement* m_title;
  QCPItemText* m_message;
  QCPItemRect* m_queryMarker;
  QCheckBox* m_log;
  QTimer* m_reload;
  MapTile m_tile;
  QString m_headKey;      // run/layer/head the tile belongs to
  TileRequest m_pending;  // the request of the running read, if any
  JobTracker m_jobs{this};
  QPoint m_pressPos;
  QSize m_axisSize;  // of the axis rect at the last layout
};

}  // namespace attnscope::widgets
