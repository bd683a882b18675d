#include "maptiles.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnscope/store.h"

namespace attnscope::widgets {
namespace {

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

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

}  // namespace attnscope::widgets
