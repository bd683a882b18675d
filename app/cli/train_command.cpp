// attnscope-cli train: trains a small byte-level Llama model with softmax or SSMax attention; Ctrl-C stops it
// (or SIGTERM) stops it after writing a checkpoint that --resume continues.

#include <cstdio>

#include "attnscope/runtime.h"
#include "commands.h"

namespace attnscope::cli {

int runTrain(const TrainOptions& options) {
  const TrainParams& p = options.params;
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
