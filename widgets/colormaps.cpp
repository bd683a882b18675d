#include "colormaps.h"

#include <QSettings>

#include <algorithm>
#include <array>

namespace attnscope::widgets {
namespace {

const char* const kColorMapKey = "view/colorMap";

/// A gradient through evenly spaced colour stops; linear RGB interpolation between eleven samples of a
/// matplotlib map is close enough to it.
QCPColorGradient gradientThrough(const std::array<const char*, 11>& stops) {
  QCPColorGradient gradient;
  gradient.clearColorStops();
  for (std::size_t i = 0; i < stops.size(); ++i)
    gradient.setColorStopAt(static_cast<double>(i) / (stops.size() - 1), QColor(stops[i]));
  gradient.setColorInterpolation(QCPColorGradient::ciRGB);
  gradient.setLevelCount(256);
  return gradient;
}

}  // namespace

QStringList colorMapNames() {
  return {QStringLiteral("viridis"), QStringLiteral("magma"), QStringLiteral("greys")};
}

QString colorMapName(ColorMapName map) {
  return colorMapNames().value(static_cast<int>(map));
}

ColorMapName colorMapFromName(const QString& name) {
  const int index = colorMapNames().indexOf(name);
  return index < 0 ? ColorMapName::Viridis : static_cast<ColorMapName>(index);
}

ColorMapName savedColorMap() {
  return colorMapFromName(QSettings().value(kColorMapKey).toString());
}

void saveColorMap(ColorMapName map) {
  if (savedColorMap() == map) return;
  QSettings().setValue(kColorMapKey, colorMapName(map));
  Q_EMIT ColorMapSetting::instance()->changed(map);
}

ColorMapSetting* ColorMapSetting::instance() {
  static auto* setting = new ColorMapSetting;  // lives as long as the process, like the QSettings it mirrors
  return setting;
}

QCPColorGradient sequentialGradient(ColorMapName map) {
  switch (map) {
    case ColorMapName::Magma:
      return gradientThrough({"#000004", "#140e36", "#3b0f70", "#641a80", "#8c2981", "#b73779", "#de4968",
                              "#f7705c", "#fe9f6d", "#fecf92", "#fcfdbf"});
    case ColorMapName::Greys:  // matplotlib's Greys: white for 0, black for the largest value
      return gradientThrough({"#ffffff", "#f2f2f2", "#e2e2e2", "#cecece", "#b4b4b4", "#979797", "#7a7a7a",
                              "#5f5f5f", "#404040", "#1e1e1e", "#000000"});
    case ColorMapName::Viridis:
      break;
  }
  return gradientThrough({"#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884",
                          "#44bf70", "#7ad151", "#bddf26", "#fde725"});
}

QColor sequentialColor(ColorMapName map, double t) {
  // color() fills the gradient's lookup table on first use, hence not const; views call this on the GUI
  // thread.
  static std::array<QCPColorGradient, 3> gradients = {sequentialGradient(ColorMapName::Viridis),
                                                      sequentialGradient(ColorMapName::Magma),
                                                      sequentialGradient(ColorMapName::Greys)};
  return QColor::fromRgb(
      gradients[static_cast<std::size_t>(map)].color(std::clamp(t, 0.0, 1.0), QCPRange(0, 1)));
}

QCPColorGradient viridisGradient() {
  return sequentialGradient(ColorMapName::Viridis);
}

QCPColorGradient divergingGradient() {
  QCPColorGradient gradient;
  gradient.clearColorStops();
  gradient.setColorStopAt(0.0, QColor("#2166ac"));
  gradient.setColorStopAt(0.25, QColor("#92c5de"));
  gradient.setColorStopAt(0.5, QColor("#f7f7f7"));
  gradient.setColorStopAt(0.75, QColor("#f4a582"));
  gradient.setColorStopAt(1.0, QColor("#b2182b"));
  gradient.setColorInterpolation(QCPColorGradient::ciRGB);
  gradient.setLevelCount(256);
  return gradient;
}

QColor viridisColor(double t) {
  return sequentialColor(ColorMapName::Viridis, t);
}

QColor divergingColor(double t) {
  static QCPColorGradient gradient = divergingGradient();
  return QColor::fromRgb(gradient.color(std::clamp(t, -1.0, 1.0), QCPRange(-1, 1)));
}

QColor textColorOn(const QColor& background) {
  const double luminance =
      0.299 * background.redF() + 0.587 * background.greenF() + 0.114 * background.blueF();
  return luminance > 0.55 ? QColor(Qt::black) : QColor(Qt::white);
}

QColor targetColor() {
  return {0, 190, 255};
}

QColor seriesColor(int index) {
  // Okabe–Ito: blue, vermillion, bluish green, reddish purple, orange, sky blue.
  static const std::array<const char*, 6> colors = {"#0072b2", "#d55e00", "#009e73",
                                                    "#cc79a7", "#e69f00", "#56b4e9"};
  return QColor(colors[static_cast<std::size_t>(std::max(0, index)) % colors.size()]);
}

}  // namespace attnscope::widgets
