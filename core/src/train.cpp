#include "attnscope/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "attnscope/model.h"
#include "attnscope/runtime.h"
#include "attnscope/safetensors.h"
#include "attnscope/text_input.h"
#include "json_parse.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kPi = 3.14159265358979323846;

/// Turns CPU autocast to bfloat16 on for its lifetime when asked (and off again, clearing autocast's cache).
class AutocastScope {
 public:
  explicit AutocastScope(bool on) : m_on(on) {
    if (!m_on) return;
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~AutocastScope() {
    if (!m_on) return;
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool m_on;
};

/// Returns every param that changes the trained weights (checkpoint_every does not).
json paramsJson(const TrainParams& p) {
  json j = {{"n_layer", p.n_layer},
            {"n_head", p.n_head},
            {"d_model", p.d_model},
            {"d_ff", p.d_ff},
            {"n_ctx", p.n_ctx},
            {"rope_theta", p.rope_theta},
            {"normalizer", p.normalizer},
            {"ssmax_bias", p.ssmax_bias},
            {"n_steps", p.n_steps},
            {"batch_size", p.batch_size},
            {"lr", p.lr},
            {"min_lr_ratio", p.min_lr_ratio},
            {"warmup_steps", p.warmup_steps},
            {"weight_decay", p.weight_decay},
            {"beta1", p.beta1},
            {"beta2", p.beta2},
            {"grad_clip", p.grad_clip},
            {"seed", p.seed},
            {"corpus_dir", p.corpus.dir},
            {"held_out", p.corpus.held_out},
            {"needle_share", p.needle_share},
            {"answer_weight", p.answer_weight}};
  // Options added later are recorded only when used, so earlier runs' records (and resumes) stay as they
  // were.
  if (p.pose_max > 0) j["pose_max"] = p.pose_max;
  if (!p.nope_layers.empty()) j["nope_layers"] = p.nope_layers;
  if (!p.window_layers.empty()) j["window_layers"] = p.window_layers, j["window"] = p.window;
  if (p.qk_norm) j["qk_norm"] = true;
  if (!p.ssmax_layers.empty()) j["ssmax_layers"] = p.ssmax_layers;
  if (p.bf16) j["bf16"] = true;
  if (p.distractors > 0) j["distractors"] = p.distractors;
  if (p.curriculum_end > 0) j["curriculum"] = {p.curriculum_start, p.curriculum_end};
  if (!p.init_from.empty()) {
    // Continued training records where it started and how that model was trained.
    j["init_from"] = p.init_from;
    json earlier;
    try {
      earlier = parseJson(readFile(p.init_from + "/config.json"), p.init_from + "/config.json");
    } catch (const JsonError&) {
      // Only a record of where training started; loading the weights reports a broken config.
    }
    if (earlier.is_object() && earlier.contains("attnscope_training"))
      j["init_from_training"] = earlier["attnscope_training"];
  }
  return j;
}

void validate(const TrainParams& p) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("train: " + what); };
  if (p.normalizer != kNormalizerSoftmax && p.normalizer != kNormalizerSsmax)
    fail("normalizer '" + p.normalizer + "' is not softmax or ssmax");
  if (p.ssmax_bias && p.normalizer != kNormalizerSsmax) fail("the SSMax bias needs normalizer ssmax");
  if (p.n_layer < 1 || p.n_head < 1 || p.d_model < 1 || p.d_ff < 1) fail("model sizes must be positive");
  if (p.d_model % p.n_head != 0 || (p.d_model / p.n_head) % 2 != 0)
    fail("d_model must be n_head times an even head size");
  if (p.n_ctx < 2) fail("context must be at least 2 tokens");
  if (p.n_steps < 1 || p.batch_size < 1) fail("steps and batch size must be positive");
  if (!(p.lr > 0) || !(p.min_lr_ratio >= 0 && p.min_lr_ratio <= 1))
    fail("lr must be > 0, min_lr_ratio in [0, 1]");
  if (p.warmup_steps < 0 || p.weight_decay < 0 || p.grad_clip < 0)
    fail("warm-up, decay and clip must be >= 0");
  if (!(p.needle_share >= 0 && p.needle_share <= 1)) fail("needle share must be in [0, 1]");
  if (!(p.answer_weight >= 0)) fail("answer weight must be >= 0");
  auto check_layers = [&](const std::vector<int64_t>& layers, const std::string& what) {
    std::vector<bool> seen(static_cast<std::size_t>(p.n_layer), false);
    for (int64_t l : layers) {
      if (l < 0 || l >= p.n_layer)
        fail(what + " layer " + std::to_string(l) + " is not a layer (0.." + std::to_string(p.n_layer - 1) +
             ")");
      if (seen[static_cast<std::size_t>(l)]) fail(what + " layer " + std::to_string(l) + " is given twice");
      seen[static_cast<std::size_t>(l)] = true;
    }
  };
  check_layers(p.nope_layers, "NoPE");
  check_layers(p.window_layers, "window");
  check_layers(p.ssmax_layers, "SSMax");
  if (!p.window_layers.empty() && p.window < 1) fail("window layers need a window of at least 1 key");
  if (p.window_layers.empty() && p.window != 0) fail("a window needs window layers");
  if (!p.ssmax_layers.empty() && p.normalizer != kNormalizerSsmax) fail("SSMax layers need normalizer ssmax");
  if (p.pose_max != 0 && p.pose_max < p.n_ctx)
    fail("PoSE positions must reach at least the context (" + std::to_string(p.n_ctx) + ")");
  if (p.pose_max > kMaxConfigDimension) fail("PoSE positions beyond " + std::to_string(kMaxConfigDimension));
  if (!(p.distractors >= 0 && p.distractors <= 1000))
    fail("distractors must be in [0, 1000] per 1,000 tokens");
  if (p.curriculum_start < 0 || p.curriculum_end < p.curriculum_start)
    fail("curriculum must be START:END with 0 <= START <= END");
  const int64_t needle_bytes = minNeedlePromptBytes() + 8;  // + 7 digits and "."
  if (p.needle_share > 0 && p.n_ctx + 1 < needle_bytes)
    fail("context " + std::to_string(p.n_ctx) + " is too short for the needle task (needs " +
         std::to_string(needle_bytes - 1) + "); use needle share 0");
}

}  // namespace

TrainParams defaultTrainParams() {
  return TrainParams{};
}

std::string trainConfigJson(const TrainParams& p) {
  validate(p);
  json j = {{"architectures", {p.qk_norm ? "Qwen3ForCausalLM" : "LlamaForCausalLM"}},
            {"model_type", p.qk_norm ? "qwen3" : "llama"},
            {"vocab_size", 256},
            {"hidden_size", p.d_model},
            {"intermediate_size", p.d_ff},
            {"num_hidden_layers", p.n_layer},
            {"num_attention_heads", p.n_head},
            {"num_key_value_heads", p.n_head},
            {"hidden_act", "silu"},
            {"max_position_embeddings", p.n_ctx},
            {"rms_norm_eps", 1e-5},
            {"rope_theta", p.rope_theta},
            {"tie_word_embeddings", false},
            {"attention_bias", false},
            {"torch_dtype", "float32"},
            {"attention_normalizer", p.normalizer},
            {"attnscope_tokenizer", "bytes"},
            {"attnscope_training", paramsJson(p)}};
  if (p.normalizer == kNormalizerSsmax) j["ssmax_bias"] = p.ssmax_bias;
  if (!p.ssmax_layers.empty()) j["ssmax_layers"] = p.ssmax_layers;
  auto per_layer = [&](const std::vector<int64_t>& layers, const json& in, const json& out) {
    json list = json::array();
    for (int64_t l = 0; l < p.n_layer; ++l)
      list.push_back(std::find(layers.begin(), layers.end(), l) != layers.end() ? in : out);
    return list;
  };
  if (!p.nope_layers.empty()) j["no_rope_layers"] = per_layer(p.nope_layers, 0, 1);  // Llama 4: 1 = RoPE
  if (!p.window_layers.empty()) {
    j["sliding_window"] = p.window;
    j["layer_types"] = per_layer(p.window_layers, "sliding_attention", "full_attention");
  }
  if (p.qk_norm) {  // Qwen3's keys: q/k RMSNorm per head; its window exists only with use_sliding_window
    j["head_dim"] = p.d_model / p.n_head;
    j["use_sliding_window"] = !p.window_layers.empty();
    j["max_window_layers"] = p.n_layer;
  }
  return j.dump(2);
}

double learningRate(const TrainParams& p, int64_t step) {
  if (step < p.warmup_steps)
    return p.lr * static_cast<double>(step + 1) / static_cast<double>(p.warmup_steps);
  const int64_t n_decay = std::max<int64_t>(1, p.n_steps - p.warmup_steps);
  const double t = std::min(1.0, static_cast<double>(step - p.warmup_steps) / static_cast<double>(n_decay));
  const double floor = p.lr * p.min_lr_ratio;
  return floor + (p.lr - floor) * 0.5 * (1.0 + std::cos(kPi * t));
}

namespace {

/// Continued training: loads params.init_from's weights into model (same architecture, checked tensor by
/// tensor). The one difference allowed is adding the SSMax bias to a model that learned s alone: every tensor
/// the earlier model has is taken, and b starts at 0.
void initFrom(Model& model, const TrainParams& params) {
  const Checkpoint checkpoint = Checkpoint::open(params.init_from);
  const ModelConfig earlier = loadConfig(params.init_from);
  if (!(params.ssmax_bias && earlier.ssmax_learned && !earlier.ssmax_bias)) {
    model.loadWeights(checkpoint);
    return;
  }
  Model source(earlier, WeightInit::Uninitialized);
  source.loadWeights(checkpoint);
  auto from = source.module().named_parameters();
  torch::NoGradGuard no_grad;
  std::size_t taken = 0;
  for (auto& item : model.module().named_parameters()) {
    const std::string& name = item.key();
    if (!from.contains(name)) {
      if (name.size() >= 8 && name.compare(name.size() - 8, 8, ".ssmax_b") == 0) continue;  // b from 0
      throw std::runtime_error("init-from " + params.init_from + ": it has no tensor '" + name + "'");
    }
    if (from[name].sizes() != item.value().sizes())
      throw std::runtime_error("init-from " + params.init_from + ": tensor '" + name + "' has another shape");
    item.value().copy_(from[name]);
    ++taken;
  }
  if (taken != from.size())
    throw std::runtime_error("init-from " + params.init_from + ": it has tensors this model does not");
}

}  // namespace

double distractorRate(const TrainParams& p, int64_t step) {
  if (p.curriculum_end <= 0 || step >= p.curriculum_end) return p.distractors;
  if (step < p.curriculum_start) return 0.0;
  const double t = static_cast<double>(step - p.curriculum_start) /
                   static_cast<double>(std::max<int64_t>(1, p.curriculum_end - p.curriculum_start));
  return p.distractors * t;
}

struct Trainer::State {
  TrainParams params;
  std::unique_ptr<Model> model;
  std::vector<torch::Tensor> parameters;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::mt19937_64 rng;
  int64_t step = 0;
};

Trainer::Trainer(const TrainParams& params) : m_state(std::make_unique<State>()) {
  State& s = *m_state;
  s.params = params;
  const ModelConfig config = parseConfig(trainConfigJson(params));
  torch::manual_seed(params.seed);
  s.model = std::make_unique<Model>(config, WeightInit::Random);
  s.model->setNormalizer(parseNormalizer(params.normalizer));  // plain ssmax: the learned s (and b)
  // Continued training: the weights of an earlier run (same architecture, checked tensor by tensor), with a
  // fresh optimizer and schedule.
  if (!params.init_from.empty()) initFrom(*s.model, params);

  // Decay matrices and embeddings only: decaying s would pull SSMax back toward plain softmax·0.
  std::vector<torch::Tensor> decay, keep;
  for (const auto& p : s.model->module().parameters()) {
    s.parameters.push_back(p);
    (p.dim() >= 2 ? decay : keep).push_back(p);
  }
  auto options = torch::optim::AdamWOptions(params.lr)
                     .betas({params.beta1, params.beta2})
                     .weight_decay(params.weight_decay);
  auto no_decay = options;
  no_decay.weight_decay(0.0);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
  groups.emplace_back(keep, std::make_unique<torch::optim::AdamWOptions>(no_decay));
  s.optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups), options);
  s.rng.seed(params.seed);
}

Trainer::~Trainer() = default;

Model& Trainer::model() {
  return *m_state->model;
}
const TrainParams& Trainer::params() const {
  return m_state->params;
}
int64_t Trainer::step() const {
  return m_state->step;
}

TrainBatch Trainer::nextBatch(const std::string& source) {
  const TrainParams& p = m_state->params;
  const int64_t B = p.batch_size, T = p.n_ctx;
  const double distractors = distractorRate(p, m_state->step);
  TrainBatch batch;
  batch.tokens = torch::empty({B, T + 1}, torch::kInt64);  // [B, T + 1]
  batch.weights = torch::ones({B, T});                     // [B, T], weight of the target tokens[b][i + 1]
  if (p.pose_max > 0) batch.positions = torch::empty({B, T}, torch::kInt64);
  auto tok = batch.tokens.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    TrainSample sample = drawTrainSample(source, T + 1, p.needle_share, m_state->rng, distractors);
    for (int64_t i = 0; i <= T; ++i) tok[b][i] = static_cast<unsigned char>(sample.bytes[i]);
    if (sample.answer_begin > 0 && p.answer_weight != 1.0)
      batch.weights[b].slice(0, sample.answer_begin - 1, sample.answer_end - 1).fill_(p.answer_weight);
    if (p.pose_max > 0) {
      const std::vector<int64_t> positions = drawPosePositions(T, p.pose_max, m_state->rng);
      std::copy(positions.begin(), positions.end(), batch.positions[b].data_ptr<int64_t>());
    }
  }
  return batch;
}

double Trainer::trainStep(const at::Tensor& tokens) {
  return trainStep(TrainBatch{tokens, torch::ones({tokens.size(0), tokens.size(1) - 1}), {}});
}

double Trainer::trainStep(const at::Tensor& tokens, const at::Tensor& weights) {
  return trainStep(TrainBatch{tokens, weights, {}});
}

double Trainer::trainStep(const TrainBatch& batch) {
  State& s = *m_state;
  const at::Tensor& tokens = batch.tokens;
  const at::Tensor& weights = batch.weights;
  const int64_t T = tokens.size(1) - 1;
  ForwardOptions options;
  options.logits = LogitPositions::all();
  options.positions = batch.positions;
  torch::Tensor logits;
  {
    // bf16: the matrix products run in bfloat16 under autocast; the loss and the update stay float32.
    AutocastScope autocast(s.params.bf16);
    logits = s.model->forward(tokens.narrow(1, 0, T), options).logits.to(torch::kFloat32);  // [B, T, V]
  }
  auto ce = torch::nn::functional::cross_entropy(
      logits.reshape({-1, logits.size(-1)}), tokens.narrow(1, 1, T).reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));  // [B·T]
  auto w = weights.reshape({-1});
  auto objective = (ce * w).sum() / w.sum().clamp_min(1e-12);
  s.optimizer->zero_grad();
  objective.backward();
  if (s.params.grad_clip > 0) torch::nn::utils::clip_grad_norm_(s.parameters, s.params.grad_clip);
  const double lr = learningRate(s.params, s.step);
  for (auto& group : s.optimizer->param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  s.optimizer->step();
  ++s.step;
  const double loss = ce.detach().mean().item<double>();
  if (!std::isfinite(loss))
    throw std::runtime_error("train: loss is " + std::to_string(loss) + " at step " + std::to_string(s.step) +
                             " (diverged; lower --lr)");
  return loss;
}

double Trainer::loss(const at::Tensor& tokens) {
  torch::NoGradGuard no_grad;
  const int64_t T = tokens.size(1) - 1;
  auto logits = m_state->model->forward(tokens.narrow(1, 0, T), LogitPositions::all());
  return torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                              tokens.narrow(1, 1, T).reshape({-1}))
      .item<double>();
}

void Trainer::saveCheckpoint(const std::string& dir) {
  State& s = *m_state;
  const std::string tmp = dir + ".tmp", old = dir + ".old";
  fs::remove_all(tmp);
  saveModel(*s.model, tmp);
  torch::save(*s.optimizer, tmp + "/optimizer.pt");  // resume state only; models are always safetensors
  std::ostringstream sampler;
  sampler << s.rng;
  json state = {{"step", s.step},
                {"sampler", sampler.str()},
                {"threads", torch::get_num_threads()},
                {"params", paramsJson(s.params)}};
  {
    std::ofstream out(tmp + "/state.json", std::ios::binary);
    out << state.dump(2) << "\n";
    if (!out.flush()) throw std::runtime_error(tmp + "/state.json: cannot write");
  }
  // Swap whole directories so an interruption leaves either the old or the new checkpoint complete.
  fs::remove_all(old);
  if (fs::exists(dir)) fs::rename(dir, old);
  fs::rename(tmp, dir);
  fs::remove_all(old);
}

void Trainer::loadCheckpoint(const std::string& dir) {
  State& s = *m_state;
  std::string from = dir;
  if (!fs::exists(dir + "/state.json") && fs::exists(dir + ".old/state.json")) from = dir + ".old";
  const json state = parseJsonOr<std::runtime_error>(readFile(from + "/state.json"), from + "/state.json");
  if (!state.is_object() || !state.contains("params") || !state.contains("step") ||
      !state.contains("sampler"))
    throw std::runtime_error(from + "/state.json: not a training checkpoint");
  const json mine = paramsJson(s.params);
  for (const auto& [key, value] : state.at("params").items())
    if (!mine.contains(key) || mine[key] != value)
      throw std::runtime_error("resume: the checkpoint was trained with " + key + " = " + value.dump() +
                               ", not " + (mine.contains(key) ? mine[key].dump() : "(unset)"));
  s.model->loadWeights(Checkpoint::open(from));
  torch::load(*s.optimizer, from + "/optimizer.pt");
  std::istringstream sampler(state.at("sampler").get<std::string>());
  sampler >> s.rng;
  if (!sampler) throw std::runtime_error(from + "/state.json: bad sampler state");
  s.step = state.at("step").get<int64_t>();
}

namespace {

TrainResult train(const TrainParams& params, const std::string& out_dir, bool resume,
                  const TrainCallback& progress) {
  const TextCorpus corpus = loadCorpus(params.corpus);
  Trainer trainer(params);
  const std::string checkpoint = (fs::path(out_dir) / "checkpoint").string();
  const bool have = fs::exists(checkpoint + "/state.json") || fs::exists(checkpoint + ".old/state.json");
  if (resume) {
    if (!have) throw std::runtime_error("resume: no checkpoint in " + out_dir);
    trainer.loadCheckpoint(checkpoint);
  } else if (have) {
    throw std::runtime_error(
        out_dir + " holds the checkpoint of an unfinished run: resume it or use another directory");
  }

  TrainResult result;
  const int64_t first = trainer.step();
  const double tokens_per_step = static_cast<double>(params.batch_size * params.n_ctx);
  const auto start = std::chrono::steady_clock::now();
  while (trainer.step() < params.n_steps) {
    const TrainBatch batch = trainer.nextBatch(corpus.train_text);
    const double lr = learningRate(params, trainer.step());
    result.last_loss = trainer.trainStep(batch);
    const int64_t done = trainer.step();
    result.steps_done = done;
    TrainProgress info;
    info.step = done;
    info.n_steps = params.n_steps;
    info.loss = result.last_loss;
    info.lr = lr;
    info.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double per_step = info.elapsed_s / static_cast<double>(done - first);
    info.tokens_per_s = tokens_per_step / per_step;
    info.eta_s = per_step * static_cast<double>(params.n_steps - done);
    if (progress && !progress(info)) {
      trainer.saveCheckpoint(checkpoint);
      return result;
    }
    if (params.checkpoint_every > 0 && done % params.checkpoint_every == 0 && done < params.n_steps)
      trainer.saveCheckpoint(checkpoint);
  }
  saveModel(trainer.model(), out_dir);
  for (const char* suffix : {"", ".old", ".tmp"}) fs::remove_all(checkpoint + suffix);
  result.steps_done = trainer.step();
  result.finished = true;
  return result;
}

}  // namespace

TrainResult trainModel(const TrainParams& params, const std::string& out_dir, bool resume,
                       const TrainCallback& progress) {
  try {
    return train(params, out_dir, resume, progress);
  } catch (const c10::Error& e) {
    throw std::runtime_error(torchErrorLine(e));
  }
}

}  // namespace attnscope
