#include "sweepdocument.h"

#include <QFileInfo>

#include "attnscope/normalizer_spec.h"

namespace attnscope::widgets {

QString SweepData::normalizer(int i) const {
  const auto& names = header.grid.normalizers;
  if (i < 0 || i >= static_cast<int>(names.size())) return QString();
  try {
    return QString::fromStdString(
        parseNormalizer(names[i]).label());  // "ssmax:s=0.18"; the file keeps it exact
  } catch (const std::exception&) {
    return QString::fromStdString(names[i]);
  }
}

int64_t SweepData::nRecords() const {
  int64_t n = 0;
  for (const auto& list : records) n += static_cast<int64_t>(list.size());
  return n;
}

SweepData readSweepData(const QString& path) {
  const std::unique_ptr<SweepReader> reader = SweepReader::open(path.toStdString());
  SweepData data;
  data.path = path;
  data.header = reader->header();
  const int64_t n = static_cast<int64_t>(data.header.grid.normalizers.size());
  data.records.reserve(n);
  for (int64_t i = 0; i < n; ++i) data.records.push_back(reader->records(i));
  return data;
}

QString sweepSummary(const SweepData& data) {
  const SweepGrid& grid = data.grid();
  const QString model = QFileInfo(QString::fromStdString(data.header.model.checkpoint.path)).fileName();
  // Documents sweeps have one depth: the grid is lengths × documents.
  const QString cells =
      grid.mode == SweepMode::Needle
          ? QObject::tr("%1 lengths × %2 depths × %3 prompts")
                .arg(grid.lengths.size())
                .arg(grid.depths.size())
                .arg(grid.prompts_per_cell)
          : QObject::tr("%1 lengths × %2 documents").arg(grid.lengths.size()).arg(grid.prompts_per_cell);
  return QObject::tr("%1 sweep of %2 (%3 layers × %4 heads) · %5 · %6 normalizers · %7 of %8 records")
      .arg(QString::fromLatin1(sweepModeName(grid.mode)), model.isEmpty() ? QObject::tr("a model") : model)
      .arg(data.nLayer())
      .arg(data.nHead())
      .arg(cells)
      .arg(grid.normalizers.size())
      .arg(data.nRecords())
      .arg(grid.cellCount() * static_cast<int64_t>(grid.normalizers.size()));
}

SweepDocument::SweepDocument(QObject* parent) : QObject(parent) {}

bool SweepDocument::isSweep(const QString& path) {
  try {
    return isSweepFile(path.toStdString());
  } catch (const std::exception&) {
    return false;
  }
}

void SweepDocument::open(const QString& path) {
  m_jobs.startJob(
      [path](const CancelCheck&) { return std::make_shared<const SweepData>(readSweepData(path)); },
      [this](std::shared_ptr<const SweepData> data) { setData(std::move(data)); },
      [this](const QString& message) { Q_EMIT errorOccurred(message); });
}

void SweepDocument::setData(std::shared_ptr<const SweepData> data) {
  m_data = std::move(data);
  Q_EMIT documentChanged();
}

void SweepDocument::close() {
  m_jobs.cancel();
  m_data.reset();
  Q_EMIT documentChanged();
}

}  // namespace attnscope::widgets
