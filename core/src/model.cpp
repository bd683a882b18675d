#include "attnscope/model.h"

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

}  // namespace

double defaultSsmaxS(int64_t n_ctx) {
  double sum = 0;
  for (int64_t n = 1; n <= n_ctx; ++n) sum += std::log(static_cast<double>(n));
  double mean = n_ctx > 0 ? sum / static_cast<double>(n_ctx) : 0;
  return mean > 0 ? 1.0 / mean : 1.0;
}

void registerSsmax(torch::nn::Module& attn, const ModelConfig& config, torch::Tensor& s, torch::Tensor& b) {
  if (!config.ssmax_learned) return;
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

at::Tensor Model::forward(const at::Tensor& ids, const LogitPositions& logits) {
  return forward(ids, ForwardOptions{logits, std::nullopt, 0}).logits;
}

ForwardResult Model::forward(const at::Tensor& ids, const ForwardOptions& options) {
  const LogitPositions& logits = options.logits;
  if (ids.dim() != 2 || ids.scalar_type() != torch::kInt64)
    throw std::invalid_argument("forward: token ids must be an int64 tensor [batch, tokens]");
  const int64_t T = ids.size(1);
  if (T == 0) throw std::invalid_argument("forward: no tokens");
  std::vector<int64_t> positions;
  for (int64_t pos : logits.positions) {
    if (pos < -T || pos >= T)
      throw std::invalid_argument("forward: logit position " + std::to_string(pos) + " is outside the " +
                                  std::to_string(T) + " tokens");
    positions.push_back(pos < 0 ? pos + T : pos);
  }
  if (ids.numel() > 0) {
    int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= m_config.vocab_size)
      throw std::invalid_argument("forward: token id " + std::to_string(lo < 0 ? lo : hi) +
                                  " is outside the vocabulary (vocab_size " +
                                  std::to_string(m_config.vocab_size) + ")");
  }
  if (options.normalizer) validateNormalizer(*options.normalizer, m_config);
  AttentionOptions attention = m_attention;
  if (options.query_block > 0) attention.query_block = options.query_block;
  const PassHooks hooks(m_hooks);
  const NormalizerSpec& normalizer = options.normalizer ? *options.normalizer : m_normalizer;
  ForwardContext ctx{m_config, hooks, normalizer, attention, m_names, matrixType(m_dtype)};
  ForwardResult result;
  auto x = m_impl->hidden(ids, ctx);  // [B, T, d_model]
  if (hooks.listens(kFinalNormHook)) hooks.fire({kFinalNormHook, -1, 0, T, 0, T, x});
  if (hooks.stopped() || (!logits.every && positions.empty())) {
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
