#pragma once
// The open sweep file: its header and every record, grouped by normalizer. Views aggregate the records
// (attnscope/sweep_analysis.h) themselves; the document only reads, off the GUI thread, since a merged sweep
// of many prompts holds thousands of records.

#include <QObject>
#include <QString>
#include <QStringList>

#include <memory>
#include <vector>

#include "attnscope/sweep_file.h"
#include "jobtracker.h"

namespace attnscope::widgets {

/// Everything a sweep file holds, as read: the header and records[normalizer] ordered by cell.
struct SweepData {
  QString path;
  SweepHeader header;
  std::vector<std::vector<SweepRecord>> records;  // [n_normalizers][records of that normalizer]

  const SweepGrid& grid() const { return header.grid; }
  int nNormalizers() const { return static_cast<int>(header.grid.normalizers.size()); }
  int nLayer() const { return static_cast<int>(header.model.n_layer); }
  int nHead() const { return static_cast<int>(header.model.n_head); }
  /// The normalizer of index i as labels show it (numbers rounded, "ssmax:s=0.18"); empty when out of range.
  QString normalizer(int i) const;
  /// Records of every normalizer.
  int64_t nRecords() const;
};

/// Reads a whole sweep file. Throws StoreError (one line naming the file). Safe off the GUI thread.
SweepData readSweepData(const QString& path);

/// A one-line summary of a sweep: mode, model, grid and records ("needle · 2 normalizers · 3 lengths × ...").
QString sweepSummary(const SweepData& data);

class SweepDocument : public QObject {
  Q_OBJECT
 public:
  explicit SweepDocument(QObject* parent = nullptr);

  /// Whether path is a sweep file rather than a capture (false for anything unreadable: the capture reader
  /// then reports why).
  static bool isSweep(const QString& path);

  /// Starts reading path in the background; documentChanged or errorOccurred follows. A failed open keeps
  /// the file shown before.
  void open(const QString& path);
  /// Shows data already read (headless export reads on its own thread of control).
  void setData(std::shared_ptr<const SweepData> data);
  void close();

  bool isOpen() const { return m_data != nullptr; }
  bool isLoading() const { return m_jobs.isRunning(); }
  QString path() const { return m_data ? m_data->path : QString(); }
  /// The data shown, shared with views (never modified once read); nullptr when closed.
  std::shared_ptr<const SweepData> data() const { return m_data; }

 Q_SIGNALS:
  /// A file was opened or closed.
  void documentChanged();
  void errorOccurred(const QString& message);

 private:
  std::shared_ptr<const SweepData> m_data;
  JobTracker m_jobs{this};
};

}  // namespace attnscope::widgets
