#pragma once
// The statistic catalogue (attnscope/statistics.h) in the widgets' words: menu entries, titles, axis labels
// and the description of the per-head summary, so every view offers the same statistics the same way.

#include <QString>

class QComboBox;

namespace attnscope::widgets {

/// The statistic that views show first (max_prob).
QString defaultStatistic();

/// Fills a combo box with the viewed statistics (title shown, name as item data), in menu order.
void addStatisticItems(QComboBox* box);

/// The short title of a statistic ("Max attention"), or its name when the catalogue does not know it.
QString statisticTitle(const QString& stat);

/// The axis label of a statistic ("max attention probability"), or its name.
QString statisticAxisLabel(const QString& stat);

/// Whether a statistic's values are probabilities (axes and colours run over [0, 1]).
bool statisticIsProbability(const QString& stat);

/// How a per-head summary of stat was made: "mean over the last 10% of queries" (and, for target mass,
/// "that see a target").
QString summaryDescription(const QString& stat);

}  // namespace attnscope::widgets
