#pragma once
// Colour maps shared by the views: the one place gradients are defined and the user's colour-map choice is
// kept. QCustomPlot 2.1 ships no perceptually uniform gradient, so viridis and magma are defined here by
// their colour stops.

#include <QColor>
#include <QObject>
#include <QString>
#include <QStringList>

#include <qcustomplot.h>

namespace attnscope::widgets {

/// The sequential colour maps a user can choose for one-sided values (probabilities, scores).
enum class ColorMapName { Viridis, Magma, Greys };

/// The choosable maps' display names, in ColorMapName order ("viridis", "magma", "greys").
QStringList colorMapNames();
/// The name of a map; colorMapFromName is its inverse (unknown names give viridis).
QString colorMapName(ColorMapName map);
ColorMapName colorMapFromName(const QString& name);
/// The user's choice as saved with QSettings (viridis when none is saved).
ColorMapName savedColorMap();
/// Saves the user's choice with QSettings, for the next window, and tells every view (ColorMapSetting).
void saveColorMap(ColorMapName map);

/// Tells the views of this process that the user chose another colour map, so all of them follow it.
class ColorMapSetting : public QObject {
  Q_OBJECT
 public:
  static ColorMapSetting* instance();
 Q_SIGNALS:
  void changed(attnscope::widgets::ColorMapName map);
};

/// A sequential gradient (low → high) for probabilities and other one-sided values.
QCPColorGradient sequentialGradient(ColorMapName map);
/// Colour of t in [0, 1] on a sequential gradient (clamped).
QColor sequentialColor(ColorMapName map, double t);

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

/// The mark of the run's target (--targets, the needle) tokens in every view: the tokens view's underline and
/// the heatmap's axis bands. A saturated sky blue that no sequential map contains.
QColor targetColor();

/// Distinct line colours for overlaid runs (colour-blind safe order).
QColor seriesColor(int index);

}  // namespace attnscope::widgets
