#pragma once
// Query × key map of the selected head, drawn from the capture's max-pooled pyramid: the level that fits the
// visible range is read (off the GUI thread), so a huge map draws whole and zooms to single tokens. The map
// is the attention probabilities or, where captured, the scores before the normalizer. The same widget shows
// the compare run, or the difference run − compare run on a diverging scale (Compare view), pooled from level
// 0 as the change largest in magnitude. Keys a query cannot see are hatched grey, queries a cancelled capture
// never computed are solid grey, apart from p = 0. The run's --targets ranges are marked along both axes
// (targetbands.h); a click on a cell selects its query and its key (keySelected: the tokens view's key mode).

#include <QWidget>

#include <optional>

#include "capturedocument.h"
#include "colormaps.h"
#include "jobtracker.h"
#include "maptiles.h"
#include "plotexport.h"

class QCheckBox;
class QComboBox;
class QCPColorMap;
class QCPColorScale;
class QCPItemRect;
class QCPItemText;
class QCPRange;
class QCPTextElement;
class QCustomPlot;
class QKeyEvent;
class QMouseEvent;
class QTimer;

namespace attnscope::widgets {

class ColorScaleControls;
class TargetBands;

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
  /// Shows the colour scale's caption even with a compact title (a figure export has the room the window
  /// lacks).
  void setScaleCaptionShown(bool shown);

  QCustomPlot* plot() const { return m_plot; }
  QCPColorMap* colorMap() const { return m_map; }
  /// The tile on screen (empty when the head has no stored map); masked and never-computed cells are NaN.
  const MapTile& tile() const { return m_tile; }
  bool logScale() const;
  void setLogScale(bool log);
  /// The map kind shown: probabilities, or scores where the capture has them (falls back to probabilities).
  MapKind mapKind() const { return m_kind; }
  void setMapKind(MapKind kind);
  /// The sequential colour map (difference maps stay diverging) and the colour scale's clipping range.
  ColorMapName sequentialMap() const;
  void setSequentialMap(ColorMapName map);
  void setClipRange(std::optional<double> low, std::optional<double> high);
  /// The value range the colour scale spans now.
  QCPRange colorRange() const;
  /// Whether a tile read is pending or running.
  bool isLoading() const;
  /// Shows the whole map.
  void resetView();
  /// The tooltip text for a token cell, as shown on hover.
  QString describeCell(int64_t query, int64_t key) const;
  /// The message drawn instead of a map (no file, no stored map, layer not computed, read error), or "".
  QString message() const;
  /// The key the Left/Right keys move (-1: none yet).
  int selectedKey() const { return m_key; }
  /// Marks key (the tokens view's key mode chooses it) in the selected query's row; emits no keySelected.
  void setSelectedKey(int key);
  /// The run's target (--targets) ranges marked along the key and query axes.
  const TargetBands* targetBands() const { return m_targets; }
  /// The selected query's row over the visible keys, read from level 0, as TSV (what Ctrl+C copies).
  QString selectedRowTsv() const;

  QString exportName() const override { return QStringLiteral("heatmap"); }
  QCustomPlot* exportPlot() const override { return m_plot; }
  QWidget* exportWidget() const override;
  /// The visible cells of the tile on screen: query and key ranges and the (max-pooled) value.
  CsvTable exportTable() const override;

 Q_SIGNALS:
  /// A tile was drawn, or there is nothing to draw (no file, no map for this head, read error).
  void contentReady();
  /// The user chose a key here (a click on a cell, Left/Right): the tokens view's key mode follows it.
  void keySelected(int key);

 protected:
  void keyPressEvent(QKeyEvent* event) override;

 private:
  /// A tile as read off the GUI thread, with what is needed to draw it.
  struct Loaded {
    MapTile tile;
    KeyVisibility visibility;
    std::optional<QCPRange> range;  // the whole map's value range, when it was asked for
  };

  /// The run whose map is read (the compare run for CompareRun; the run for Difference).
  QString shownRun(const Selection& selection) const;
  /// Whether the selection has everything this role needs (a compare run, stored maps, computed layers);
  /// sets *why if not.
  bool canShow(const Selection& selection, QString* why) const;
  std::string hook() const;
  QString valueName() const;
  void onDocumentChanged();
  void onSelectionChanged(const Selection& selection);
  void updateKindChoice(const Selection& selection);
  void clampRanges();
  TokenWindow visibleWindow() const;
  void loadVisibleTile();
  void applyTile(Loaded loaded);
  void applyScale();
  void updateTickers();
  void updateMarkers();
  void showMessage(const QString& text);
  void moveSelection(int d_query, int d_key);
  void zoomBy(double factor);
  void onMouseMove(QMouseEvent* event);
  void onMouseRelease(QMouseEvent* event);

  CaptureDocument* m_document;
  HeatmapRole m_role;
  MapKind m_kind = MapKind::Pattern;
  bool m_compactTitle = false;
  bool m_scaleCaptionShown = false;
  QCustomPlot* m_plot;
  QCPColorMap* m_map;
  QCPColorScale* m_scale;
  QCPTextElement* m_title;
  QCPItemText* m_message;
  QCPItemRect* m_queryHalo;  // dark outline under the light one: the marker shows on every colour
  QCPItemRect* m_queryMarker;
  QCPItemRect* m_keyMarker;
  QCPItemRect* m_notComputed;  // rows a cancelled capture never reached
  QCPItemText* m_notComputedLabel;
  TargetBands* m_targets;
  QCheckBox* m_log;
  QComboBox* m_kindBox;
  ColorScaleControls* m_colors;
  QTimer* m_reload;
  MapTile m_tile;
  KeyVisibility m_visibility;
  std::optional<QCPRange> m_range;  // the whole map's range (difference, scores), fixed per head
  QString m_headKey;                // run/compare run/layer/head/kind the tile belongs to
  TileRequest m_pending;            // the request of the running read, if any
  JobTracker m_jobs{this};
  QPoint m_pressPos;
  QSize m_axisSize;  // of the axis rect at the last layout
  int m_key = -1;
};

}  // namespace attnscope::widgets
