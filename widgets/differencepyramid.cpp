#include "differencepyramid.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "attnscope/store.h"

namespace attnscope::widgets {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kChunkRows = 64;  // the store's chunk rows: bands start on chunk rows
constexpr auto kWaitPoll = std::chrono::milliseconds(50);  // how often a waiting read asks cancelled()

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

int firstDifferenceLevel(int64_t n_tokens) {
  int level = 1;
  while (ceilDiv(n_tokens, int64_t{1} << level) > kDifferencePyramidMaxSide) ++level;
  return level;
}

DifferenceKey differenceKey(const std::string& path, const RunInfo& run, const RunInfo& other,
                            const std::string& hook, int64_t head) {
  return {path,
          run.name,
          other.name,
          hook,
          head,
          run.created + (run.complete ? "+" : "-") + "|" + other.created + (other.complete ? "+" : "-")};
}

struct DifferencePyramids::Entry {
  int64_t n_tokens = 0;
  int first = 1;
  std::vector<int64_t> sides;              // [levels]: cells per side of level first + i
  std::vector<std::vector<float>> levels;  // [levels][side × side]; only the finest until done
  std::atomic<int64_t> next_row{0};        // level-0 rows pooled into the finest level so far
  std::atomic<bool> declined{false};
  bool building = false, done = false;  // guarded by the cache's mutex
  uint64_t used = 0;

  std::size_t plannedBytes() const {
    std::size_t cells = 0;
    for (int64_t side : sides) cells += static_cast<std::size_t>(side * side);
    return cells * sizeof(float);
  }
  double fraction() const {
    const double done_rows = static_cast<double>(next_row.load()) / static_cast<double>(n_tokens);
    return done_rows * done_rows;  // band q reads keys [0, q1): the cells read grow with the rows squared
  }
};

DifferencePyramids::DifferencePyramids(std::size_t max_bytes, int64_t band_cells)
    : m_max_bytes(max_bytes), m_band_cells(band_cells) {}
DifferencePyramids::~DifferencePyramids() = default;

DifferencePyramids& DifferencePyramids::shared() {
  static DifferencePyramids cache;
  return cache;
}

std::shared_ptr<DifferencePyramids::Entry> DifferencePyramids::entry(const DifferenceKey& key,
                                                                     int64_t n_tokens) {
  std::lock_guard lock(m_mutex);
  std::shared_ptr<Entry>& slot = m_entries[key];
  if (!slot) {
    slot = std::make_shared<Entry>();
    slot->n_tokens = n_tokens;
    slot->first = firstDifferenceLevel(n_tokens);
    for (int64_t side = ceilDiv(n_tokens, int64_t{1} << slot->first);; side = ceilDiv(side, 2)) {
      slot->sides.push_back(side);
      if (side <= 1) break;
    }
    slot->levels.emplace_back(static_cast<std::size_t>(slot->sides[0] * slot->sides[0]), kNaN);
    slot->declined = m_declined.count(key) > 0;
  }
  slot->used = ++m_clock;
  std::shared_ptr<Entry> result = slot;
  evictLocked();
  return result;
}

void DifferencePyramids::evictLocked() {
  for (;;) {
    std::size_t total = 0;
    auto oldest = m_entries.end();
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
      total += it->second->plannedBytes();
      if (it->second->building || it->second->used == m_clock) continue;  // in use: never dropped
      if (oldest == m_entries.end() || it->second->used < oldest->second->used) oldest = it;
    }
    if (total <= m_max_bytes || oldest == m_entries.end()) return;
    m_entries.erase(oldest);  // a read still holding it finishes with its own reference
  }
}

MapTile DifferencePyramids::read(const CaptureFile& file, const TileRequest& request,
                                 const std::string& other, int64_t n_tokens,
                                 const std::function<bool()>& cancelled) {
  const DifferenceKey key =
      differenceKey(file.path(), file.run(request.run), file.run(other), request.hook, request.head);
  const std::shared_ptr<Entry> e = entry(key, n_tokens);
  const int index = request.level - e->first;
  if (index < 0 || index >= static_cast<int>(e->sides.size()))
    throw std::invalid_argument("difference pyramid has no level " + std::to_string(request.level));
  MapTile tile;
  tile.request = request;
  {
    std::unique_lock lock(m_mutex);
    while (!e->done) {
      if (e->declined || (cancelled && cancelled())) return tile;
      if (e->building) {
        m_changed.wait_for(lock, kWaitPoll);
        continue;
      }
      e->building = true;
      lock.unlock();
      try {
        build(file, key, *e, cancelled);
      } catch (...) {
        lock.lock();
        e->building = false;
        m_changed.notify_all();
        throw;
      }
      lock.lock();
      e->building = false;
      e->used = ++m_clock;
      m_changed.notify_all();
    }
  }
  // Done: the levels no longer change, so they are read without the lock.
  const std::vector<float>& level = e->levels[static_cast<std::size_t>(index)];
  const int64_t side = e->sides[static_cast<std::size_t>(index)];
  tile.values.assign(static_cast<std::size_t>(tile.rows() * tile.columns()), kNaN);
  for (int64_t r = request.r0; r < std::min(request.r1, side); ++r)
    for (int64_t c = request.c0; c < std::min(request.c1, side); ++c)
      tile.values[static_cast<std::size_t>((r - request.r0) * tile.columns() + (c - request.c0))] =
          level[static_cast<std::size_t>(r * side + c)];
  return tile;
}

void DifferencePyramids::build(const CaptureFile& file, const DifferenceKey& key, Entry& entry,
                               const std::function<bool()>& cancelled) {
  const int64_t n = entry.n_tokens, side = entry.sides[0];
  const int shift = entry.first;
  const int64_t band = std::max(kChunkRows, m_band_cells / std::max<int64_t>(1, n) / kChunkRows * kChunkRows);
  float* finest = entry.levels[0].data();  // [side, side]; only this build writes it
  for (int64_t q0 = entry.next_row; q0 < n; q0 = entry.next_row) {
    if (entry.declined || (cancelled && cancelled())) return;  // resumable: next_row marks the rows done
    const int64_t q1 = std::min(n, q0 + band);
    // Causal maps: rows [q0, q1) see keys below q1 only. Keys a query cannot see are masked by the view.
    const std::vector<float> a = file.readMapTile(key.run, key.hook, key.head, 0, q0, q1, 0, q1);
    const std::vector<float> b = file.readMapTile(key.other, key.hook, key.head, 0, q0, q1, 0, q1);
    for (int64_t q = q0; q < q1; ++q) {
      float* out = finest + (q >> shift) * side;
      const float* pa = a.data() + (q - q0) * q1;
      const float* pb = b.data() + (q - q0) * q1;
      for (int64_t k = 0; k < q1; ++k) keepLargestChange(out[k >> shift], pa[k] - pb[k]);
    }
    entry.next_row = q1;
  }
  // Coarser levels pool 2 × 2 cells of the one below: the largest change of a block is the largest of its
  // quarters'.
  for (std::size_t l = 1; l < entry.sides.size(); ++l) {
    const int64_t below = entry.sides[l - 1], s = entry.sides[l];
    std::vector<float> level(static_cast<std::size_t>(s * s), kNaN);
    const std::vector<float>& fine = entry.levels[l - 1];
    for (int64_t r = 0; r < below; ++r)
      for (int64_t c = 0; c < below; ++c)
        keepLargestChange(level[static_cast<std::size_t>((r / 2) * s + c / 2)],
                          fine[static_cast<std::size_t>(r * below + c)]);
    entry.levels.push_back(std::move(level));
  }
  std::lock_guard lock(m_mutex);
  entry.done = true;
}

std::optional<DifferenceBuild> DifferencePyramids::build(const DifferenceKey& key) const {
  std::lock_guard lock(m_mutex);
  const auto it = m_entries.find(key);
  if (it == m_entries.end())
    return m_declined.count(key) ? std::optional(DifferenceBuild{0, false, false, true}) : std::nullopt;
  const Entry& e = *it->second;
  return DifferenceBuild{e.done ? 1.0 : e.fraction(), e.building, e.done, e.declined};
}

void DifferencePyramids::decline(const DifferenceKey& key) {
  std::lock_guard lock(m_mutex);
  const auto it = m_entries.find(key);
  if (it != m_entries.end() && it->second->done) return;  // nothing left to stop
  m_declined.insert(key);
  if (it != m_entries.end()) it->second->declined = true;
}

void DifferencePyramids::allow(const DifferenceKey& key) {
  std::lock_guard lock(m_mutex);
  m_declined.erase(key);
  if (const auto it = m_entries.find(key); it != m_entries.end()) it->second->declined = false;
}

std::size_t DifferencePyramids::bytes() const {
  std::lock_guard lock(m_mutex);
  std::size_t total = 0;
  for (const auto& [key, e] : m_entries) total += e->plannedBytes();
  return total;
}

void DifferencePyramids::clear() {
  std::lock_guard lock(m_mutex);
  for (auto it = m_entries.begin(); it != m_entries.end();)
    it = it->second->building ? std::next(it) : m_entries.erase(it);
}

}  // namespace attnscope::widgets
