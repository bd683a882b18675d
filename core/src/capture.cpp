#include "attnscope/capture.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include <torch/torch.h>

#include "attnscope/model.h"
#include "attnscope/safetensors.h"
#include "row_stats.h"

namespace attnscope {
namespace {

int64_t parseIndex(const std::string& text, int64_t limit, const char* what, const std::string& spec) {
  std::size_t used = 0;
  int64_t value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 0 || value >= limit)
    throw std::invalid_argument("'" + spec + "': " + what + " '" + text + "' is not in 0.." +
                                std::to_string(limit - 1));
  return value;
}

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
    spec.name = request.run_names.empty() ? runNameFor(spec.normalizer) : request.run_names[r];
    if (!names.insert(spec.name).second)
      throw CaptureRequestError(
          request.run_names.empty() ? CaptureField::Normalizers : CaptureField::RunNames,
          "would make two runs named '" + spec.name + "' (run names must differ)");
    spec.n_layer = c.n_layer;
    spec.n_head = c.n_head;
    spec.n_tokens = n_tokens;
    spec.stats = captureStatNames(!targets.empty());
    spec.maps = maps;
    spec.topk = request.topk;
    spec.targets = targets;
    runs.push_back(std::move(run));
  }
  return runs;
}

/// Streams one run's attention blocks into per-head statistics and map blocks.
class RunRecorder {
 public:
  RunRecorder(const ModelConfig& config, RunWriter& writer, const RunSpec& spec)
      : m_config(config), m_writer(writer), m_spec(spec) {
    for (int64_t l = 0; l < config.n_layer; ++l) m_names.emplace_back(l);
  }

  /// Records one query block: every stage arrives together, so nothing depends on the order hooks fire in.
  void onBlock(const AttentionBlock& b) {
    const int64_t nq = b.q1 - b.q0, nk = b.k1 - b.k0;
    write("multiplier", b, b.multiplier);
    auto p = b.pattern[0].contiguous();  // [H, nq, nk]
    auto y = b.logits[0].contiguous();   // [H, nq, nk]
    const int64_t H = p.size(0);
    auto stats = torch::empty({6, H, nq}, torch::kFloat32);
    RowStatsOutput out;
    float* base = stats.data_ptr<float>();
    out.max_prob = base;
    out.argmax = base + H * nq;
    out.entropy = base + 2 * H * nq;
    out.sink_mass = base + 3 * H * nq;
    out.topk_mass = base + 4 * H * nq;
    if (!m_spec.targets.empty()) out.target_mass = base + 5 * H * nq;
    RowStatsParams params;
    params.k0 = b.k0;
    params.topk = m_spec.topk;
    params.targets = &m_spec.targets;
    computeRowStats(p.data_ptr<float>(), y.data_ptr<float>(), H * nq, nk, params, out);
    const char* names[] = {"max_prob", "argmax", "entropy", "sink_mass", "topk_mass", "target_mass"};
    for (int i = 0; i < (out.target_mass ? 6 : 5); ++i) write(names[i], b, stats[i]);
    // n = position + 1, capped by the sliding window (visibleKeys, vectorised).
    auto n_keys = torch::arange(b.q0 + 1, b.q1 + 1, torch::kFloat32);
    if (const int64_t window = m_config.windowOf(b.layer); window > 0) n_keys.clamp_max_(window);
    write("n_keys", b, n_keys.expand({H, nq}));
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
  std::vector<BlockHookNames> m_names;  // hook names of the maps' layers
};

}  // namespace

std::vector<std::string> captureStatNames(bool with_targets) {
  std::vector<std::string> names = {"max_prob", "argmax", "entropy", "sink_mass", "topk_mass"};
  if (with_targets) names.push_back("target_mass");
  names.push_back("multiplier");
  names.push_back("n_keys");
  return names;
}

std::vector<MapRequest> parseMapSpec(const std::string& spec, int64_t n_layer, int64_t n_head) {
  std::vector<MapRequest> maps;
  if (spec.empty() || spec == "none") return maps;
  std::vector<int64_t> all_heads(n_head);
  for (int64_t h = 0; h < n_head; ++h) all_heads[h] = h;
  std::map<std::pair<std::string, int64_t>, std::set<int64_t>> wanted;
  std::size_t start = 0;
  while (start <= spec.size()) {
    std::size_t end = spec.find(',', start);
    std::string item = spec.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? spec.size() + 1 : end + 1;
    std::string kind = "hook_pattern";
    if (item.rfind("scores:", 0) == 0) {
      kind = "hook_scores";
      item = item.substr(7);
    }
    std::string layer_text = item, head_text = "*";
    if (item != "all") {
      std::size_t dot = item.find('.');
      if (dot == std::string::npos)
        throw std::invalid_argument("'" + spec + "': item '" + item + "' is not LAYER.HEAD (e.g. 3.5, 7.*)");
      layer_text = item.substr(0, dot);
      head_text = item.substr(dot + 1);
    } else {
      layer_text = "*";
    }
    std::vector<int64_t> layers;
    if (layer_text == "*") {
      for (int64_t l = 0; l < n_layer; ++l) layers.push_back(l);
    } else {
      layers.push_back(parseIndex(layer_text, n_layer, "layer", spec));
    }
    for (int64_t l : layers) {
      auto& heads = wanted[{"blocks." + std::to_string(l) + ".attn." + kind, l}];
      if (head_text == "*") {
        heads.insert(all_heads.begin(), all_heads.end());
      } else {
        heads.insert(parseIndex(head_text, n_head, "head", spec));
      }
    }
  }
  for (const auto& [key, heads] : wanted)
    maps.push_back({key.first, key.second, {heads.begin(), heads.end()}});
  return maps;
}

std::vector<std::pair<int64_t, int64_t>> parseTargetRanges(const std::string& spec, int64_t n_tokens) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::size_t start = 0;
  while (start < spec.size()) {
    std::size_t end = spec.find(',', start);
    std::string item = spec.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? spec.size() : end + 1;
    std::size_t colon = item.find(':');
    int64_t begin = -1, stop = -1;
    try {
      std::size_t used = 0;
      begin = std::stoll(item.substr(0, colon), &used);
      if (used != std::min(colon, item.size())) begin = -1;
      stop = colon == std::string::npos ? begin + 1 : std::stoll(item.substr(colon + 1), &used);
      if (colon != std::string::npos && used != item.size() - colon - 1) stop = -1;
    } catch (const std::exception&) {
      begin = -1;
    }
    if (begin < 0 || stop <= begin || stop > n_tokens)
      throw std::invalid_argument("'" + item + "' is not a token range BEGIN:END within 0.." +
                                  std::to_string(n_tokens));
    ranges.emplace_back(begin, stop);
  }
  return ranges;
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
  ForwardOptions pass;  // no logits: a capture reads attention only
  pass.query_block = request.query_block;

  int64_t completed = 0;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    RunSpec& spec = runs[r].record;
    spec.compute_dtype = computeDtypeName(model.computeDtype());
    if (other_weights) spec.model = weights;
    RunWriter writer = file.beginRun(spec);
    RunRecorder recorder(c, writer, spec);
    CaptureProgress step;
    step.loading = false;
    step.run = static_cast<int64_t>(r);
    step.n_run = static_cast<int64_t>(runs.size());
    step.n_layer = c.n_layer;
    step.normalizer = request.normalizers[r];
    // The hooks live for this run's pass only.
    HookRegistry& hooks = model.hooks();
    HookHandle observer = hooks.observeAttention("blocks.*.attn",
                                                 [&](const AttentionBlock& b) {
                                                   recorder.onBlock(b);
                                                   return HookResult::Continue;
                                                 },
                                                 {recorder.needsScores()});
    HookHandle layers = hooks.add("blocks.*.hook_resid_post", [&](const HookEvent& e) {
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
