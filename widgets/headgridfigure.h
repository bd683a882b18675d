#pragma once
// The head grid as a figure to export: layers × heads coloured cells with their values, head and layer axes,
// a colour scale labelled with the statistic, and a title saying what was summarised and for which run(s).
// Drawn into a QCustomPlot, so that PNG, PDF and SVG come from plotexport's one exportPlot.

class QCustomPlot;

namespace attnscope::widgets {

class HeadGridModel;

/// Replaces plot's content with the figure of model's values (the colours and cell texts are the model's).
void drawHeadGridFigure(QCustomPlot* plot, const HeadGridModel& model);

}  // namespace attnscope::widgets
