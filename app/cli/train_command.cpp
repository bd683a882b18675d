// attnscope-cli train: trains a small byte-level Llama model with softmax or SSMax attention; Ctrl-C stops it
// (or SIGTERM) stops it after writing a checkpoint that --resume continues.

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>

#include "attnscope/config.h"
#include "attnscope/runtime.h"
#include "attnscope/text_input.h"
#include "attnscope/train.h"
#include "commands.h"

namespace attnscope::cli {

namespace {

int64_t parseCount(const std::string& text, const std::string& what) {
  const std::optional<int64_t> value = parseNonNegativeInteger(text);
  if (!value) throw std::invalid_argument(what + ": '" + text + "' is not a non-negative integer");
  return *value;
}

}  // namespace

int64_t parsePositionsOption(const std::string& text) {
  if (text == "rope") return 0;
  if (text.rfind("pose:", 0) == 0) {
    const int64_t reach = parseCount(text.substr(5), "pose:MAX");
    if (reach < 2) throw std::invalid_argument("pose:MAX needs MAX >= 2");
    return reach;
  }
  throw std::invalid_argument("'" + text + "' is not rope or pose:MAX");
}

std::pair<int64_t, int64_t> parseCurriculumOption(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) throw std::invalid_argument("'" + text + "' is not START:END");
  const int64_t start = parseCount(text.substr(0, colon), "START");
  const int64_t end = parseCount(text.substr(colon + 1), "END");
  if (end < start) throw std::invalid_argument("END must not come before START");
  return {start, end};
}

int runTrain(const TrainOptions& options) {
  TrainParams p = options.params;
  p.pose_max = parsePositionsOption(options.positions);
  if (!options.curriculum.empty())
    std::tie(p.curriculum_start, p.curriculum_end) = parseCurriculumOption(options.curriculum);
  const StopSignals stop;
  bool started = false;
  auto progress = [&](const TrainProgress& info) {
    // The header waits for the first step, so errors before training stay the only output line.
    if (!started) {
      std::printf(
          "training %s%s: %lld layers, %lld heads, d_model %lld, d_ff %lld, context %lld; %lld steps of "
          "%lld sequences, lr %g, seed %llu, needle share %g; %s\n",
          p.normalizer.c_str(), p.ssmax_bias ? " (with bias)" : "", static_cast<long long>(p.n_layer),
          static_cast<long long>(p.n_head), static_cast<long long>(p.d_model), static_cast<long long>(p.d_ff),
          static_cast<long long>(p.n_ctx), static_cast<long long>(p.n_steps),
          static_cast<long long>(p.batch_size), p.lr, static_cast<unsigned long long>(p.seed), p.needle_share,
          computeDescription().c_str());
      for (const std::string& feature : architectureFeatures(parseConfig(trainConfigJson(p))))
        std::printf("  %s\n", feature.c_str());
      if (p.pose_max > 0)
        std::printf("  PoSE positions: two chunks, skips up to %lld\n", static_cast<long long>(p.pose_max));
      if (p.distractors > 0)
        std::printf("  distractors: %g per 1,000 tokens%s\n", p.distractors,
                    p.curriculum_end > 0 ? (" from step " + std::to_string(p.curriculum_start) +
                                            ", full rate at step " + std::to_string(p.curriculum_end))
                                               .c_str()
                                         : "");
      if (p.bf16) std::printf("  matrix products in bfloat16\n");
      if (options.resume)
        std::printf("resumed from %s/checkpoint at step %lld\n", options.out_dir.c_str(),
                    static_cast<long long>(info.step - 1));
      started = true;
    }
    if (info.step % options.log_every == 0 || info.step == info.n_steps || stop.requested())
      std::printf("step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  elapsed %s  eta %s\n",
                  static_cast<long long>(info.step), static_cast<long long>(info.n_steps), info.loss, info.lr,
                  info.tokens_per_s, formatDuration(info.elapsed_s).c_str(),
                  formatDuration(info.eta_s).c_str());
    std::fflush(stdout);
    return !stop.requested();
  };
  const TrainResult result = trainModel(p, options.out_dir, options.resume, progress);
  if (!result.finished) {
    std::printf(
        "stopped at step %lld; checkpoint in %s/checkpoint (continue with the same arguments and --resume)\n",
        static_cast<long long>(result.steps_done), options.out_dir.c_str());
    return 130;  // interrupted, as shells report SIGINT (SIGTERM too, so Slurm's preemption also resumes)
  }
  std::printf("saved %s (config.json, model.safetensors) after %lld steps, last loss %.4f\n",
              options.out_dir.c_str(), static_cast<long long>(result.steps_done), result.last_loss);
  return 0;
}

}  // namespace attnscope::cli
