// attnscope-cli capture: one run per normalizer over the same prompt, streamed into an HDF5 capture file.

#include <unistd.h>

#include <cstdio>

#include <torch/torch.h>

#include "attnscope/capture.h"
#include "attnscope/model.h"
#include "commands.h"

namespace attnscope::cli {
namespace {

int capture(const CaptureOptions& options) {
  auto model = loadModel(options.model_dir, LoadOptions{parseComputeDtype(options.dtype)});
  const ModelConfig& c = model->config();
  CaptureTokens tokens;
  tokens.ids = promptIds(options.prompt, options.model_dir, &tokens.text);
  const int64_t T = static_cast<int64_t>(tokens.ids.size());
  CaptureParams params;
  params.normalizers = options.normalizers;
  params.maps = parseMapSpec(options.maps, c.n_layer, c.n_head);
  params.targets = parseTargetRanges(options.targets, T);
  params.topk = options.topk;
  params.query_block = options.query_block;
  params.run_names = options.run_names;
  const bool terminal = ::isatty(STDERR_FILENO);
  params.progress = [&](int64_t run, int64_t layer, int64_t n_layer) {
    // A live counter on a terminal; one line per finished run in logs.
    if (terminal || layer + 1 == n_layer)
      std::fprintf(stderr, "%srun %lld/%zu (%s): layer %lld/%lld%s", terminal ? "\r" : "",
                   static_cast<long long>(run + 1), options.normalizers.size(),
                   options.normalizers[run].c_str(), static_cast<long long>(layer + 1),
                   static_cast<long long>(n_layer), layer + 1 == n_layer ? "\n" : "");
    return true;
  };

  const CaptureModel described = describeCheckpoint(*model, options.model_dir);
  auto file = CaptureFile::create(options.out, described, tokens, options.other_weights);
  if (file->model().weights_hash != described.weights_hash) params.run_model = described;
  int64_t done = captureRuns(*model, tokens.ids, *file, params);
  std::size_t n_maps = 0;
  for (const MapRequest& m : params.maps) n_maps += m.heads.size();
  std::printf("%s: %lld run(s) captured, %lld tokens, %zu head map(s) per run\n", options.out.c_str(),
              static_cast<long long>(done), static_cast<long long>(T), n_maps);
  return 0;
}

}  // namespace

int runCapture(const CaptureOptions& options) {
  return capture(options);
}

}  // namespace attnscope::cli
