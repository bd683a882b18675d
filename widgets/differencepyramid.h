#pragma once
// The difference overview of two runs' maps of one head: per block, the change (run − other run) largest in
// magnitude, with its sign, at every pyramid level from firstDifferenceLevel up. It is built once per (file,
// run pair, map, head) in one streaming pass over level-0 bands (memory: one band of each run and the
// pyramid), then every overview zoom is cut from it instead of re-reading the runs' T × T level 0. The builds
// are cached in memory under a byte bound, least recently used first out. A build stopped because its job
// was superseded keeps its progress and resumes on the next read; one the user cancels stays declined until
// allowed again.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "maptiles.h"

namespace attnscope {
class CaptureFile;
struct RunInfo;
}  // namespace attnscope

namespace attnscope::widgets {

/// Side of the finest stored level at most: 2048 × 2048 cells (16 MiB, 21 MiB with the coarser levels).
/// Finer levels are read from level 0 around the visible range only.
constexpr int64_t kDifferencePyramidMaxSide = 2048;
/// The shared cache's bound: about a dozen heads of a 64k-token capture, any number of small ones.
constexpr std::size_t kDifferencePyramidCacheBytes = std::size_t{256} << 20;

/// The finest level the pyramid stores for n_tokens: the first level >= 1 whose side is at most
/// kDifferencePyramidMaxSide cells.
int firstDifferenceLevel(int64_t n_tokens);

/// What a difference pyramid is of. The runs' creation times tell a re-captured file at the same path apart.
struct DifferenceKey {
  std::string path, run, other, hook;
  int64_t head = 0;
  std::string stamp;  // both runs' created times and completeness
  bool operator<(const DifferenceKey& o) const {
    return std::tie(path, run, other, hook, head, stamp) <
           std::tie(o.path, o.run, o.other, o.hook, o.head, o.stamp);
  }
};

/// The key of run − other's map hook of head in the file at path.
DifferenceKey differenceKey(const std::string& path, const RunInfo& run, const RunInfo& other,
                            const std::string& hook, int64_t head);

/// Where a pyramid's build is.
struct DifferenceBuild {
  double fraction = 0;    // of the level-0 cells read, in [0, 1]
  bool running = false;   // a read is building it now
  bool done = false;      // every level is ready
  bool declined = false;  // the user cancelled it
};

class DifferencePyramids {
 public:
  /// band_cells: level-0 cells of each run read at once (whole rows, at least one chunk row of 64).
  explicit DifferencePyramids(std::size_t max_bytes = kDifferencePyramidCacheBytes,
                              int64_t band_cells = int64_t{1} << 24);
  ~DifferencePyramids();
  DifferencePyramids(const DifferencePyramids&) = delete;
  DifferencePyramids& operator=(const DifferencePyramids&) = delete;

  /// The cache every view shares.
  static DifferencePyramids& shared();

  /// Reads request's tile (level >= firstDifferenceLevel) of request.run − other from the pyramid, building
  /// it first (or resuming, or waiting for the read building it). Returns an empty tile (request set) when
  /// cancelled() turns true or the build is declined. Throws StoreError. Safe off the GUI thread.
  MapTile read(const CaptureFile& file, const TileRequest& request, const std::string& other,
               int64_t n_tokens, const std::function<bool()>& cancelled = {});

  /// The build of key; nullopt before any read asked for it (or after it was evicted) unless declined.
  std::optional<DifferenceBuild> build(const DifferenceKey& key) const;
  /// Stops key's build (a read building it returns empty) and makes later reads return empty at once, also
  /// before any read asked for it.
  void decline(const DifferenceKey& key);
  /// Lets reads build key again, from where it stopped.
  void allow(const DifferenceKey& key);
  /// Bytes the cached pyramids hold (at most the bound, plus a pyramid larger than it while being read).
  std::size_t bytes() const;
  std::size_t maxBytes() const { return m_max_bytes; }
  /// Drops every pyramid not being built.
  void clear();

 private:
  struct Entry;
  std::shared_ptr<Entry> entry(const DifferenceKey& key, int64_t n_tokens);
  void build(const CaptureFile& file, const DifferenceKey& key, Entry& entry,
             const std::function<bool()>& cancelled);
  void evictLocked();

  const std::size_t m_max_bytes;
  const int64_t m_band_cells;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;  // a build stopped or finished
  std::map<DifferenceKey, std::shared_ptr<Entry>> m_entries;
  std::set<DifferenceKey> m_declined;
  uint64_t m_clock = 0;  // last-use stamps for eviction
};

}  // namespace attnscope::widgets
