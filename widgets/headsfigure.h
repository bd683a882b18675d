#pragma once
// Every head of one run as small multiples: an n_layer × n_head grid of small heatmaps, each head's whole map
// read from a coarse pyramid level, with layer and head labels and one shared colour scale. It is a figure to
// export (File → Export all heads…, `attnscope --export --figure heads`), not an interactive view.

#include <QSize>
#include <QWidget>

#include <vector>

#include "jobtracker.h"
#include "maptiles.h"
#include "plotexport.h"

class QCPAxisRect;
class QCPColorScale;
class QCustomPlot;
class QTimer;

namespace attnscope::widgets {

class CaptureDocument;
struct Selection;

/// The pixels one small map gets in a figure of layout size `figure` exported at `scale` (PNG pixels per
/// layout pixel); a slight underestimate, so that the level chosen from it never has more cells than pixels.
int headsFigureCellPixels(const QSize& figure, double scale, int n_layer, int n_head);

/// A layout size for an n_layer × n_head figure in which each small map is about cell × cell.
QSize headsFigureSize(int n_layer, int n_head, int cell = 72);

/// Reads the whole map of each head in `heads` ([layer * n_head + head]; false: no stored map, empty tile) at
/// the level whose cells are no smaller than a pixel of a cell_px-pixel square. Throws StoreError. Safe off
/// the GUI thread. Once cancelled() returns true the read stops and returns no tiles.
std::vector<MapTile> readHeadOverviews(const CaptureFile& file, const std::string& run, int n_layer,
                                       int n_head, const std::vector<bool>& heads, int cell_px,
                                       const std::function<bool()>& cancelled = {});

class HeadsFigure : public QWidget, public ExportSource {
  Q_OBJECT
 public:
  explicit HeadsFigure(CaptureDocument* document, QWidget* parent = nullptr);

  QCustomPlot* plot() const { return m_plot; }
  /// Sets how many pixels each small map covers when drawn (see headsFigureCellPixels) and rereads the maps
  /// at the level that fits.
  void setCellPixels(int pixels);
  int cellPixels() const { return m_cellPixels; }
  void setLogScale(bool log);
  bool logScale() const { return m_log; }
  /// Whether a read is pending or running.
  bool isLoading() const;
  /// The inner rectangle of a head's small map in plot coordinates, as of the last layout (replot or export).
  QRect cellRect(int layer, int head) const;
  /// The tile drawn for a head (empty: no stored map, or not loaded yet).
  const MapTile& tile(int layer, int head) const;

  QString exportName() const override { return QStringLiteral("heads"); }
  QCustomPlot* exportPlot() const override { return m_plot; }
  QWidget* exportWidget() const override;
  /// One row per head: layer, head, whether a map is stored, the pyramid level drawn and the map's largest
  /// value.
  CsvTable exportTable() const override;

 Q_SIGNALS:
  /// The maps of every head were read and drawn, or there is nothing to draw (no file, read error).
  void contentReady();

 private:
  void onSelectionChanged(const Selection& selection);
  void reload();
  /// Builds the grid of labels and small maps for the tiles read (or messages when there are none).
  void rebuild(const QString& message = QString());

  CaptureDocument* m_document;
  QCustomPlot* m_plot;
  QTimer* m_reload;
  QString m_run;  // the run the figure shows
  int m_nLayer = 0, m_nHead = 0;
  int m_cellPixels = 128;
  bool m_log = false;
  JobTracker m_jobs{this};
  std::vector<MapTile> m_tiles;       // [layer * n_head + head]
  std::vector<QCPAxisRect*> m_rects;  // [layer * n_head + head], owned by the plot's layout
};

}  // namespace attnscope::widgets
