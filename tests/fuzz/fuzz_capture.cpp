// libFuzzer harness: a capture file from anywhere, opened and read the way `attnscope-cli stats` and the GUI
// do: metadata, tokens, every run's statistics layer by layer (the head grid, the stats table) and as curves,
// and every stored map's pyramid levels. The reader must return exactly the shapes store.h documents, since
// its callers index the results with the run's n_head and n_tokens.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "attnscope/analysis.h"
#include "attnscope/store.h"
#include "fuzz_support.h"

using namespace attnscope;

namespace {

/// Reads what the consumers read; any exception ends the whole read, as it does in the CLI and GUI.
void readEverything(const CaptureFile& file) {
  (void)file.model();
  const CaptureTokens tokens = file.tokens();
  const int64_t T = file.nTokens();
  if (T < 0) fuzz::contractViolated("nTokens() < 0");
  for (const RunInfo& listed : file.runs()) {
    const RunInfo run = file.run(listed.name);
    for (const std::string& stat : run.stats) {
      for (int64_t layer = 0; layer < run.n_layer; ++layer) {
        const auto values = file.readStat(run.name, stat, layer);  // [n_head, T]
        if (static_cast<int64_t>(values.size()) != run.n_head * run.n_tokens)
          fuzz::contractViolated("readStat(layer) size != n_head * n_tokens");
        for (int64_t head = 0; head < run.n_head; ++head) {
          const auto row = file.readStat(run.name, stat, layer, head);  // [T]
          if (static_cast<int64_t>(row.size()) != run.n_tokens)
            fuzz::contractViolated("readStat(layer, head) size != n_tokens");
        }
        (void)statCurve(file, run.name, stat, layer, -1);
      }
      (void)statCurve(file, run.name, stat, -1, -1);
    }
    for (const MapRequest& map : run.maps) {
      for (int64_t head : map.heads) {
        const int64_t levels = file.mapLevels(run.name, map.hook, head);
        for (int64_t level = 0; level < levels; ++level) {
          // The coarsest cells that the heatmap's overview and a zoomed-in corner ask for.
          const int64_t side = level < 62 ? (T + (int64_t{1} << level) - 1) >> level : 1;
          const int64_t r1 = std::min<int64_t>(side, 64), c1 = std::min<int64_t>(side, 64);
          const auto tile = file.readMapTile(run.name, map.hook, head, level, 0, r1, 0, c1);
          if (static_cast<int64_t>(tile.size()) != r1 * c1)
            fuzz::contractViolated("readMapTile size != rows * cols");
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path =
      fuzz::writeScratchFile("capture.h5", std::string(reinterpret_cast<const char*>(data), size));
  try {
    const auto file = CaptureFile::open(path);
    readEverything(*file);
  } catch (const std::exception& error) {
    fuzz::noteRefusal(error);
  }
  return 0;
}
