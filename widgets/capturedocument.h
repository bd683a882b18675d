#pragma once
// The open capture file and what the user has selected in it. Every view reads from one CaptureDocument and
// follows its selection; opening reads metadata only, views read statistics and map tiles lazily.

#include <QHash>
#include <QObject>
#include <QString>
#include <QStringList>

#include <memory>
#include <vector>

#include "attnscope/store.h"

namespace attnscope::widgets {

/// Which map of a head: the probabilities (hook_pattern) or the scores before the normalizer (hook_scores).
enum class MapKind { Pattern, Scores };

/// A run's normalizer spec as a short label, numbers to 3 digits ("ssmax:s=0.18"); files keep the exact spec.
QString normalizerLabel(const std::string& normalizer);

/// Whether a run stores the map of this kind (attention probabilities by default) of this head.
bool runHasMap(const RunInfo& run, int layer, int head, MapKind kind = MapKind::Pattern);

/// What the views show: one run (optionally compared with a second), one head, one query row.
struct Selection {
  QString run;
  QString compareRun;  // empty: nothing to compare with
  int layer = 0;
  int head = 0;
  int query = 0;  // query (row) position; the last token after opening

  bool operator==(const Selection& other) const {
    return run == other.run && compareRun == other.compareRun && layer == other.layer && head == other.head &&
           query == other.query;
  }
  bool operator!=(const Selection& other) const { return !(*this == other); }
};

class CaptureDocument : public QObject {
  Q_OBJECT
 public:
  explicit CaptureDocument(QObject* parent = nullptr);
  ~CaptureDocument() override;

  /// Opens a capture (metadata and token strings only). On failure keeps the previous file and emits
  /// errorOccurred.
  bool open(const QString& path);
  void close();

  bool isOpen() const { return m_file != nullptr; }
  QString path() const { return m_path; }
  /// The file, shared with background readers (CaptureFile reads are const and HDF5 here is thread-safe).
  std::shared_ptr<const CaptureFile> file() const { return m_file; }

  const std::vector<RunInfo>& runs() const { return m_runs; }
  QStringList runNames() const;
  /// The run's metadata, or nullptr if there is no such run.
  const RunInfo* runInfo(const QString& name) const;
  const RunInfo* currentRun() const { return runInfo(m_selection.run); }

  int nTokens() const { return m_tokens.size(); }
  /// Token strings as decoded (may hold spaces and newlines).
  const QStringList& tokens() const { return m_tokens; }
  /// Token i drawn for labels (attnscope::displayToken: space as ␣, newline as ↵, tab as ⇥, ...).
  QString displayToken(int i) const;

  const Selection& selection() const { return m_selection; }
  void setSelection(const Selection& selection);
  /// Shows run; when it is the compare run, the two swap places (Compare keeps both).
  void setRun(const QString& run);
  /// Compares with run (empty: none); when it is the run, the two swap places.
  void setCompareRun(const QString& run);
  void setHead(int layer, int head);
  void setQuery(int query);

  /// The hook name of a layer's attention probabilities, as stored in captures.
  static std::string patternHook(int layer);
  /// The hook name of a layer's map of a kind, as stored in captures.
  static std::string mapHook(int layer, MapKind kind);
  /// Whether the run stores the map of this kind (attention probabilities by default) of this head.
  bool hasMap(const QString& run, int layer, int head, MapKind kind = MapKind::Pattern) const;
  /// Queries of a run's layer that were computed: all of them, or fewer (0: the layer was never computed)
  /// where a cancelled capture stopped. Reads one statistic row once per run and layer.
  int64_t computedQueries(const QString& run, int layer) const;
  /// A one-line reason why a run's layer cannot be shown (never computed), or "" when it was computed.
  QString notComputedReason(const QString& run, int layer) const;

 Q_SIGNALS:
  /// A file was opened or closed: everything may have changed.
  void documentChanged();
  void selectionChanged(const attnscope::widgets::Selection& selection);
  void errorOccurred(const QString& message);

 private:
  Selection clamped(Selection selection) const;

  QString m_path;
  std::shared_ptr<const CaptureFile> m_file;
  std::vector<RunInfo> m_runs;
  QStringList m_tokens;
  QStringList m_displayTokens;  // m_tokens drawn once on opening: views label thousands of tokens per frame
  Selection m_selection;
  mutable QHash<QString, int64_t> m_computed;  // computedQueries by "run/layer", for the open file
};

}  // namespace attnscope::widgets
