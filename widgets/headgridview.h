#pragma once
// The head grid: a statistic chooser above a layers × heads table of coloured cells and their colour legend
// (the statistic's label and range). Clicking a cell or moving with the arrow keys selects that head in the
// document.

#include <QWidget>

#include "headgridmodel.h"
#include "jobtracker.h"
#include "plotexport.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QTableView;

namespace attnscope::widgets {

class CaptureDocument;
class ColorLegend;
struct Selection;

class HeadGridView : public QWidget, public ExportSource {
  Q_OBJECT
 public:
  explicit HeadGridView(CaptureDocument* document, QWidget* parent = nullptr);

  HeadGridModel* model() const { return m_model; }
  QTableView* table() const { return m_table; }
  ColorLegend* legend() const { return m_legend; }
  /// Chooses the statistic by its name (attnscope/statistics.h).
  void setStat(const QString& stat);
  void setDifference(bool difference);

  QString exportName() const override { return QStringLiteral("head-grid"); }
  /// The grid as a figure (headgridfigure.h): values, axes, colour scale, title; never the controls.
  QCustomPlot* exportPlot() const override;
  QWidget* exportWidget() const override { return const_cast<HeadGridView*>(this); }
  /// One row per head: layer, head, value.
  CsvTable exportTable() const override;

 Q_SIGNALS:
  /// New values are in the model (after each background computation).
  void contentReady();

 private:
  void reload();
  /// Puts values in the model and the legend, in the colour map chosen now.
  void showValues(const HeadGridValues& values);
  void onSelectionChanged(const Selection& selection);
  void showCurrentHead();

  CaptureDocument* m_document;
  HeadGridModel* m_model;
  QComboBox* m_statistic;
  QCheckBox* m_difference;
  QTableView* m_table;
  ColorLegend* m_legend;
  QLabel* m_status;
  HeadGridRequest m_shown;  // the request whose values the model holds (or is loading)
  JobTracker m_jobs{this};
};

}  // namespace attnscope::widgets
