#pragma once
// Colour maps shared by the views. QCustomPlot 2.1 ships no perceptually uniform gradient, so viridis is
// defined here by its colour stops.

#include <QColor>

#include <qcustomplot.h>

namespace attnscope::widgets {

/// A viridis-like gradient (dark purple → teal → yellow), for probabilities and other one-sided values.
QCPColorGradient viridisGradient();
/// A blue → white → red gradient, for signed differences centred on 0.
QCPColorGradient divergingGradient();

/// Colour of t in [0, 1] on the viridis gradient (clamped).
QColor viridisColor(double t);
/// Colour of t in [-1, 1] on the diverging gradient (clamped).
QColor divergingColor(double t);
/// Black or white, whichever reads better on background.
QColor textColorOn(const QColor& background);

/// Distinct line colours for overlaid runs (colour-blind safe order).
QColor seriesColor(int index);

}  // namespace attnscope::widgets
