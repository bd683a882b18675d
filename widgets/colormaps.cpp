#include "colormaps.h"

#include <algorithm>
#include <array>

namespace attnscope::widgets {

QCPColorGradient viridisGradient() {
  QCPColorGradient gradient;
  gradient.clearColorStops();
  // Eleven evenly spaced samples of matplotlib's viridis; linear RGB interpolation between them is close
  // enough.
  static const std::array<const char*, 11> stops = {"#440154", "#482475", "#414487", "#355f8d",
                                                    "#2a788e", "#21918c", "#22a884", "#44bf70",
                                                    "#7ad151", "#bddf26", "#fde725"};
  for (std::size_t i = 0; i < stops.size(); ++i)
    gradient.setColorStopAt(static_cast<double>(i) / (stops.size() - 1), QColor(stops[i]));
  gradient.setColorInterpolation(QCPColorGradient::ciRGB);
  gradient.setLevelCount(256);
  return gradient;
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
  // color() fills the gradient's lookup table on first use, hence not const; views call this on the GUI
  // thread.
  static QCPColorGradient gradient = viridisGradient();
  return QColor::fromRgb(gradient.color(std::clamp(t, 0.0, 1.0), QCPRange(0, 1)));
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

QColor seriesColor(int index) {
  // Okabe–Ito: blue, vermillion, bluish green, reddish purple, orange, sky blue.
  static const std::array<const char*, 6> colors = {"#0072b2", "#d55e00", "#009e73",
                                                    "#cc79a7", "#e69f00", "#56b4e9"};
  return QColor(colors[static_cast<std::size_t>(std::max(0, index)) % colors.size()]);
}

}  // namespace attnscope::widgets
