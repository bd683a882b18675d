#pragma once
// `attnscope --export FILE.h5 --figure NAME --out fig.pdf`: renders one view offscreen with the same widgets
// as the window and writes it, without showing anything.

#include <QString>

#include <cstdint>

#include "statisticnames.h"

namespace attnscope::gui {

struct HeadlessExportOptions {
  QString capture;
  QString figure = QStringLiteral("context-curve");  // heatmap, context-curve, head-grid, tokens, heads
  QString out;
  QString run, compareRun;  // empty: the file's first (and second) run
  int layer = 0, head = 0;
  int query = -1;                              // -1: the last token
  QString stat = widgets::defaultStatistic();  // statistic of the context curve and the head grid
  QString scope = QStringLiteral("head");      // context-curve: head, layer or all (sweeps: empty is all)
  bool logScale = false;                       // heatmap and heads colour scale
  bool difference = false;                     // head grid: run − compare run
  int64_t length = 0;                          // sweep needle-heads: the length (0: the longest)
  bool digits = false;                         // sweep retrieval: digit accuracy instead of exact match
  int width = 0, height = 0;  // 0: the figure's default (900 × 600; heads: sized so each small map is square)
  double scale = 2.0;
  int dpi = 192;
};

/// Writes the figure; returns a process exit code (0 ok, 1 error with a line on stderr).
int runHeadlessExport(const HeadlessExportOptions& options);

}  // namespace attnscope::gui
