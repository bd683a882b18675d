// attnscope-cli: inspect checkpoints and their attention from the command line.
// Exit codes: 0 success, 1 failure while working (bad checkpoint, bad input), 2 usage error.

#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "attnscope/runtime.h"
#include "commands.h"

int main(int argc, char** argv) {
  using namespace attnscope::cli;
  CLI::App app{"attnscope-cli: attention analysis for transformer checkpoints (softmax vs Scalable-Softmax)"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "Compute threads (0: one per core)")->check(CLI::NonNegativeNumber);

  InfoOptions info;
  auto* info_cmd = app.add_subcommand("info", "Describe a model directory: architecture, sizes, SSMax parameters");
  info_cmd->add_option("model_dir", info.model_dir, "Hugging Face model directory")->required();

  RunOptions run;
  auto* run_cmd = app.add_subcommand(
      "run", "Run token ids through a model; print the top next tokens and the last query's attention row");
  run_cmd->add_option("model_dir", run.model_dir, "Hugging Face model directory")->required();
  run_cmd->add_option("--ids", run.ids, "Token ids, comma-separated")->required()->delimiter(',');
  run_cmd->add_option("--normalizer,-n", run.normalizer,
                      "softmax | ssmax | ssmax:s=0.3[,b=0.1] | ssmax:ctx=N | logn:L=N | temperature:floor=F,scale=S")
      ->capture_default_str();
  run_cmd->add_option("--layer", run.layer, "Layer whose attention row to print (-1: last)")->capture_default_str();
  run_cmd->add_option("--head", run.head, "Head whose attention row to print")->capture_default_str();
  run_cmd->add_option("--top", run.top, "How many next-token candidates to print")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    attnscope::setComputeThreads(threads);
    if (*info_cmd) return runInfo(info);
    if (*run_cmd) return runForward(run);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnscope-cli: error: %s\n", e.what());
    return 1;
  }
  return 2;
}
