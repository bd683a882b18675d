// Streaming writer of one head's attention map and its max-pooled pyramid. Level-0 rows land in bands of one
// chunk row; a band is final once a write starts below it, and then it is written and folded pairwise into
// the next level's carry row, whose completed rows land in that level's bands, and so on. Pooling compares
// fp16 keys: rounding is monotonic, so max(fp16(x)) == fp16(max(x)) and the pyramid equals a max-pool of the
// float32 input followed by one rounding.

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <thread>

#include "store_internal.h"

namespace attnscope::store {

MapWriter::MapWriter(hid_t group, hid_t half_type, int64_t n, uint16_t fill, std::string where)
    : m_half_type(half_type), m_fill(fill), m_n(n), m_where(std::move(where)) {
  const int64_t n_levels = pyramidLevels(n);
  m_levels.resize(static_cast<size_t>(n_levels));
  for (int64_t k = 0; k < n_levels; ++k) {
    Level& level = m_levels[static_cast<size_t>(k)];
    level.side = levelSide(n, k);
    level.chunk_rows = std::min(level.side, kMapChunkRows);
    level.chunk_cols = std::min(level.side, kMapChunkCols);
    const hsize_t dims[2] = {static_cast<hsize_t>(level.side), static_cast<hsize_t>(level.side)};
    const hsize_t chunk[2] = {static_cast<hsize_t>(level.chunk_rows), static_cast<hsize_t>(level.chunk_cols)};
    SpaceHandle space(check(H5Screate_simple(2, dims, nullptr), m_where, "cannot create dataspace"));
    PlistHandle dcpl(check(H5Pcreate(H5P_DATASET_CREATE), m_where, "cannot create property list"));
    // Shuffle puts the fp16 exponent bytes together, which is where deflate finds most of its redundancy.
    if (H5Pset_chunk(dcpl, 2, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 ||
        H5Pset_deflate(dcpl, kDeflateLevel) < 0 || H5Pset_fill_value(dcpl, half_type, &fill) < 0)
      fail(m_where, "cannot set up map storage (" + hdf5Detail() + ")");
    const std::string name = "level_" + std::to_string(k);
    level.dataset =
        DatasetHandle(check(H5Dcreate2(group, name.c_str(), half_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                            m_where, "cannot create " + name));
    if (k > 0) level.carry.resize(static_cast<size_t>(levelSide(n, k - 1)));
  }
}

void MapWriter::write(int64_t q0, int64_t q1, int64_t k0, int64_t k1, const float* values) {
  if (q0 < 0 || q1 > m_n || k0 < 0 || k1 > m_n || q0 > q1 || k0 > k1)
    fail(m_where, "block rows [" + std::to_string(q0) + ", " + std::to_string(q1) + ") columns [" +
                      std::to_string(k0) + ", " + std::to_string(k1) + ") outside the " +
                      std::to_string(m_n) + "-token map");
  if (q0 == q1 || k0 == k1) return;
  if (q0 < m_final_rows)
    fail(m_where, "row " + std::to_string(q0) + " arrives after row " + std::to_string(m_final_rows) +
                      " was written; rows must arrive in increasing order");
  Level& level = m_levels[0];
  // Every band wholly above q0 is final: later blocks start at q0 or below it.
  finalizeBelow(0, q0);
  m_final_rows = std::max(m_final_rows, q0 / level.chunk_rows * level.chunk_rows);
  const int64_t width = k1 - k0;
  Band* band = nullptr;
  for (int64_t q = q0; q < q1; ++q) {
    if (!band || q >= band->start + level.chunk_rows) {
      band = &bandFor(level, q);
      markDirty(level, *band, k0, k1);
    }
    const int64_t r = q - band->start;
    uint16_t* out = band->cells.data() + r * level.side + k0;
    const float* in = values + (q - q0) * width;
    for (int64_t j = 0; j < width; ++j) out[j] = floatToHalf(in[j]);
    int64_t& lo = band->lo[static_cast<size_t>(r)];
    int64_t& hi = band->hi[static_cast<size_t>(r)];
    if (lo >= hi) {
      lo = k0;
      hi = k1;
    } else {
      lo = std::min(lo, k0);
      hi = std::max(hi, k1);
    }
  }
}

void MapWriter::flush() {
  for (Level& level : m_levels)
    for (Band& band : level.open) writeDirty(level, band);
}

void MapWriter::finish() {
  for (size_t k = 0; k < m_levels.size(); ++k) {
    finalizeBelow(k, std::numeric_limits<int64_t>::max());
    if (k + 1 < m_levels.size()) completePending(k + 1);
  }
  m_final_rows = m_n;
}

MapWriter::Band& MapWriter::bandFor(Level& level, int64_t row) {
  const int64_t start = row / level.chunk_rows * level.chunk_rows;
  auto it =
      std::find_if(level.open.begin(), level.open.end(), [&](const Band& b) { return b.start >= start; });
  if (it != level.open.end() && it->start == start) return *it;
  Band band;
  band.start = start;
  band.cells.assign(static_cast<size_t>(level.chunk_rows * level.side), m_fill);
  band.lo.assign(static_cast<size_t>(level.chunk_rows), 0);
  band.hi.assign(static_cast<size_t>(level.chunk_rows), 0);
  band.dirty.assign(static_cast<size_t>((level.side + level.chunk_cols - 1) / level.chunk_cols), 0);
  return *level.open.insert(it, std::move(band));
}

void MapWriter::finalizeBelow(size_t k, int64_t row) {
  Level& level = m_levels[k];
  while (!level.open.empty() && level.open.front().start + level.chunk_rows <= row) {
    finalizeBand(k, level.open.front());
    level.open.pop_front();
  }
}

void MapWriter::finalizeBand(size_t k, Band& band) {
  Level& level = m_levels[k];
  writeDirty(level, band);
  if (k + 1 == m_levels.size()) return;
  const int64_t rows = std::min(level.chunk_rows, level.side - band.start);
  for (int64_t r = 0; r < rows; ++r)
    poolRow(k + 1, band.start + r, band.cells.data() + r * level.side, band.lo[static_cast<size_t>(r)],
            band.hi[static_cast<size_t>(r)]);
}

void MapWriter::writeDirty(Level& level, Band& band) {
  std::vector<int64_t> chunks;
  for (size_t c = 0; c < band.dirty.size(); ++c)
    if (band.dirty[c]) chunks.push_back(static_cast<int64_t>(c));
  if (chunks.empty()) return;
  // Each chunk is filtered here exactly as the dataset's pipeline would (shuffle, then zlib at level 4) and
  // stored with H5Dwrite_chunk: HDF5 compresses on one thread, this spreads the chunks over the cores.
  const int64_t rows = std::min(level.chunk_rows, level.side - band.start);
  const size_t cells = static_cast<size_t>(level.chunk_rows * level.chunk_cols);
  std::vector<std::vector<Bytef>> packed(chunks.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto pack = [&] {
    std::vector<Bytef> shuffled(2 * cells);
    for (size_t i; (i = next++) < chunks.size();) {
      const int64_t c0 = chunks[i] * level.chunk_cols, cols = std::min(level.chunk_cols, level.side - c0);
      for (int64_t r = 0; r < level.chunk_rows; ++r) {
        const uint16_t* in = band.cells.data() + r * level.side + c0;
        Bytef* low = shuffled.data() + r * level.chunk_cols;
        Bytef* high = low + cells;
        for (int64_t j = 0; j < level.chunk_cols; ++j) {
          const uint16_t v = r < rows && j < cols ? in[j] : m_fill;  // cells past the edge: fill
          low[j] = static_cast<Bytef>(v & 0xff);
          high[j] = static_cast<Bytef>(v >> 8);
        }
      }
      uLongf size = compressBound(static_cast<uLong>(shuffled.size()));
      packed[i].resize(size);
      if (compress2(packed[i].data(), &size, shuffled.data(), static_cast<uLong>(shuffled.size()),
                    kDeflateLevel) != Z_OK)
        failed = true;
      packed[i].resize(size);
    }
  };
  const size_t n_threads =
      std::min<size_t>({chunks.size(), std::max(1u, std::thread::hardware_concurrency()), 8});
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n_threads; ++t) threads.emplace_back(pack);
  pack();
  for (std::thread& thread : threads) thread.join();
  if (failed) fail(m_where, "cannot compress a map chunk");
  for (size_t i = 0; i < chunks.size(); ++i) {
    const hsize_t offset[2] = {static_cast<hsize_t>(band.start),
                               static_cast<hsize_t>(chunks[i] * level.chunk_cols)};
    if (H5Dwrite_chunk(level.dataset, H5P_DEFAULT, 0, offset, packed[i].size(), packed[i].data()) < 0)
      fail(m_where, "cannot write map chunk (" + hdf5Detail() + ")");
    band.dirty[static_cast<size_t>(chunks[i])] = 0;
  }
}

void MapWriter::poolRow(size_t k, int64_t row, const uint16_t* cells, int64_t lo, int64_t hi) {
  Level& level = m_levels[k];
  const int64_t i = row / 2;
  if (level.pending != i) {
    completePending(k);
    level.pending = i;
    level.n_folded = 0;
    std::fill(level.carry.begin(), level.carry.end(), uint16_t{0});  // key 0 is below every value
    level.carry_lo = level.carry_hi = 0;
  }
  uint16_t* carry = level.carry.data();
  const size_t n = level.carry.size();
  for (size_t j = 0; j < n; ++j) carry[j] = std::max(carry[j], halfKey(cells[j]));
  ++level.n_folded;
  if (lo < hi) {
    level.carry_lo = level.carry_lo < level.carry_hi ? std::min(level.carry_lo, lo) : lo;
    level.carry_hi = std::max(level.carry_hi, hi);
  }
  const int64_t below = static_cast<int64_t>(n);
  if (level.n_folded == std::min<int64_t>(2, below - 2 * i)) completePending(k);
}

void MapWriter::completePending(size_t k) {
  Level& level = m_levels[k];
  if (level.pending < 0) return;
  const int64_t below = static_cast<int64_t>(level.carry.size());
  std::vector<uint16_t>& carry = level.carry;
  // A source row that never arrived was never written: it counts as the fill value.
  if (level.n_folded < std::min<int64_t>(2, below - 2 * level.pending))
    for (uint16_t& key : carry) key = std::max(key, halfKey(m_fill));
  std::vector<uint16_t> pooled(static_cast<size_t>(level.side));
  for (int64_t j = 0; j < level.side; ++j) {
    uint16_t key = carry[static_cast<size_t>(2 * j)];
    if (2 * j + 1 < below) key = std::max(key, carry[static_cast<size_t>(2 * j + 1)]);
    pooled[static_cast<size_t>(j)] = keyToHalf(key);
  }
  const int64_t row = level.pending;
  level.pending = -1;
  const bool touched = level.carry_lo < level.carry_hi;
  emitRow(k, row, pooled.data(), touched ? level.carry_lo / 2 : 0, touched ? (level.carry_hi + 1) / 2 : 0);
}

void MapWriter::emitRow(size_t k, int64_t row, const uint16_t* cells, int64_t lo, int64_t hi) {
  Level& level = m_levels[k];
  finalizeBelow(k, row);
  Band& band = bandFor(level, row);
  const int64_t r = row - band.start;
  std::copy(cells, cells + level.side, band.cells.data() + r * level.side);
  band.lo[static_cast<size_t>(r)] = lo;
  band.hi[static_cast<size_t>(r)] = hi;
  if (lo < hi) markDirty(level, band, lo, hi);
}

void MapWriter::markDirty(const Level& level, Band& band, int64_t lo, int64_t hi) {
  for (int64_t c = lo / level.chunk_cols; c * level.chunk_cols < hi; ++c)
    band.dirty[static_cast<size_t>(c)] = 1;
}

}  // namespace attnscope::store
