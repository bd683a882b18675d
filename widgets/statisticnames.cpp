#include "statisticnames.h"

#include <QComboBox>
#include <QCoreApplication>

#include "attnscope/analysis.h"
#include "attnscope/statistics.h"

namespace attnscope::widgets {
namespace {

QString translated(std::string_view text) {
  const std::string source(text);
  return QCoreApplication::translate("attnscope::statistics", source.c_str());
}

}  // namespace

QString defaultStatistic() {
  return QString::fromLatin1(kStatMaxProb);
}

void addStatisticItems(QComboBox* box) {
  for (const std::string& name : viewedStatistics()) {
    const QString stat = QString::fromStdString(name);
    box->addItem(statisticTitle(stat), stat);
  }
}

QString statisticTitle(const QString& stat) {
  const StatisticInfo* info = findStatistic(stat.toStdString());
  return info ? translated(info->title) : stat;
}

QString statisticAxisLabel(const QString& stat) {
  const StatisticInfo* info = findStatistic(stat.toStdString());
  return info ? translated(info->label) : stat;
}

bool statisticIsProbability(const QString& stat) {
  return isProbabilityStatistic(stat.toStdString());
}

QString summaryDescription(const QString& stat) {
  const StatisticInfo* info = findStatistic(stat.toStdString());
  const QString tail =
      QCoreApplication::translate("attnscope::statistics", "mean over the last %1% of queries")
          .arg(100 / kSummaryTailDivisor);
  if (info && info->needs_targets)
    return tail + QCoreApplication::translate("attnscope::statistics", " that see a target");
  return tail;
}

}  // namespace attnscope::widgets
