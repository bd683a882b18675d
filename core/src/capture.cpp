#include "attnscope/capture.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include <torch/torch.h>

#include "attnscope/hook_names.h"
#include "attnscope/model.h"
#include "attnscope/safetensors.h"
#include "attnscope/statistics.h"
#include "block_stats.h"
#include "row_stats.h"

namespace attnscope {
namespace {

/// One run as the file will record it, with its parsed normalizer.
struct PlannedRun {
  NormalizerSpec normalizer;
  RunSpec record;
};

/// Parses and checks every run of a request before anything is written.
std::vector<PlannedRun> planRuns(const CaptureRequest& request, const ModelConfig& c, int64_t n_tokens) {
  if (request.normalizers.empty())
    throw CaptureRequestError(CaptureField::Normalizers, "must hold at least one normalizer spec");
  if (!request.run_names.empty() && request.run_names.size() != request.normalizers.size())
    throw CaptureRequestError(CaptureField::RunNames, "has " + std::to_string(request.run_names.size()) +
                                                          " name(s) for " +
                                                          std::to_string(request.normalizers.size()) +
                                                          " normalizer(s): give one per normalizer");
  if (request.topk < 1)
    throw CaptureRequestError(CaptureField::Topk,
                              "must be at least 1 (is " + std::to_string(request.topk) + ")");
  if (request.local_window < 1 || request.local_window > kMaxCaptureTokens)
    throw CaptureRequestError(CaptureField::LocalWindow, "must be in 1.." +
                                                             std::to_string(kMaxCaptureTokens) + " (is " +
                                                             std::to_string(request.local_window) + ")");
  if (request.query_block < 0)
    throw CaptureRequestError(CaptureField::QueryBlock,
                              "must not be negative (is " + std::to_string(request.query_block) + ")");
  std::vector<MapRequest> maps;
  std::vector<std::pair<int64_t, int64_t>> targets;
  try {
    maps = parseMapSpec(request.maps, c.n_layer, c.n_head);
  } catch (const std::invalid_argument& e) {
    throw CaptureRequestError(CaptureField::Maps, e.what());
  }
  try {
    targets = parseTargetRanges(request.targets, n_tokens);
  } catch (const std::invalid_argument& e) {
    throw CaptureRequestError(CaptureField::Targets, e.what());
  }
  std::vector<PlannedRun> runs;
  std::set<std::string> names;
  for (std::size_t r = 0; r < request.normalizers.size(); ++r) {
    PlannedRun run;
    run.normalizer = parseNormalizer(request.normalizers[r]);
    validateNormalizer(run.normalizer, c);
    RunSpec& spec = run.record;
    spec.normalizer = run.normalizer.text();
    // Default names are short (numbers to 3 digits; the exact spec is the run's normalizer attribute), unless
    // rounding would give two runs one name.
    spec.name = !request.run_names.empty()                        ? request.run_names[r]
                : names.count(runNameFor(run.normalizer.label())) ? runNameFor(spec.normalizer)
                                                                  : runNameFor(run.normalizer.label());
    if (!names.insert(spec.name).second)
      throw CaptureRequestError(
          request.run_names.empty() ? CaptureField::Normalizers : CaptureField::RunNames,
          "would make two runs named '" + spec.name + "' (run names must differ)");
    spec.n_layer = c.n_layer;
    spec.n_head = c.n_head;
    spec.n_tokens = n_tokens;
    spec.stats = capturedStatistics(!targets.empty());
    spec.maps = maps;
    spec.topk = request.topk;
    spec.local_window = request.local_window;
    spec.targets = targets;
    runs.push_back(std::move(run));
  }
  return runs;
}

/// Streams one run's attention blocks into per-head statistics and map blocks.
class RunRecorder {
 public:
  RunRecorder(const ModelConfig& config, RunWriter& writer, const RunSpec& spec,
              const std::vector<int64_t>& induction_keys)
      : m_config(config), m_writer(writer), m_spec(spec), m_induction_keys(induction_keys) {
    for (int64_t l = 0; l < config.n_layer; ++l) m_names.emplace_back(l);
  }

  /// Records one query block: every stage arrives together, so nothing depends on the order hooks fire in.
  void onBlock(const AttentionBlock& b) {
    write(kStatMultiplier, b, b.multiplier);
    const int64_t H = b.pattern.size(1);
    const bool with_targets = !m_spec.targets.empty();
    BlockStatsOptions options;
    options.topk = m_spec.topk;
    options.targets = with_targets ? &m_spec.targets : nullptr;
    options.local_window = m_spec.local_window;
    options.induction_keys = &m_induction_keys;
    auto stats = blockRowStats(m_config, b, options);  // [S, H, nq]
    const std::vector<const char*> names = blockRowStatNames(with_targets);
    for (std::size_t i = 0; i < names.size(); ++i) write(names[i], b, stats[static_cast<int64_t>(i)]);
    write(kStatNKeys, b, blockKeyCounts(m_config, b).expand({H, b.q1 - b.q0}));
    for (const MapRequest& request : m_spec.maps) {
      if (request.layer != b.layer) continue;
      const BlockHookNames& hook = m_names[b.layer];
      const at::Tensor* map = request.hook == hook.pattern  ? &b.pattern
                              : request.hook == hook.scores ? &b.scores
                                                            : nullptr;
      if (!map) continue;
      for (int64_t head : request.heads) {
        auto block = (*map)[0][head].contiguous();  // [nq, nk]
        m_writer.writeMapBlock(request.hook, head, b.q0, b.q1, b.k0, b.k1, block.data_ptr<float>());
      }
    }
  }

  /// Returns whether any stored map holds pre-normalizer scores.
  bool needsScores() const {
    return std::any_of(m_spec.maps.begin(), m_spec.maps.end(),
                       [&](const MapRequest& m) { return m.hook == m_names[m.layer].scores; });
  }

 private:
  void write(const char* stat, const AttentionBlock& b, const torch::Tensor& values) {
    auto data = values.to(torch::kFloat32).contiguous();
    m_writer.writeStat(stat, b.layer, b.q0, b.q1, data.data_ptr<float>());
  }

  const ModelConfig& m_config;
  RunWriter& m_writer;
  const RunSpec& m_spec;
  const std::vector<int64_t>& m_induction_keys;  // [T] inductionKeys of the prompt
  std::vector<BlockHookNames> m_names;           // hook names of the maps' layers
};

}  // namespace

std::vector<const char*> blockRowStatNames(bool with_targets) {
  std::vector<const char*> names = {kStatMaxProb, kStatArgmax, kStatEntropy, kStatSinkMass, kStatTopkMass};
  if (with_targets) names.push_back(kStatTargetMass);
  for (const char* name : {kStatPrevTokenMass, kStatInductionMass, kStatLocalMass, kStatMeanDistance})
    names.push_back(name);
  return names;
}

at::Tensor blockRowStats(const ModelConfig& config, const AttentionBlock& b,
                         const BlockStatsOptions& options) {
  const int64_t nq = b.q1 - b.q0, nk = b.k1 - b.k0;
  auto p = b.pattern[0].contiguous();  // [H, nq, nk]
  auto y = b.logits[0].contiguous();   // [H, nq, nk]
  const int64_t H = p.size(0);
  const bool with_targets = options.targets && !options.targets->empty();
  const std::vector<const char*> names = blockRowStatNames(with_targets);
  auto stats = torch::empty({static_cast<int64_t>(names.size()), H, nq}, torch::kFloat32);  // [stat, H, nq]
  // Each statistic's [H, nq] rows, in blockRowStatNames order.
  RowStatsOutput out;
  const std::vector<std::pair<const char*, float**>> slots = {{kStatMaxProb, &out.max_prob},
                                                              {kStatArgmax, &out.argmax},
                                                              {kStatEntropy, &out.entropy},
                                                              {kStatSinkMass, &out.sink_mass},
                                                              {kStatTopkMass, &out.topk_mass},
                                                              {kStatTargetMass, &out.target_mass},
                                                              {kStatPrevTokenMass, &out.prev_token_mass},
                                                              {kStatInductionMass, &out.induction_mass},
                                                              {kStatLocalMass, &out.local_mass},
                                                              {kStatMeanDistance, &out.mean_distance}};
  for (std::size_t i = 0; i < names.size(); ++i)
    for (const auto& [name, slot] : slots)
      if (std::string_view(name) == names[i]) *slot = stats[static_cast<int64_t>(i)].data_ptr<float>();
  RowStatsParams params;
  params.k0 = b.k0;
  params.topk = options.topk;
  params.targets = options.targets;
  params.q0 = b.q0;
  params.n_queries = nq;
  params.window = config.windowOf(b.layer);
  params.local_window = options.local_window;
  params.induction_keys = options.induction_keys;
  computeRowStats(p.data_ptr<float>(), y.data_ptr<float>(), H * nq, nk, params, out);
  return stats;
}

at::Tensor blockKeyCounts(const ModelConfig& config, const AttentionBlock& b) {
  // n = position + 1, capped by the sliding window (visibleKeys, vectorised).
  auto n_keys = torch::arange(b.q0 + 1, b.q1 + 1, torch::kFloat32);
  if (const int64_t window = config.windowOf(b.layer); window > 0) n_keys.clamp_max_(window);
  return n_keys;
}

CaptureModel describeCheckpoint(const Model& model, const std::string& model_dir) {
  return {model.config().json, model_dir, hashFiles(Checkpoint::open(model_dir).files())};
}

std::string runNameFor(const std::string& normalizer) {
  std::string name = normalizer;
  std::replace(name.begin(), name.end(), '/', '|');  // '/' separates HDF5 path components
  return name;
}

std::vector<RunSpec> planCaptureRuns(const CaptureRequest& request, const ModelConfig& config,
                                     int64_t n_tokens) {
  std::vector<RunSpec> records;
  for (PlannedRun& run : planRuns(request, config, n_tokens)) records.push_back(std::move(run.record));
  return records;
}

int64_t captureRuns(Model& model, const std::vector<int64_t>& ids, const CaptureModel& weights,
                    CaptureFile& file, const CaptureRequest& request, const CaptureProgressCallback& progress,
                    const CancelPredicate& cancel) {
  const ModelConfig& c = model.config();
  const int64_t T = static_cast<int64_t>(ids.size());
  std::vector<PlannedRun> runs = planRuns(request, c, T);
  const bool other_weights = file.model().weights_hash != weights.weights_hash;
  auto input = torch::tensor(ids, torch::kInt64).view({1, T});
  const std::vector<int64_t> induction_keys = inductionKeys(ids);
  ForwardOptions pass;  // no logits: a capture reads attention only
  pass.query_block = request.query_block;

  int64_t completed = 0;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    RunSpec& spec = runs[r].record;
    spec.compute_dtype = computeDtypeName(model.computeDtype());
    if (other_weights) spec.model = weights;
    RunWriter writer = file.beginRun(spec);
    RunRecorder recorder(c, writer, spec, induction_keys);
    CaptureProgress step;
    step.loading = false;
    step.run = static_cast<int64_t>(r);
    step.n_run = static_cast<int64_t>(runs.size());
    step.n_layer = c.n_layer;
    step.normalizer = request.normalizers[r];
    // The hooks live for this run's pass only.
    HookRegistry& hooks = model.hooks();
    // Cancel is asked after every query block, not only after each layer: a layer of a long prompt takes
    // seconds, a block a fraction of one.
    HookHandle observer =
        hooks.observeAttention(attentionPatternAllLayers(),
                               [&](const AttentionBlock& b) {
                                 recorder.onBlock(b);
                                 return cancel && cancel() ? HookResult::Stop : HookResult::Continue;
                               },
                               {recorder.needsScores()});
    HookHandle layers = hooks.add(hookPatternAllLayers(BlockHook::ResidPost), [&](const HookEvent& e) {
      step.layer = e.layer + 1;
      if (progress) progress(step);
      return cancel && cancel() ? HookResult::Stop : HookResult::Continue;
    });
    pass.normalizer = runs[r].normalizer;
    torch::NoGradGuard no_grad;
    if (model.forward(input, pass).stopped) {
      writer.flush();  // keep what was written; the run stays marked incomplete
      break;
    }
    writer.finish();
    ++completed;
  }
  return completed;
}

}  // namespace attnscope
