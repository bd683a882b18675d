#pragma once
// Which part of an attention map's pyramid to read for a view, and the tile that comes back. A view of a
// 64k × 64k map reads a coarse level whole; zoomed in, it reads level 0 around the visible range only.

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attnscope {
class CaptureFile;
struct RunInfo;
}  // namespace attnscope

namespace attnscope::widgets {

/// Token ranges [begin, end) along queries (rows) and keys (columns).
struct TokenWindow {
  int64_t q0 = 0, q1 = 0, k0 = 0, k1 = 0;
};

struct TileRequest {
  std::string run, hook;
  int64_t head = 0;
  int level = 0;                           // pyramid level: one cell covers 2^level × 2^level tokens
  int64_t r0 = 0, r1 = 0, c0 = 0, c1 = 0;  // cell ranges [r0, r1) × [c0, c1) in that level

  int64_t span() const { return int64_t{1} << level; }
  /// The token ranges the tile's cells cover (clipped to n_tokens).
  TokenWindow tokens(int64_t n_tokens) const;
};

struct MapTile {
  TileRequest request;
  std::vector<float> values;  // [r1 - r0, c1 - c0], row-major: queries × keys
  int64_t rows() const { return request.r1 - request.r0; }
  int64_t columns() const { return request.c1 - request.c0; }
  bool empty() const { return values.empty(); }
  /// The value of the cell holding (query, key), or NaN outside the tile.
  float at(int64_t query, int64_t key) const;
};

/// The coarsest-needed level: cells no smaller than a pixel, so the tile has at most one cell per pixel.
int chooseLevel(const TokenWindow& visible, int width_px, int height_px, int n_levels);

/// Plans a read of visible (tokens) at level, widened by margin × the visible size on each side for panning.
TileRequest planTile(const TokenWindow& visible, int level, int64_t n_tokens, double margin = 0.25);

/// Whether tile was read at level and holds every cell of visible.
bool tileCovers(const MapTile& tile, const TokenWindow& visible, int level, int64_t n_tokens);

/// Rows of one band of a banded tile read: four of the store's 64-row chunks, so bands start on chunk
/// boundaries and each chunk is decompressed once. Each band is a read of its own (checks, dataset open):
/// a 2048 × 2048 tile took 0-10% longer in 256-row bands than in one read, 15-20% longer in 64-row bands.
constexpr int64_t kTileBandRows = 256;

/// Which keys each query of a run's layer and head sees, and how many of its queries were computed. Read from
/// the run's n_keys statistic (written with every query block), so windows and cancelled captures need no
/// model config.
struct KeyVisibility {
  int64_t computed = 0;            // queries [0, computed) were computed; a cancelled capture stopped there
  std::vector<int64_t> first_key;  // [n_tokens]: query q sees keys [first_key[q], q]; empty: causal, from 0
  /// Whether query sees key (false for queries never computed).
  bool sees(int64_t query, int64_t key) const;
};

/// Reads the visibility of a head's keys. A complete run without n_keys is causal; an incomplete one counts
/// its computed queries in its first statistic (never-written values read as NaN). Throws StoreError.
KeyVisibility readKeyVisibility(const CaptureFile& file, const RunInfo& run, int64_t layer, int64_t head);

/// Sets to NaN every cell of tile that no query of its rows can see (masked) or whose queries were never
/// computed, and every non-finite value (masked scores are −inf), so views draw them apart from p = 0.
void maskTile(MapTile& tile, const KeyVisibility& visibility, int64_t n_tokens);

/// Reads request's tile of request.run − other: per cell the change largest in magnitude (with its sign),
/// pooled from level 0. Subtracting the runs' max-pooled levels would cancel where the runs peak on different
/// keys of one cell. Overview levels are cut from the pair's difference pyramid (differencepyramid.h), built
/// on the first such read; finer levels pool the tile's part of level 0. Cells where either run is non-finite
/// are NaN. Cancellable like readTile.
MapTile readDifferenceTile(const CaptureFile& file, const TileRequest& request, const std::string& other,
                           int64_t n_tokens, const std::function<bool()>& cancelled = {});

/// Keeps in cell the change larger in magnitude, its sign with it; a NaN cell takes any finite change. Ties
/// keep the earlier value. The one pooling rule of difference tiles and the difference pyramid.
inline void keepLargestChange(float& cell, float change) {
  if (std::isfinite(change) && !(std::abs(change) <= std::abs(cell))) cell = change;
}

/// Pools request's tile of request.run − other from the tile's part of both runs' level 0: what
/// readDifferenceTile does below the pyramid's levels (and did at every level before there was a pyramid).
MapTile poolDifferenceTile(const CaptureFile& file, const TileRequest& request, const std::string& other,
                           int64_t n_tokens, const std::function<bool()>& cancelled = {});

/// Reads the tile. Throws StoreError. Safe off the GUI thread. With a cancel predicate the tile is read in
/// bands of kTileBandRows rows, asking cancelled() before each; once it returns true the read stops and the
/// tile comes back empty (request set, no values).
MapTile readTile(const CaptureFile& file, const TileRequest& request,
                 const std::function<bool()>& cancelled = {});

}  // namespace attnscope::widgets
