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
  app.set_help_all_flag("--help-all", "Show the help of every subcommand");
  app.add_option("--threads", threads, "Compute threads (0: one per core)")->check(CLI::NonNegativeNumber);

  // Adds --ids / --text / --prompt-file to a subcommand.
  auto addPrompt = [](CLI::App* cmd, PromptOptions& prompt) {
    auto* group = cmd->add_option_group("prompt", "Exactly one of --ids, --text, --prompt-file");
    group->add_option("--ids", prompt.ids, "Token ids, comma-separated")->delimiter(',');
    group->add_option("--text", prompt.text, "Prompt text (tokenized with the model's tokenizer)");
    group->add_option("--prompt-file", prompt.prompt_file, "File holding the prompt text")->check(CLI::ExistingFile);
    group->require_option(1);
  };

  InfoOptions info;
  auto* info_cmd = app.add_subcommand("info", "Describe a model directory: architecture, sizes, SSMax parameters");
  info_cmd->add_option("model_dir", info.model_dir, "Hugging Face model directory")->required();

  RunOptions run;
  auto* run_cmd = app.add_subcommand(
      "run", "Run token ids through a model; print the top next tokens and the last query's attention row");
  run_cmd->add_option("model_dir", run.model_dir, "Hugging Face model directory")->required();
  addPrompt(run_cmd, run.prompt);
  run_cmd->add_option("--normalizer,-n", run.normalizer,
                      "softmax | ssmax | ssmax:s=0.3[,b=0.1] | ssmax:ctx=N | logn:L=N | temperature:floor=F,scale=S")
      ->capture_default_str();
  run_cmd->add_option("--layer", run.layer, "Layer whose attention row to print (-1: last)")->capture_default_str();
  run_cmd->add_option("--head", run.head, "Head whose attention row to print")->capture_default_str();
  run_cmd->add_option("--top", run.top, "How many next-token candidates to print")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();

  TokenizeOptions tokenize;
  auto* tokenize_cmd = app.add_subcommand("tokenize", "Print the token ids and display strings of a prompt");
  tokenize_cmd->add_option("model_dir", tokenize.model_dir, "Model directory with a tokenizer")->required();
  addPrompt(tokenize_cmd, tokenize.prompt);

  CaptureOptions capture;
  auto* capture_cmd = app.add_subcommand(
      "capture", "Capture per-head attention statistics (and maps) of one prompt into an HDF5 file, one run per "
                 "normalizer; runs are appended to an existing file of the same prompt and model");
  capture_cmd->add_option("model_dir", capture.model_dir, "Hugging Face model directory")->required();
  addPrompt(capture_cmd, capture.prompt);
  capture_cmd->add_option("--normalizer,-n", capture.normalizers, "Normalizer of a run (repeat for more runs)")
      ->required();
  capture_cmd->add_option("--out,-o", capture.out, "Capture file (.h5)")->required();
  capture_cmd->add_option("--maps", capture.maps,
                          "Attention maps to store: none | all | L.H,L.*,... (prefix scores: for pre-softmax)")
      ->capture_default_str();
  capture_cmd->add_option("--targets", capture.targets, "Target token ranges for target_mass, e.g. 10:20,40:45");
  capture_cmd->add_option("--topk", capture.topk, "k of the top-k mass statistic")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  capture_cmd->add_option("--block", capture.query_block, "Queries per block (0: bounded by memory)")
      ->check(CLI::NonNegativeNumber);

  StatsOptions stats;
  auto* stats_cmd = app.add_subcommand("stats", "Summarise the runs of a capture file; --csv writes the curves");
  stats_cmd->add_option("file", stats.file, "Capture file (.h5)")->required();
  stats_cmd->add_option("--csv", stats.csv, "Write max attention, entropy, ... against n as CSV");
  stats_cmd->add_option("--theory", stats.theory_s,
                        "Add theory curves to the CSV (run theory_fig1: the paper's Figure 1 closed forms; "
                        "theory_gaussian: Monte Carlo, N(0,1) logits) for softmax and SSMax with this s")
      ->check(CLI::PositiveNumber)
      ->needs("--csv");
  stats_cmd->add_option("--bins-per-octave", stats.bins_per_octave, "Resolution of the n axis")
      ->check(CLI::Range(1, 64))
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
    if (*capture_cmd) return runCapture(capture);
    if (*tokenize_cmd) return runTokenize(tokenize);
    if (*stats_cmd) return runStats(stats);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnscope-cli: error: %s\n", e.what());
    return 1;
  }
  return 2;
}
