#include "attnscope/capture.h"

#include <algorithm>
#include <stdexcept>

#include <torch/torch.h>

#include "attnscope/hook_names.h"
#include "attnscope/model.h"
#include "attnscope/safetensors.h"
#include "attnscope/statistics.h"
#include "row_stats.h"

namespace attnscope {
namespace {

/// Thrown from a hook to stop a forward pass the user cancelled.
struct Cancelled {};

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
      throw std::logic_error("capture: " + e.name + " fired without " +
                             formatHookName(e.layer, BlockHook::Logits) + " before it for the same block");
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
    const char* names[] = {kStatMaxProb,  kStatArgmax,   kStatEntropy,
                           kStatSinkMass, kStatTopkMass, kStatTargetMass};
    for (int i = 0; i < (out.target_mass ? 6 : 5); ++i) write(names[i], e, stats[i]);
    // n = position + 1, capped by the sliding window (visibleKeys, vectorised).
    auto n_keys = torch::arange(e.q0 + 1, e.q1 + 1, torch::kFloat32);
    if (const int64_t window = m_model.config().windowOf(e.layer); window > 0) n_keys.clamp_max_(window);
    write(kStatNKeys, e, n_keys.expand({H, nq}));
    writeMaps(e);
  }

  void onMultiplier(const HookEvent& e) { write(kStatMultiplier, e, e.tensor); }

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
    spec.stats = capturedStatistics(!params.targets.empty());
    spec.maps = params.maps;
    spec.topk = params.topk;
    spec.targets = params.targets;
    spec.model = params.run_model;
    RunWriter writer = file.beginRun(spec);

    model.setNormalizer(specs[r]);
    RunRecorder recorder(model, writer, params);
    HookRegistry& hooks = model.hooks();
    std::vector<HookRegistry::Id> ids_added = {
        hooks.add(hookPatternAllLayers(BlockHook::Logits), [&](const HookEvent& e) { recorder.onLogits(e); }),
        hooks.add(hookPatternAllLayers(BlockHook::Pattern),
                  [&](const HookEvent& e) { recorder.onPattern(e); }),
        hooks.add(hookPatternAllLayers(BlockHook::Multiplier),
                  [&](const HookEvent& e) { recorder.onMultiplier(e); }),
        hooks.add(hookPatternAllLayers(BlockHook::ResidPost),
                  [&](const HookEvent& e) {
                    if (params.progress && !params.progress(static_cast<int64_t>(r), e.layer, c.n_layer))
                      throw Cancelled{};
                  }),
    };
    bool has_score_maps = std::any_of(params.maps.begin(), params.maps.end(),
                                      [](const MapRequest& m) { return isScoresHook(m.hook); });
    if (has_score_maps)
      ids_added.push_back(hooks.add(hookPatternAllLayers(BlockHook::Scores),
                                    [&](const HookEvent& e) { recorder.writeMaps(e); }));

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
