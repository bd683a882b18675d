#pragma once
// The "Colours" button of a map view: a popup choosing the sequential colour map (saved for the next window)
// and an optional clipping range [min, max] for the colour scale (empty fields: the scale's own range).

#include <QToolButton>

#include <optional>

#include "colormaps.h"

class QComboBox;
class QLineEdit;

namespace attnscope::widgets {

class ColorScaleControls : public QToolButton {
  Q_OBJECT
 public:
  explicit ColorScaleControls(QWidget* parent = nullptr);

  ColorMapName colorMap() const;
  /// Chooses the colour map and saves the choice (QSettings).
  void setColorMap(ColorMapName map);
  /// The clipping range's ends; nullopt where the user left the field empty (automatic).
  std::optional<double> clipLow() const;
  std::optional<double> clipHigh() const;
  /// Sets the clipping range (nullopt: automatic).
  void setClipRange(std::optional<double> low, std::optional<double> high);
  /// Returns range with the user's clipping ends applied (a reversed or empty result keeps range).
  QCPRange clipped(const QCPRange& range) const;

 Q_SIGNALS:
  void changed();

 private:
  QComboBox* m_map;
  QLineEdit* m_low;
  QLineEdit* m_high;
};

}  // namespace attnscope::widgets
