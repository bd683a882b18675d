// attnscope-cli: inspect checkpoints and their attention from the command line.
// Exit codes: 0 success, 1 failure while working (bad checkpoint, bad input), 2 usage error, 130 training
// interrupted by Ctrl-C (resumable).

#include <cstdio>
#include <exception>

#include <c10/util/Exception.h>
#include <CLI/CLI.hpp>

#include "attnscope/dtype.h"
#include "attnscope/hf_cache.h"
#include "attnscope/normalizer_spec.h"
#include "attnscope/runtime.h"
#include "commands.h"

int main(int argc, char** argv) {
  using namespace attnscope::cli;
  CLI::App app{"attnscope-cli: attention analysis for transformer checkpoints (softmax vs Scalable-Softmax)"};
  app.require_subcommand(1);
  int threads = 0;
  app.set_help_all_flag("--help-all", "Show the help of every subcommand");
  app.add_option("--threads", threads, "Compute threads (0: one per core)")->check(CLI::NonNegativeNumber);
  app.fallthrough();  // "attnscope-cli train DIR --threads 2" works as well as "--threads 2 train DIR"

  // Adds --ids / --text / --prompt-file / --induction-prompt to a subcommand.
  auto addPrompt = [](CLI::App* cmd, attnscope::PromptSource& prompt) {
    auto* group =
        cmd->add_option_group("prompt", "Exactly one of --ids, --text, --prompt-file, --induction-prompt");
    group->add_option("--ids", prompt.ids, "Token ids, comma-separated")->delimiter(',');
    group->add_option("--text", prompt.text, "Prompt text (tokenized with the model's tokenizer)");
    group->add_option("--prompt-file", prompt.file, "File holding the prompt text")->check(CLI::ExistingFile);
    group->add_option("--induction-prompt", prompt.induction,
                      "R[:SEED]: R distinct random token ids, then the same R again (finds induction heads; "
                      "see the induction_mass statistic)");
    group->require_option(1);
  };

  // Adds --dtype to a subcommand that runs a model.
  auto addDtype = [](CLI::App* cmd, std::string& dtype) {
    cmd->add_option("--dtype", dtype,
                    "Precision of the linear layers: auto (the checkpoint's: bfloat16 for BF16/F16 weights, "
                    "float32 for "
                    "F32), float32, bfloat16; attention, softmax and statistics are float32 always")
        ->check(CLI::IsMember(attnscope::computeDtypeNames()))
        ->capture_default_str();
  };

  // Adds the prompt grid of eval and sweep: lengths x depths x prompts per cell, and the seed that draws
  // them.
  auto addPromptGrid = [](CLI::App* cmd, std::vector<int64_t>& lengths, std::vector<double>& depths,
                          int64_t& prompts, uint64_t& seed, const std::string& lengths_help) {
    cmd->add_option("--lengths", lengths, lengths_help)->delimiter(',');
    cmd->add_option("--depths", depths, "Needle depths in [0, 1]")
        ->delimiter(',')
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    cmd->add_option("--prompts", prompts, "Needle prompts per length and depth")
        ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
        ->capture_default_str();
    cmd->add_option("--seed", seed, "Seed of the haystack offsets and needles")->capture_default_str();
  };

  // Adds the model directory argument, which also takes a model id (Org/Name) of the local Hugging Face
  // cache, and --revision to choose the id's branch, tag or commit.
  std::string revision;
  auto addModelDir = [&revision](CLI::App* cmd, std::string& model_dir, const std::string& what) {
    const std::string help = what +
                             ", or a model id Org/Name in the local Hugging Face cache (HF_HUB_CACHE, "
                             "HF_HOME/hub, ~/.cache/huggingface/hub; never downloaded)";
    cmd->add_option("model_dir", model_dir, help)->required();
    cmd->add_option("--revision", revision,
                    "Branch, tag or commit hash of a model id in the cache (default: main)");
  };

  InfoOptions info;
  auto* info_cmd =
      app.add_subcommand("info", "Describe a model directory: architecture, sizes, SSMax parameters");
  addModelDir(info_cmd, info.model_dir, "Hugging Face model directory");

  RunOptions run;
  auto* run_cmd = app.add_subcommand(
      "run", "Run token ids through a model; print the top next tokens and the last query's attention row");
  addModelDir(run_cmd, run.model_dir, "Hugging Face model directory");
  addPrompt(run_cmd, run.prompt);
  addDtype(run_cmd, run.dtype);
  run_cmd->add_option("--normalizer,-n", run.normalizer, attnscope::normalizerSyntax())
      ->capture_default_str();
  run_cmd->add_option("--layer", run.layer, "Layer whose attention row to print (-1: last)")
      ->capture_default_str();
  run_cmd->add_option("--head", run.head, "Head whose attention row to print")->capture_default_str();
  run_cmd->add_option("--top", run.top, "How many next-token candidates to print")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();

  TokenizeOptions tokenize;
  auto* tokenize_cmd = app.add_subcommand("tokenize", "Print the token ids and display strings of a prompt");
  addModelDir(tokenize_cmd, tokenize.model_dir, "Model directory with a tokenizer");
  addPrompt(tokenize_cmd, tokenize.prompt);

  CaptureOptions capture;
  auto* capture_cmd = app.add_subcommand(
      "capture",
      "Capture per-head attention statistics (and maps) of one prompt into an HDF5 file, one run per "
      "normalizer; runs are appended to an existing file of the same prompt and model");
  addModelDir(capture_cmd, capture.request.model_dir, "Hugging Face model directory");
  addPrompt(capture_cmd, capture.request.prompt);
  addDtype(capture_cmd, capture.dtype);
  capture_cmd
      ->add_option("--normalizer,-n", capture.request.normalizers,
                   "Normalizer of a run (repeat for more runs)")
      ->required();
  capture_cmd->add_option("--out,-o", capture.request.out, "Capture file (.h5)")->required();
  capture_cmd
      ->add_option("--maps", capture.request.maps,
                   "Attention maps to store: none | all | L.H,L.*,... (prefix scores: for pre-softmax)")
      ->capture_default_str();
  capture_cmd->add_option("--name", capture.request.run_names, "Run name (repeat: one per --normalizer)");
  capture_cmd->add_flag(
      "--other-weights", capture.request.other_weights,
      "Append to a capture of other weights on the same tokens (e.g. compare a softmax- and an "
      "SSMax-trained model); the runs record their own model");
  capture_cmd->add_option("--targets", capture.request.targets,
                          "Target token ranges for target_mass, e.g. 10:20,40:45");
  capture_cmd
      ->add_option("--local-window", capture.request.local_window,
                   "W of the local_mass statistic: attention on the query's last W keys, itself included")
      ->capture_default_str();
  capture_cmd->add_option("--topk", capture.request.topk, "k of the top-k mass statistic")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  capture_cmd->add_option("--block", capture.request.query_block, "Queries per block (0: bounded by memory)")
      ->check(CLI::NonNegativeNumber);

  StatsOptions stats;
  auto* stats_cmd =
      app.add_subcommand("stats", "Summarise the runs of a capture file; --csv writes the curves");
  stats_cmd->add_option("file", stats.file, "Capture file (.h5)")->required();
  stats_cmd->add_option("--csv", stats.csv, "Write max attention, entropy, ... against n as CSV");
  stats_cmd
      ->add_option("--theory", stats.theory_s,
                   "Add theory curves to the CSV (run theory_fig1: the paper's Figure 1 closed forms; "
                   "theory_gaussian: Monte Carlo, N(0,1) logits) for softmax and SSMax with this s")
      ->check(CLI::PositiveNumber)
      ->needs("--csv");
  stats_cmd->add_flag("--heads", stats.heads,
                      "Print every head's summary (the value the head grid and the compare table show)");
  stats_cmd->add_option("--bins-per-octave", stats.bins_per_octave, "Resolution of the n axis")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();

  TrainOptions train;
  attnscope::TrainParams& tp = train.params;
  auto* train_cmd = app.add_subcommand(
      "train",
      "Train a small byte-level Llama model (softmax or SSMax) on fortunes text with the needle task");
  train_cmd
      ->add_option("out_dir", train.out_dir, "Output model directory (checkpoint/ inside while training)")
      ->required();
  train_cmd->add_option("--normalizer,-n", tp.normalizer, "Attention normalizer trained with")
      ->check(CLI::IsMember({attnscope::kNormalizerSoftmax, attnscope::kNormalizerSsmax}))
      ->capture_default_str();
  train_cmd->add_flag("--ssmax-bias", tp.ssmax_bias, "SSMax: also learn the bias b in (s ln n + b) z");
  train_cmd->add_option("--steps", tp.n_steps, "Optimizer steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train_cmd->add_option("--batch", tp.batch_size, "Sequences per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train_cmd->add_option("--context", tp.n_ctx, "Training context in tokens (bytes)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20))
      ->capture_default_str();
  train_cmd->add_option("--lr", tp.lr, "Peak learning rate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train_cmd->add_option("--min-lr-ratio", tp.min_lr_ratio, "Final lr as a fraction of the peak")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  train_cmd->add_option("--warmup", tp.warmup_steps, "Linear warm-up steps")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  train_cmd->add_option("--weight-decay", tp.weight_decay, "AdamW weight decay (matrices only)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  train_cmd->add_option("--grad-clip", tp.grad_clip, "Gradient-norm bound (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  train_cmd->add_option("--seed", tp.seed, "Seed of the initial weights and the data order")
      ->capture_default_str();
  train_cmd->add_option("--needle-share", tp.needle_share, "Fraction of sequences with a needle")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  train_cmd->add_option("--answer-weight", tp.answer_weight, "Loss weight of the answer digits")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  train_cmd->add_option("--layers", tp.n_layer, "Layers")->check(CLI::PositiveNumber)->capture_default_str();
  train_cmd->add_option("--heads", tp.n_head, "Attention heads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train_cmd->add_option("--d-model", tp.d_model, "Model width")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train_cmd->add_option("--d-ff", tp.d_ff, "SwiGLU hidden width")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train_cmd->add_option("--rope-theta", tp.rope_theta, "RoPE base")
      ->check(CLI::Range(1.0001, 1e12))
      ->capture_default_str();
  train_cmd->add_option("--text-dir", tp.corpus.dir, "Directory of fortune files")->capture_default_str();
  train_cmd
      ->add_option("--checkpoint-every", tp.checkpoint_every, "Steps between checkpoints (0: on stop only)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  train_cmd->add_option("--log-every", train.log_every, "Steps between progress lines")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto valid = [](auto parse, const char* form) {
    return CLI::Validator(
        [parse](std::string& text) {
          try {
            parse(text);
            return std::string();
          } catch (const std::invalid_argument& e) {
            return std::string(e.what());
          }
        },
        form);
  };
  train_cmd
      ->add_option("--positions", train.positions,
                   "RoPE positions in training: rope (0..T-1) or pose:MAX (PoSE skips, so relative distances "
                   "up to MAX are seen)")
      ->check(valid(parsePositionsOption, "rope|pose:MAX"))
      ->capture_default_str();
  train_cmd->add_option("--nope-layers", tp.nope_layers, "Layers without position encoding (NoPE), e.g. 1,3")
      ->delimiter(',');
  train_cmd->add_option("--window-layers", tp.window_layers, "Layers with a sliding window of --window keys")
      ->delimiter(',');
  train_cmd->add_option("--window", tp.window, "Sliding window (keys) of --window-layers")
      ->check(CLI::NonNegativeNumber);
  train_cmd->add_flag("--qk-norm", tp.qk_norm, "RMSNorm per head on q and k (a qwen3 config)");
  train_cmd->add_option("--ssmax-layers", tp.ssmax_layers, "With ssmax: only these layers learn SSMax")
      ->delimiter(',');
  train_cmd->add_flag("--bf16", tp.bf16, "Matrix products in bfloat16 (weights and optimizer stay float32)");
  train_cmd
      ->add_option("--distractors", tp.distractors,
                   "Other cities' needles per 1,000 tokens of a needle sequence (as sweep --distractors)")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  train_cmd
      ->add_option(
          "--curriculum", train.curriculum,
          "START:END: no distractors before step START, then their rate ramps to --distractors at END")
      ->check(valid(parseCurriculumOption, "START:END"));
  train_cmd->add_flag("--resume", train.resume, "Continue from OUT_DIR/checkpoint (same arguments)");
  train_cmd->add_option(
      "--init-from", tp.init_from,
      "Start from this model's weights (same architecture), with a fresh optimizer and schedule; a "
      "directory or a cached model id Org/Name");

  EvalOptions eval;
  attnscope::EvalParams& ep = eval.params;
  auto* eval_cmd = app.add_subcommand(
      "eval",
      "Evaluate a model on held-out text: loss by position, needle retrieval against length and depth, "
      "needle score per head (a fixed sweep, printed as tables)");
  addModelDir(eval_cmd, eval.model_dir, "Model directory made by train");
  addDtype(eval_cmd, eval.dtype);
  eval_cmd->add_option("--normalizer,-n", ep.normalizer, attnscope::normalizerSyntax())
      ->capture_default_str();
  eval_cmd
      ->add_option("--rope-theta-scale", ep.rope_theta_scale, "Multiply rope_theta at evaluation (e.g. 50)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  addPromptGrid(eval_cmd, ep.lengths, ep.depths, ep.n_needle_prompts, ep.seed,
                "Needle prompt lengths in tokens; the loss runs to the largest (default: 1, 2, 4, 8, 16 x "
                "context)");
  eval_cmd->add_option("--loss-sequences", ep.n_loss_sequences, "Held-out sequences for the loss")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  eval_cmd->add_option("--text-dir", ep.corpus.dir, "Directory of fortune files")->capture_default_str();
  eval_cmd->add_option("--csv", eval.csv, "Write every number as CSV");

  SweepOptions sweep;
  attnscope::SweepRequest& sr = sweep.request;
  auto* sweep_cmd =
      app.add_subcommand("sweep",
                         "Run needle-in-a-haystack or long-document prompts over lengths x depths x prompts, "
                         "once per normalizer, "
                         "into a sweep file (one record per prompt, appended as each finishes)");
  addModelDir(sweep_cmd, sr.model_dir, "Hugging Face model directory");
  auto* sweep_mode = sweep_cmd->add_option_group("mode", "Exactly one of --needle, --documents");
  bool sweep_needle = false;
  sweep_mode->add_flag("--needle", sweep_needle,
                       "Needle retrieval by greedy generation, needle score per head");
  sweep_mode->add_flag("--documents", sweep.documents, "Held-out text cut at each length: loss by position");
  sweep_mode->require_option(1);
  addDtype(sweep_cmd, sweep.dtype);
  sweep_cmd->add_option("--normalizer,-n", sr.normalizers, "Normalizer (repeat: one record per prompt each)")
      ->required();
  addPromptGrid(sweep_cmd, sr.lengths, sr.depths, sr.prompts_per_cell, sr.seed,
                "Prompt lengths in tokens of the model's tokenizer (default: context x 1, 2, 4)");
  sweep_cmd->add_option("--distractors", sr.distractors, "Other cities' needles per 1,000 tokens")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  sweep_cmd->add_option("--haystack", sr.haystack,
                        "Text file or directory the prompts are cut from (default: held-out fortunes)");
  sweep_cmd->add_option("--rope-theta-scale", sr.rope_theta_scale, "Multiply rope_theta (e.g. 50)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sweep_cmd->add_option("--out,-o", sr.out, "Sweep file (.h5)")->required();
  sweep_cmd->add_option("--shard", sweep.shard, "Run shard K of N (0-based K/N) of the prompt grid");
  sweep_cmd->add_flag("--resume", sr.resume, "Continue an existing sweep file, skipping stored records");

  NeedleOptions needle;
  auto* needle_cmd = app.add_subcommand(
      "needle",
      "Write a needle-in-a-haystack prompt from held-out fortunes text; print the needle's token range");
  needle_cmd->add_option("out", needle.out, "Prompt file to write")->required();
  needle_cmd->add_option("--length", needle.length, "Prompt length in bytes")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  needle_cmd->add_option("--depth", needle.depth, "Needle depth in [0, 1]")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  needle_cmd->add_option("--seed", needle.seed, "Seed of the needle and the haystack offset")
      ->capture_default_str();
  needle_cmd->add_option("--text-dir", needle.text_dir, "Directory of fortune files")->capture_default_str();

  MergeOptions merge;
  auto* merge_cmd = app.add_subcommand(
      "merge",
      "Join the shard files of a sweep (sweep --shard K/N) into one sweep file; refuses shards of "
      "different sweeps and reports missing and duplicated cells");
  merge_cmd->add_option("out", merge.out, "Merged sweep file to create (.h5)")->required();
  merge_cmd->add_option("shards", merge.shards, "Shard files")->required()->check(CLI::ExistingFile);

  ExportCommandOptions exporting;
  auto* export_cmd = app.add_subcommand(
      "export",
      "Write a figure of a capture without a display: runs `attnscope --export ARGS` (the GUI binary "
      "beside this one), e.g. export FILE.h5 --figure heads --out heads.png; see attnscope --help");
  // Unknown options stay with export (no fallthrough to the top level), and from the first positional
  // argument (the capture file) on everything goes to attnscope unparsed.
  export_cmd->fallthrough(false)->prefix_command();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    attnscope::setComputeThreads(threads);
    // Only the chosen subcommand's model directory is set; a cached model id becomes its snapshot directory.
    for (std::string* model_dir :
         {&info.model_dir, &run.model_dir, &tokenize.model_dir, &capture.request.model_dir, &eval.model_dir,
          &train.params.init_from, &sweep.request.model_dir})
      if (!model_dir->empty()) *model_dir = attnscope::resolveModelPath(*model_dir, revision);
    if (*info_cmd) return runInfo(info);
    if (*run_cmd) return runForward(run);
    if (*capture_cmd) return runCapture(capture);
    if (*tokenize_cmd) return runTokenize(tokenize);
    if (*stats_cmd) return runStats(stats);
    if (*train_cmd) return runTrain(train);
    if (*eval_cmd) return runEval(eval);
    if (*needle_cmd) return runNeedle(needle);
    if (*sweep_cmd) return runSweep(sweep);
    if (*merge_cmd) return runMerge(merge);
    if (*export_cmd) {
      exporting.args = export_cmd->remaining();
      if (exporting.args.empty()) {
        std::fprintf(
            stderr, "attnscope-cli: export needs a capture file and --figure/--out (see attnscope --help)\n");
        return 2;
      }
      return runExport(exporting);
    }
  } catch (const c10::Error& e) {  // its what() carries a backtrace: print the first line only
    std::fprintf(stderr, "attnscope-cli: error: %s\n", attnscope::torchErrorLine(e).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnscope-cli: error: %s\n", e.what());
    return 1;
  }
  return 2;
}
