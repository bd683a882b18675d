#include "attnscope/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attnscope/safetensors.h"
#include "transformer.h"

namespace attnscope {
namespace {

std::string shapeText(c10::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

torch::ScalarType torchType(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return torch::kFloat32;
    case DType::F16:
      return torch::kFloat16;
    case DType::BF16:
      return torch::kBFloat16;
    default:
      return torch::kFloat64;  // callers reject other dtypes before asking
  }
}

// Returns the safetensors dtype config.json's torch_dtype promises, or nullptr when it promises none.
const char* promisedDtype(const std::string& torch_dtype) {
  if (torch_dtype == "float32") return "F32";
  if (torch_dtype == "float16") return "F16";
  if (torch_dtype == "bfloat16") return "BF16";
  return nullptr;
}

/// The torch dtype of a model's weight matrices.
torch::ScalarType matrixType(ComputeDtype dtype) {
  return dtype == ComputeDtype::BFloat16 ? torch::kBFloat16 : torch::kFloat32;
}

/// The prefix the checkpoint puts before the model's parameter names.
std::string weightPrefix(const TransformerImpl& impl, const Checkpoint& checkpoint) {
  std::set<std::string> names;
  for (const auto& item : checkpoint.tensors()) names.insert(item.first);
  return impl.checkpointPrefix(names);
}

/// Throws std::invalid_argument unless ids is an int64 [B, T] tensor, T > 0, of ids in the vocabulary.
void checkIds(const torch::Tensor& ids, int64_t vocab_size) {
  if (ids.dim() != 2 || ids.scalar_type() != torch::kInt64)
    throw std::invalid_argument("forward: token ids must be an int64 tensor [batch, tokens]");
  if (ids.size(1) == 0) throw std::invalid_argument("forward: no tokens");
  if (ids.numel() > 0) {
    int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= vocab_size)
      throw std::invalid_argument("forward: token id " + std::to_string(lo < 0 ? lo : hi) +
                                  " is outside the vocabulary (vocab_size " + std::to_string(vocab_size) +
                                  ")");
  }
}

/// Throws std::invalid_argument unless positions are int64 [T] or [B, T] for ids [B, T], non-negative, in a
/// Llama-family model (the architectures whose only use of positions is RoPE).
void checkPositions(const torch::Tensor& positions, const torch::Tensor& ids, const ModelConfig& config) {
  if (config.arch != Architecture::Llama)
    throw std::invalid_argument(
        std::string("forward: position ids are supported for the Llama family, not ") +
        architectureName(config.arch));
  const bool shape_ok = positions.scalar_type() == torch::kInt64 &&
                        ((positions.dim() == 1 && positions.size(0) == ids.size(1)) ||
                         (positions.dim() == 2 && positions.sizes() == ids.sizes()));
  if (!shape_ok)
    throw std::invalid_argument("forward: position ids must be int64 [T] or [B, T] matching the ids");
  if (positions.numel() > 0 && positions.min().item<int64_t>() < 0)
    throw std::invalid_argument("forward: position ids must be >= 0");
}

}  // namespace

double defaultSsmaxS(int64_t n_ctx) {
  double sum = 0;
  for (int64_t n = 1; n <= n_ctx; ++n) sum += std::log(static_cast<double>(n));
  double mean = n_ctx > 0 ? sum / static_cast<double>(n_ctx) : 0;
  return mean > 0 ? 1.0 / mean : 1.0;
}

void registerSsmax(torch::nn::Module& attn, const ModelConfig& config, int64_t layer, torch::Tensor& s,
                   torch::Tensor& b) {
  if (!config.hasLearnedSsmax(layer)) return;
  s = attn.register_parameter("ssmax_s", torch::full({config.n_head}, defaultSsmaxS(config.n_ctx)));
  if (config.ssmax_bias) b = attn.register_parameter("ssmax_b", torch::zeros({config.n_head}));
}

Model::Model(const ModelConfig& config, WeightInit init, ComputeDtype dtype) : m_config(config) {
  // Random weights are for training, which runs in float32.
  m_dtype = init == WeightInit::Random || dtype == ComputeDtype::Auto ? ComputeDtype::Float32 : dtype;
  for (int64_t i = 0; i < config.n_layer; ++i) m_names.emplace_back(i);
  ParamInit params;
  params.allocate = init == WeightInit::Random;
  params.matrix_dtype = matrixType(m_dtype);
  switch (config.arch) {
    case Architecture::Gpt2:
      m_impl = makeGpt2(config, params);
      break;
    case Architecture::GptNeox:
      m_impl = makeGptNeox(config, params);
      break;
    case Architecture::Phi3:
      m_impl = makePhi3(config, params);
      break;
    default:
      m_impl = makeLlama(config, params);
  }
  if (init != WeightInit::Random) return;
  torch::NoGradGuard no_grad;
  for (auto& item : m_impl->named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    if (name.find("ssmax_") != std::string::npos) continue;  // set by registerSsmax
    if (p.dim() >= 2) {
      p.normal_(0.0, 0.02);
    } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0 &&
               name.find("ln_") == std::string::npos) {
      p.zero_();
    }
  }
}

Model::~Model() = default;

void Model::setNormalizer(const NormalizerSpec& spec) {
  validateNormalizer(spec, m_config);
  m_normalizer = spec;
}

void KvCache::clear() {
  *this = KvCache();
}

std::pair<at::Tensor, at::Tensor> KvCache::append(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  Layer& l = m_layers.at(layer);
  const int64_t T = k.size(2), needed = l.length + T;
  const int64_t capacity = l.k.defined() ? l.k.size(2) : 0;
  if (needed > capacity) {
    // Grow geometrically so a token-by-token decode copies O(n) in total, or straight to the reserved size.
    const int64_t grown = std::max({needed, m_reserve, 2 * capacity});
    auto grow = [&](const torch::Tensor& old, const torch::Tensor& fresh) {
      auto sizes = fresh.sizes().vec();
      sizes[2] = grown;
      auto buffer = torch::empty(sizes, fresh.options());
      if (l.length > 0) buffer.narrow(2, 0, l.length).copy_(old.narrow(2, 0, l.length));
      return buffer;
    };
    l.k = grow(l.k, k);
    l.v = grow(l.v, v);
  }
  l.k.narrow(2, l.length, T).copy_(k);
  l.v.narrow(2, l.length, T).copy_(v);
  l.length = needed;
  return {l.k.narrow(2, 0, needed), l.v.narrow(2, 0, needed)};
}

at::Tensor Model::forward(const at::Tensor& ids, const LogitPositions& logits) {
  return forward(ids, ForwardOptions{logits, std::nullopt, 0}).logits;
}

at::Tensor Model::runLayers(const at::Tensor& ids, const ForwardOptions& options, const PassHooks& hooks) {
  checkIds(ids, m_config.vocab_size);
  const int64_t T = ids.size(1);
  if (options.normalizer) validateNormalizer(*options.normalizer, m_config);
  AttentionOptions attention = m_attention;
  if (options.query_block > 0) attention.query_block = options.query_block;
  const NormalizerSpec& normalizer = options.normalizer ? *options.normalizer : m_normalizer;
  ForwardContext ctx{m_config, hooks, normalizer, attention, m_names, matrixType(m_dtype)};
  if (options.positions.defined()) {
    checkPositions(options.positions, ids, m_config);
    if (options.cache) throw std::invalid_argument("forward: position ids cannot be combined with a cache");
    ctx.positions = options.positions;
  }
  KvCache* cache = options.cache;
  std::optional<torch::NoGradGuard> no_grad;
  if (cache) {
    if (cache->m_owner == nullptr) {
      cache->m_owner = this;
      cache->m_batch = ids.size(0);
      cache->m_normalizer = normalizer.text();
      cache->m_layers.assign(m_config.n_layer, {});
    } else if (cache->m_owner != this) {
      throw std::invalid_argument("forward: the key/value cache belongs to another model");
    } else if (cache->m_batch != ids.size(0)) {
      throw std::invalid_argument("forward: the key/value cache holds a batch of " +
                                  std::to_string(cache->m_batch) + ", not " + std::to_string(ids.size(0)));
    } else if (cache->m_normalizer != normalizer.text()) {
      throw std::invalid_argument("forward: the key/value cache was computed under normalizer " +
                                  cache->m_normalizer + ", not " + normalizer.text());
    }
    ctx.cache = cache;
    ctx.n_past = cache->m_length;
    no_grad.emplace();
  }
  // A pass that stops or fails appended to some layers only: it forgets its positions, leaving the cache as
  // it was.
  auto settle = [&](bool keep) {
    if (!cache) return;
    const int64_t length = keep ? cache->m_length + T : cache->m_length;
    for (KvCache::Layer& layer : cache->m_layers) layer.length = std::min(layer.length, length);
    cache->m_length = length;
  };
  torch::Tensor x;
  try {
    x = m_impl->hidden(ids, ctx);  // [B, T, d_model]
  } catch (...) {
    settle(false);
    throw;
  }
  settle(!hooks.stopped());
  if (hooks.listens(kFinalNormHook))
    hooks.fire({kFinalNormHook, -1, ctx.n_past, ctx.n_past + T, ctx.n_past, ctx.n_past + T, x});
  return hooks.stopped() ? torch::Tensor() : x;
}

ForwardResult Model::forward(const at::Tensor& ids, const ForwardOptions& options) {
  const LogitPositions& logits = options.logits;
  checkIds(ids, m_config.vocab_size);
  const int64_t T = ids.size(1);
  std::vector<int64_t> positions;
  for (int64_t pos : logits.positions) {
    if (pos < -T || pos >= T)
      throw std::invalid_argument("forward: logit position " + std::to_string(pos) + " is outside the " +
                                  std::to_string(T) + " tokens");
    positions.push_back(pos < 0 ? pos + T : pos);
  }
  const PassHooks hooks(m_hooks);
  ForwardResult result;
  auto x = runLayers(ids, options, hooks);  // [B, T, d_model]
  if (!x.defined() || (!logits.every && positions.empty())) {
    result.stopped = hooks.stopped();
    return result;
  }
  if (!logits.every) x = x.index_select(1, torch::tensor(positions, torch::kInt64));
  result.logits = m_impl->unembed(x);  // [B, P, vocab]
  if (hooks.listens(kUnembedHook))
    hooks.fire({kUnembedHook, -1, 0, result.logits.size(1), 0, 0, result.logits});
  result.stopped = hooks.stopped();
  return result;
}

at::Tensor Model::tokenLosses(const at::Tensor& ids, const ForwardOptions& options) {
  checkIds(ids, m_config.vocab_size);
  if (ids.size(1) < 2)
    throw std::invalid_argument("token losses: need at least 2 tokens, got " + std::to_string(ids.size(1)));
  const PassHooks hooks(m_hooks);
  auto x = runLayers(ids, options, hooks);  // [B, T, d_model]
  if (!x.defined()) return {};
  const int64_t B = ids.size(0), T = ids.size(1);
  const int64_t chunk =
      std::max<int64_t>(1, m_attention.max_logit_bytes / std::max<int64_t>(1, B * m_config.vocab_size * 4));
  std::vector<torch::Tensor> losses;  // [B, chunk] each
  for (int64_t p0 = 0; p0 < T - 1; p0 += chunk) {
    const int64_t n = std::min(chunk, T - 1 - p0);
    auto logits = m_impl->unembed(x.narrow(1, p0, n));  // [B, n, vocab]
    if (hooks.listens(kUnembedHook)) hooks.fire({kUnembedHook, -1, p0, p0 + n, 0, 0, logits});
    if (hooks.stopped()) return {};
    auto targets = ids.narrow(1, p0 + 1, n).unsqueeze(-1);  // [B, n, 1]
    losses.push_back(-torch::log_softmax(logits, -1).gather(-1, targets).squeeze(-1));
  }
  return torch::cat(losses, 1);
}

torch::nn::Module& Model::module() {
  return *m_impl;
}

int64_t Model::parameterCount() const {
  int64_t n = 0;
  for (const auto& p : m_impl->parameters()) n += p.numel();
  return n;
}

at::Tensor Model::ssmaxS(int64_t layer) const {
  return m_impl->ssmaxS(layer);
}
at::Tensor Model::ssmaxB(int64_t layer) const {
  return m_impl->ssmaxB(layer);
}

void Model::checkWeights(const Checkpoint& checkpoint) const {
  const std::string prefix = weightPrefix(*m_impl, checkpoint);
  const char* promised = promisedDtype(m_config.torch_dtype);
  std::set<std::string> used;
  for (const auto& item : m_impl->named_parameters()) {
    const std::string name = prefix + item.key();
    if (!checkpoint.contains(name)) {
      std::string why =
          name.find("ssmax_") != std::string::npos ? " (config.json says attention_normalizer ssmax)" : "";
      throw CheckpointError("checkpoint: missing tensor '" + name + "'" + why);
    }
    const TensorView& view = checkpoint.at(name);
    if (view.dtype != DType::F32 && view.dtype != DType::F16 && view.dtype != DType::BF16)
      throw CheckpointError(view.file + ": tensor '" + name + "' has dtype " + dtypeName(view.dtype) +
                            "; weights must be F32, F16 or BF16");
    if (promised && std::string(dtypeName(view.dtype)) != promised)
      throw CheckpointError(view.file + ": tensor '" + name + "' is " + dtypeName(view.dtype) +
                            " but config.json says torch_dtype " + m_config.torch_dtype);
    if (c10::IntArrayRef(view.shape) != item.value().sizes())
      throw CheckpointError(view.file + ": tensor '" + name + "' has shape " + shapeText(view.shape) +
                            " but config.json implies " + shapeText(item.value().sizes()));
    used.insert(name);
  }
  for (const auto& item : checkpoint.tensors()) {
    const std::string& name = item.first;
    if (used.count(name)) continue;
    std::string bare = name.compare(0, prefix.size(), prefix) == 0 ? name.substr(prefix.size()) : name;
    if (!m_impl->ignorable(bare))
      throw CheckpointError("checkpoint: unexpected tensor '" + name + "' (not part of a " +
                            m_config.model_type + " model with this config.json)");
  }
}

void Model::loadWeights(const Checkpoint& checkpoint) {
  // Validate everything before taking anything, so a bad checkpoint leaves the model untouched.
  checkWeights(checkpoint);
  const std::string prefix = weightPrefix(*m_impl, checkpoint);
  torch::NoGradGuard no_grad;
  bool mapped = false;
  for (auto& item : m_impl->named_parameters()) {
    const TensorView& view = checkpoint.at(prefix + item.key());
    torch::Tensor& parameter = item.value();
    const auto stored_type = torchType(view.dtype);
    auto stored = torch::from_blob(const_cast<std::byte*>(view.data), view.shape,
                                   torch::TensorOptions().dtype(stored_type));
    if (!isPlaceholder(parameter)) {
      parameter.copy_(stored);
      continue;
    }
    torch::Tensor weight;
    if (reinterpret_cast<std::uintptr_t>(view.data) % dtypeSize(view.dtype) != 0) {
      // An element type's alignment is not guaranteed by the format: copy the bytes before any kernel reads
      // them.
      weight = torch::empty(view.shape, torch::TensorOptions().dtype(stored_type));
      std::memcpy(weight.data_ptr(), view.data, view.nbytes);
      weight = weight.to(parameter.scalar_type());
    } else if (stored_type == parameter.scalar_type()) {
      weight = stored;  // zero-copy: the parameter reads the mapped file
      mapped = true;
    } else {
      weight = stored.to(parameter.scalar_type());  // one converted copy
    }
    parameter.set_data(weight);
    parameter.requires_grad_(false);  // inference weights; training copies into allocated parameters instead
  }
  if (mapped) m_weights = checkpoint;
}

ComputeDtype resolveComputeDtype(ComputeDtype requested, const Checkpoint& checkpoint) {
  if (requested != ComputeDtype::Auto) return requested;
  std::map<DType, int64_t> matrix_elements;
  for (const auto& item : checkpoint.tensors()) {
    const DType dtype = item.second.dtype;
    // Floating-point matrices only: old Pythia exports carry a BOOL causal mask per layer that can outnumber
    // a small model's weights.
    const bool weight_type = dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
    if (weight_type && item.second.shape.size() >= 2) matrix_elements[dtype] += item.second.numel();
  }
  DType most = DType::F32;
  int64_t count = -1;
  for (const auto& [dtype, n] : matrix_elements)
    if (n > count) most = dtype, count = n;
  return most == DType::BF16 || most == DType::F16 ? ComputeDtype::BFloat16 : ComputeDtype::Float32;
}

void saveModel(Model& model, const std::string& model_dir) {
  std::filesystem::create_directories(model_dir);
  std::vector<torch::Tensor> keep;  // contiguous copies that must outlive the write
  std::vector<TensorToWrite> tensors;
  for (const auto& item : model.module().named_parameters()) {
    keep.push_back(item.value().detach().to(torch::kFloat32).contiguous());
    const torch::Tensor& t = keep.back();
    tensors.push_back({item.key(), DType::F32, t.sizes().vec(), t.data_ptr(), t.numel() * sizeof(float)});
  }
  writeSafetensors(model_dir + "/model.safetensors", tensors, {{"format", "pt"}});
  // The weights are written as F32, so the saved config must promise float32 whatever it said before.
  auto config = nlohmann::json::parse(model.config().json);
  config["torch_dtype"] = "float32";
  std::ofstream out(model_dir + "/config.json", std::ios::binary);
  out << config.dump(2) << "\n";
  if (!out.flush()) throw CheckpointError(model_dir + "/config.json: cannot write");
}

std::unique_ptr<Model> loadModel(const std::string& model_dir, const LoadOptions& options) {
  return loadModel(model_dir, loadConfig(model_dir), options);
}

std::unique_ptr<Model> loadModel(const std::string& model_dir, const ModelConfig& config,
                                 const LoadOptions& options) {
  Checkpoint checkpoint = Checkpoint::open(model_dir);
  requireWeightsFit(config, checkpoint.tensorBytes(), model_dir);  // before building what the config asks
  auto model = std::make_unique<Model>(config, WeightInit::Uninitialized,
                                       resolveComputeDtype(options.dtype, checkpoint));
  model->loadWeights(checkpoint);
  return model;
}

}  // namespace attnscope
