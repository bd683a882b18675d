#include "maptiles.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnscope/statistics.h"
#include "attnscope/store.h"
#include "differencepyramid.h"

namespace attnscope::widgets {
namespace {

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kDifferenceBandCells = int64_t{1} << 24;  // level-0 cells per run in one band of reads

}  // namespace

TokenWindow TileRequest::tokens(int64_t n_tokens) const {
  const int64_t s = span();
  return {std::min(r0 * s, n_tokens), std::min(r1 * s, n_tokens), std::min(c0 * s, n_tokens),
          std::min(c1 * s, n_tokens)};
}

float MapTile::at(int64_t query, int64_t key) const {
  const int64_t s = request.span();
  if (query < 0 || key < 0) return std::numeric_limits<float>::quiet_NaN();
  const int64_t r = query / s - request.r0, c = key / s - request.c0;
  if (r < 0 || r >= rows() || c < 0 || c >= columns() || empty())
    return std::numeric_limits<float>::quiet_NaN();
  return values[static_cast<std::size_t>(r * columns() + c)];
}

int chooseLevel(const TokenWindow& visible, int width_px, int height_px, int n_levels) {
  const double per_px = std::max(static_cast<double>(visible.k1 - visible.k0) / std::max(1, width_px),
                                 static_cast<double>(visible.q1 - visible.q0) / std::max(1, height_px));
  const int level = per_px <= 1.0 ? 0 : static_cast<int>(std::ceil(std::log2(per_px) - 1e-9));
  return std::clamp(level, 0, std::max(0, n_levels - 1));
}

TileRequest planTile(const TokenWindow& visible, int level, int64_t n_tokens, double margin) {
  TileRequest request;
  request.level = level;
  const int64_t s = request.span(), cells = ceilDiv(n_tokens, s);
  const auto widen = [&](int64_t t0, int64_t t1, int64_t* out0, int64_t* out1) {
    const int64_t extra = static_cast<int64_t>(std::ceil((t1 - t0) * margin));
    *out0 = std::clamp<int64_t>((t0 - extra) / s, 0, cells);
    *out1 = std::clamp<int64_t>(ceilDiv(std::max<int64_t>(t1 + extra, 0), s), *out0, cells);
    // At least two cells per side when the level has them: QCPColorMap needs a non-empty range to place
    // cells.
    if (*out1 - *out0 < 2) *out1 = std::min(cells, *out0 + 2), *out0 = std::max<int64_t>(0, *out1 - 2);
  };
  widen(visible.q0, visible.q1, &request.r0, &request.r1);
  widen(visible.k0, visible.k1, &request.c0, &request.c1);
  return request;
}

bool tileCovers(const MapTile& tile, const TokenWindow& visible, int level, int64_t n_tokens) {
  if (tile.empty() || tile.request.level != level) return false;
  const TokenWindow have = tile.request.tokens(n_tokens);
  return have.q0 <= std::max<int64_t>(visible.q0, 0) && have.q1 >= std::min(visible.q1, n_tokens) &&
         have.k0 <= std::max<int64_t>(visible.k0, 0) && have.k1 >= std::min(visible.k1, n_tokens);
}

MapTile readTile(const CaptureFile& file, const TileRequest& request,
                 const std::function<bool()>& cancelled) {
  MapTile tile;
  tile.request = request;
  const auto read = [&](int64_t r0, int64_t r1) {
    return file.readMapTile(request.run, request.hook, request.head, request.level, r0, r1, request.c0,
                            request.c1);
  };
  if (!cancelled) {
    tile.values = read(request.r0, request.r1);
    return tile;
  }
  for (int64_t r = request.r0; r < request.r1;) {
    if (cancelled()) {
      tile.values.clear();
      return tile;
    }
    const int64_t end = std::min(request.r1, (r / kTileBandRows + 1) * kTileBandRows);
    const std::vector<float> band = read(r, end);
    tile.values.insert(tile.values.end(), band.begin(), band.end());
    r = end;
  }
  return tile;
}

bool KeyVisibility::sees(int64_t query, int64_t key) const {
  if (query < 0 || query >= computed || key < 0 || key > query) return false;
  return first_key.empty() || key >= first_key[static_cast<std::size_t>(query)];
}

KeyVisibility readKeyVisibility(const CaptureFile& file, const RunInfo& run, int64_t layer, int64_t head) {
  KeyVisibility visibility;
  const int64_t n = run.n_tokens;
  visibility.computed = n;
  const bool has_n_keys = std::find(run.stats.begin(), run.stats.end(), kStatNKeys) != run.stats.end();
  const std::string stat = has_n_keys ? kStatNKeys : run.stats.empty() ? "" : run.stats.front();
  if (stat.empty() || (!has_n_keys && run.complete)) return visibility;
  const std::vector<float> values = file.readStat(run.name, stat, layer, head);  // [n_tokens]
  const int64_t size = std::min<int64_t>(n, static_cast<int64_t>(values.size()));
  // Query blocks are written in increasing order: the first never-written (NaN) value ends the computed part.
  visibility.computed = static_cast<int64_t>(
      std::find_if(values.begin(), values.begin() + size, [](float v) { return std::isnan(v); }) -
      values.begin());
  if (!has_n_keys) return visibility;
  visibility.first_key.assign(static_cast<std::size_t>(n), 0);
  for (int64_t q = 0; q < visibility.computed; ++q) {
    const double seen =
        std::clamp<double>(values[static_cast<std::size_t>(q)], 1.0, static_cast<double>(q + 1));
    visibility.first_key[static_cast<std::size_t>(q)] = q + 1 - static_cast<int64_t>(std::llround(seen));
  }
  return visibility;
}

void maskTile(MapTile& tile, const KeyVisibility& visibility, int64_t n_tokens) {
  const int64_t s = tile.request.span(), columns = tile.columns();
  for (int64_t r = 0; r < tile.rows(); ++r) {
    // Keys some query of the row's cell sees: the union of [first_key[q], q] over consecutive queries is one
    // range, since both ends grow with q.
    const int64_t q0 = (tile.request.r0 + r) * s, q1 = std::min({q0 + s, n_tokens, visibility.computed});
    const int64_t lo = q1 <= q0 ? 1 : visibility.first_key.empty() ? 0 : visibility.first_key[q0];
    const int64_t hi = q1 <= q0 ? 0 : q1 - 1;  // [lo, hi], empty when no query of the row was computed
    float* row = tile.values.data() + r * columns;
    for (int64_t c = 0; c < columns; ++c) {
      const int64_t k0 = (tile.request.c0 + c) * s, k1 = k0 + s - 1;
      if (k1 < lo || k0 > hi || !std::isfinite(row[c])) row[c] = kNaN;
    }
  }
}

MapTile readDifferenceTile(const CaptureFile& file, const TileRequest& request, const std::string& other,
                           int64_t n_tokens, const std::function<bool()>& cancelled) {
  TileRequest base = request;
  base.run = other;
  if (request.level == 0) {
    MapTile tile = readTile(file, request, cancelled);
    if (tile.empty()) return tile;
    const MapTile subtrahend = readTile(file, base, cancelled);
    if (subtrahend.empty()) return subtrahend;  // cancelled
    for (std::size_t i = 0; i < tile.values.size(); ++i) tile.values[i] -= subtrahend.values[i];
    return tile;
  }
  // Overview levels come from the pair's difference pyramid (built once); finer ones pool the visible part
  // of level 0, which is small at those zooms.
  if (request.level >= firstDifferenceLevel(n_tokens))
    return DifferencePyramids::shared().read(file, request, other, n_tokens, cancelled);
  return poolDifferenceTile(file, request, other, n_tokens, cancelled);
}

MapTile poolDifferenceTile(const CaptureFile& file, const TileRequest& request, const std::string& other,
                           int64_t n_tokens, const std::function<bool()>& cancelled) {
  MapTile tile;
  tile.request = request;
  const int64_t s = request.span(), columns = tile.columns();
  // Level-0 tokens of the tile; the last cells of a side may be partial.
  const int64_t k0 = request.c0 * s, k1 = std::min(request.c1 * s, n_tokens);
  const int64_t q_end = std::min(request.r1 * s, n_tokens);
  tile.values.assign(static_cast<std::size_t>(tile.rows() * columns), kNaN);
  // Bands of whole cells, about kDifferenceBandCells level-0 cells each.
  const int64_t band = s * std::max<int64_t>(1, kDifferenceBandCells / std::max<int64_t>(1, k1 - k0) / s);
  for (int64_t q0 = request.r0 * s; q0 < q_end; q0 += band) {
    if (cancelled && cancelled()) return MapTile{request, {}};
    const int64_t q1 = std::min(q_end, q0 + band);
    const std::vector<float> a = file.readMapTile(request.run, request.hook, request.head, 0, q0, q1, k0, k1);
    const std::vector<float> b = file.readMapTile(other, request.hook, request.head, 0, q0, q1, k0, k1);
    const int64_t width = k1 - k0;
    for (int64_t q = q0; q < q1; ++q) {
      float* out = tile.values.data() + (q / s - request.r0) * columns;
      const float* pa = a.data() + (q - q0) * width;
      const float* pb = b.data() + (q - q0) * width;
      for (int64_t j = 0; j < width; ++j) {
        keepLargestChange(out[(k0 + j) / s - request.c0], pa[j] - pb[j]);
      }
    }
  }
  return tile;
}

}  // namespace attnscope::widgets
