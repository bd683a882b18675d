#include "colorscalecontrols.h"

#include <QComboBox>
#include <QDoubleValidator>
#include <QFormLayout>
#include <QLineEdit>
#include <QMenu>
#include <QWidgetAction>

namespace attnscope::widgets {
namespace {

std::optional<double> fieldValue(const QLineEdit* field) {
  bool ok = false;
  const double value = QLocale().toDouble(field->text().trimmed(), &ok);
  if (ok) return value;
  return std::nullopt;
}

}  // namespace

ColorScaleControls::ColorScaleControls(QWidget* parent)
    : QToolButton(parent), m_map(new QComboBox), m_low(new QLineEdit), m_high(new QLineEdit) {
  setText(tr("Colours"));
  setToolTip(tr("Colour map and clipping range of the colour scale"));
  setPopupMode(QToolButton::InstantPopup);
  m_map->addItems(colorMapNames());
  m_map->setCurrentIndex(static_cast<int>(savedColorMap()));
  for (QLineEdit* field : {m_low, m_high}) {
    field->setPlaceholderText(tr("auto"));
    field->setValidator(new QDoubleValidator(field));
    field->setClearButtonEnabled(true);
    connect(field, &QLineEdit::textChanged, this, &ColorScaleControls::changed);
  }
  m_low->setToolTip(tr("Values at or below this get the lowest colour (empty: the scale's own minimum)"));
  m_high->setToolTip(tr("Values at or above this get the highest colour (empty: the scale's own maximum)"));
  auto* panel = new QWidget;
  auto* form = new QFormLayout(panel);
  form->addRow(tr("Colour map"), m_map);
  form->addRow(tr("Clip min"), m_low);
  form->addRow(tr("Clip max"), m_high);
  auto* menu = new QMenu(this);
  auto* action = new QWidgetAction(menu);
  action->setDefaultWidget(panel);
  menu->addAction(action);
  setMenu(menu);
  connect(m_map, &QComboBox::currentIndexChanged, this, [this](int index) {
    saveColorMap(static_cast<ColorMapName>(index));
    Q_EMIT changed();
  });
  // Another view's choice: every map of the window uses one colour map.
  connect(ColorMapSetting::instance(), &ColorMapSetting::changed, this,
          [this](ColorMapName map) { m_map->setCurrentIndex(static_cast<int>(map)); });
}

ColorMapName ColorScaleControls::colorMap() const {
  return static_cast<ColorMapName>(std::max(0, m_map->currentIndex()));
}

void ColorScaleControls::setColorMap(ColorMapName map) {
  m_map->setCurrentIndex(static_cast<int>(map));
}

std::optional<double> ColorScaleControls::clipLow() const {
  return fieldValue(m_low);
}

std::optional<double> ColorScaleControls::clipHigh() const {
  return fieldValue(m_high);
}

void ColorScaleControls::setClipRange(std::optional<double> low, std::optional<double> high) {
  m_low->setText(low ? QLocale().toString(*low, 'g', 6) : QString());
  m_high->setText(high ? QLocale().toString(*high, 'g', 6) : QString());
}

QCPRange ColorScaleControls::clipped(const QCPRange& range) const {
  const QCPRange result(clipLow().value_or(range.lower), clipHigh().value_or(range.upper));
  return result.upper > result.lower ? result : range;
}

}  // namespace attnscope::widgets
