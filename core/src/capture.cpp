#include "attnscope/capture.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include <torch/torch.h>

#include "attnscope/model.h"
#include "attnscope/safetensors.h"
#include "attnscope/text_input.h"
#include "row_stats.h"

namespace attnscope {
namespace {

/// Thrown from a hook to stop a forward pass the user cancelled.
struct Cancelled {};

int64_t parseIndex(const std::string& text, int64_t limit, const char* what, const std::string& spec) {
  std::size_t used = 0;
  int64_t value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 0 || value >= limit)
    throw std::invalid_argument("--maps '" + spec + "': " + what + " '" + text + "' is not in 0.." +
                                std::to_string(limit - 1));
  return value;
}

/// Streams one run's hook blocks into per-head statistics and map blocks.
class RunRecorder {
 public:
  RunRecorder(Model& model, RunWriter& writer, const CaptureParams& params)
      : m_model(model), m_writer(writer), m_params(params) {}

  /// Keeps the block's softmax input for onPattern, which fires next for the same block.
  void onLogits(const HookEvent& e) { m_logits = e.tensor; }

  void onPattern(const HookEvent& e) {
    auto p = e.tensor[0].contiguous();  // [H, nq, nk]
    if (!m_logits.defined() || m_logits.sizes() != e.tensor.sizes())
      throw std::logic_error("capture: hook_logits did not precede hook_pattern for the same block");
    auto y = m_logits[0].contiguous();
    const int64_t H = p.size(0), nq = e.q1 - e.q0, nk = e.k1 - e.k0;
    auto stats = torch::empty({6, H, nq}, torch::kFloat32);
    RowStatsOutput out;
    float* base = stats.data_ptr<float>();
    out.max_prob = base;
    out.argmax = base + H * nq;
    out.entropy = base + 2 * H * nq;
    out.sink_mass = base + 3 * H * nq;
    out.topk_mass = base + 4 * H * nq;
    if (!m_params.targets.empty()) out.target_mass = base + 5 * H * nq;
    RowStatsParams params;
    params.k0 = e.k0;
    params.topk = m_params.topk;
    params.targets = &m_params.targets;
    computeRowStats(p.data_ptr<float>(), y.data_ptr<float>(), H * nq, nk, params, out);
    m_logits.reset();
    const char* names[] = {"max_prob", "argmax", "entropy", "sink_mass", "topk_mass", "target_mass"};
    for (int i = 0; i < (out.target_mass ? 6 : 5); ++i) write(names[i], e, stats[i]);
    // n = position + 1, capped by the sliding window (visibleKeys, vectorised).
    auto n_keys = torch::arange(e.q0 + 1, e.q1 + 1, torch::kFloat32);
    if (const int64_t window = m_model.config().windowOf(e.layer); window > 0) n_keys.clamp_max_(window);
    write("n_keys", e, n_keys.expand({H, nq}));
    writeMaps(e);
  }

  void onMultiplier(const HookEvent& e) { write("multiplier", e, e.tensor); }

  void writeMaps(const HookEvent& e) {
    for (const MapRequest& request : m_params.maps) {
      if (request.layer != e.layer || request.hook != e.name) continue;
      for (int64_t head : request.heads) {
        auto block = e.tensor[0][head].contiguous();  // [nq, nk]
        m_writer.writeMapBlock(request.hook, head, e.q0, e.q1, e.k0, e.k1, block.data_ptr<float>());
      }
    }
  }

 private:
  void write(const char* stat, const HookEvent& e, const torch::Tensor& values) {
    auto data = values.to(torch::kFloat32).contiguous();
    m_writer.writeStat(stat, e.layer, e.q0, e.q1, data.data_ptr<float>());
  }

  Model& m_model;
  RunWriter& m_writer;
  const CaptureParams& m_params;
  torch::Tensor m_logits;  // [B, H, nq, nk] of the block being recorded
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
  for (std::string item : splitList(spec)) {
    std::string kind = "hook_pattern";
    if (item.rfind("scores:", 0) == 0) {
      kind = "hook_scores";
      item = item.substr(7);
    }
    std::string layer_text = item, head_text = "*";
    if (item != "all") {
      std::size_t dot = item.find('.');
      if (dot == std::string::npos)
        throw std::invalid_argument("--maps '" + spec + "': item '" + item +
                                    "' is not LAYER.HEAD (e.g. 3.5, 7.*)");
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
  for (const std::string& item : splitList(spec)) {
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
      throw std::invalid_argument("--targets: '" + item + "' is not a token range BEGIN:END within 0.." +
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

int64_t captureRuns(Model& model, const std::vector<int64_t>& ids, CaptureFile& file,
                    const CaptureParams& params) {
  const ModelConfig& c = model.config();
  const int64_t T = static_cast<int64_t>(ids.size());
  if (!params.run_names.empty() && params.run_names.size() != params.normalizers.size())
    throw std::invalid_argument("capture: give one run name per normalizer");
  // Parse and validate every normalizer before the first run writes anything.
  std::vector<NormalizerSpec> specs;
  for (const std::string& text : params.normalizers) {
    specs.push_back(parseNormalizer(text));
    validateNormalizer(specs.back(), c);
  }
  auto input = torch::tensor(ids, torch::kInt64).view({1, T});
  const int64_t saved_block = model.attentionOptions().query_block;
  if (params.query_block > 0) model.attentionOptions().query_block = params.query_block;

  int64_t completed = 0;
  for (std::size_t r = 0; r < specs.size(); ++r) {
    RunSpec spec;
    spec.normalizer = specs[r].text();
    spec.compute_dtype = computeDtypeName(model.computeDtype());
    spec.name = params.run_names.empty() ? runNameFor(spec.normalizer) : params.run_names[r];
    spec.n_layer = c.n_layer;
    spec.n_head = c.n_head;
    spec.n_tokens = T;
    spec.stats = captureStatNames(!params.targets.empty());
    spec.maps = params.maps;
    spec.topk = params.topk;
    spec.targets = params.targets;
    spec.model = params.run_model;
    RunWriter writer = file.beginRun(spec);

    model.setNormalizer(specs[r]);
    RunRecorder recorder(model, writer, params);
    HookRegistry& hooks = model.hooks();
    std::vector<HookRegistry::Id> ids_added = {
        hooks.add("blocks.*.attn.hook_logits", [&](const HookEvent& e) { recorder.onLogits(e); }),
        hooks.add("blocks.*.attn.hook_pattern", [&](const HookEvent& e) { recorder.onPattern(e); }),
        hooks.add("blocks.*.attn.hook_multiplier", [&](const HookEvent& e) { recorder.onMultiplier(e); }),
        hooks.add("blocks.*.hook_resid_post",
                  [&](const HookEvent& e) {
                    if (params.progress && !params.progress(static_cast<int64_t>(r), e.layer, c.n_layer))
                      throw Cancelled{};
                  }),
    };
    bool has_score_maps = std::any_of(params.maps.begin(), params.maps.end(), [](const MapRequest& m) {
      return m.hook.find("hook_scores") != std::string::npos;
    });
    if (has_score_maps)
      ids_added.push_back(
          hooks.add("blocks.*.attn.hook_scores", [&](const HookEvent& e) { recorder.writeMaps(e); }));

    bool cancelled = false;
    try {
      torch::NoGradGuard no_grad;
      model.forward(input, LogitPositions::none());
    } catch (const Cancelled&) {
      cancelled = true;
    } catch (...) {
      for (auto id : ids_added) hooks.remove(id);
      model.attentionOptions().query_block = saved_block;
      throw;
    }
    for (auto id : ids_added) hooks.remove(id);
    if (cancelled) {
      writer.flush();  // keep what was written; the run stays marked incomplete
      break;
    }
    writer.finish();
    ++completed;
  }
  model.attentionOptions().query_block = saved_block;
  return completed;
}

}  // namespace attnscope
