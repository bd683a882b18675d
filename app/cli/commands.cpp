#include "commands.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>

#include <torch/torch.h>

#include "attnscope/hook_names.h"
#include "attnscope/model.h"
#include "attnscope/normalizer_spec.h"
#include "attnscope/runtime.h"
#include "attnscope/safetensors.h"

namespace attnscope::cli {
namespace {

std::string ropeText(const ModelConfig& c) {
  if (c.arch == Architecture::Gpt2) return "learned positions";
  char buf[160];
  std::snprintf(buf, sizeof buf, "RoPE theta %g, scaling %s", c.rope_theta, c.rope_scaling.type.c_str());
  std::string text = buf;
  if (c.rope_scaling.type != "default") {
    std::snprintf(buf, sizeof buf, " (factor %g, original context %lld)", c.rope_scaling.factor,
                  static_cast<long long>(c.rope_scaling.original_max_position_embeddings));
    text += buf;
  }
  return text;
}

void printSsmax(const Model& model) {
  const ModelConfig& c = model.config();
  if (!c.ssmax_learned) {
    std::printf("ssmax        none learned (give s at run time, e.g. --normalizer %s)\n",
                ssmaxContextSpec(static_cast<double>(c.n_ctx)).userText().c_str());
    return;
  }
  std::printf("ssmax        learned s per head%s\n", c.ssmax_bias ? " and bias b" : "");
  for (int64_t l = 0; l < c.n_layer; ++l) {
    auto s = model.ssmaxS(l);
    if (!s.defined()) {
      std::printf("  layer %-3lld softmax (no SSMax parameters)\n", static_cast<long long>(l));
      continue;
    }
    std::printf("  layer %-3lld s: min %.4f mean %.4f max %.4f", static_cast<long long>(l),
                s.min().item<float>(), s.mean().item<float>(), s.max().item<float>());
    if (auto b = model.ssmaxB(l); b.defined())
      std::printf("   b: min %.4f mean %.4f max %.4f", b.min().item<float>(), b.mean().item<float>(),
                  b.max().item<float>());
    std::printf("\n");
  }
}

}  // namespace

int runInfo(const InfoOptions& options) {
  // Headers only: the model's parameters point into the mapped files and no weight is read, except the few
  // bytes of learned SSMax parameters that printSsmax shows.
  ModelConfig c = loadConfig(options.model_dir);
  Checkpoint checkpoint = Checkpoint::open(options.model_dir);
  requireWeightsFit(c, checkpoint.tensorBytes(), options.model_dir);  // as loadModel does, before building
  Model model(c, WeightInit::Uninitialized, resolveComputeDtype(ComputeDtype::Auto, checkpoint));
  model.loadWeights(checkpoint);

  std::map<std::string, int64_t> dtype_counts;
  for (const auto& item : checkpoint.tensors())
    dtype_counts[dtypeName(item.second.dtype)] += item.second.numel();
  std::string dtypes;
  for (const auto& [name, count] : dtype_counts) dtypes += (dtypes.empty() ? "" : ", ") + name;

  std::printf("model        %s (%s architecture)\n", c.model_type.c_str(), architectureName(c.arch));
  std::printf("parameters   %s\n", withCommas(static_cast<uint64_t>(model.parameterCount())).c_str());
  std::printf("layers       %lld\n", static_cast<long long>(c.n_layer));
  std::printf("heads        %lld (kv heads %lld, head dim %lld)\n", static_cast<long long>(c.n_head),
              static_cast<long long>(c.n_kv_head), static_cast<long long>(c.d_head));
  std::printf("width        d_model %lld, d_ff %lld, vocab %lld\n", static_cast<long long>(c.d_model),
              static_cast<long long>(c.d_ff), static_cast<long long>(c.vocab_size));
  std::printf("context      %lld (%s)\n", static_cast<long long>(c.n_ctx), ropeText(c).c_str());
  std::printf("dtype        %s%s%s; computes in %s by default (--dtype)\n", dtypes.c_str(),
              c.torch_dtype.empty() ? "" : ", config torch_dtype ", c.torch_dtype.c_str(),
              computeDtypeName(model.computeDtype()));
  std::printf("files        %zu safetensors file(s), %zu tensors\n", checkpoint.files().size(),
              checkpoint.tensors().size());
  for (const std::string& feature : architectureFeatures(c))
    std::printf("feature      %s\n", feature.c_str());
  printSsmax(model);
  return 0;
}

int runForward(const RunOptions& options) {
  auto model = loadModel(options.model_dir, LoadOptions{parseComputeDtype(options.dtype)});
  const ModelConfig& c = model->config();
  model->setNormalizer(parseNormalizer(options.normalizer));
  const int64_t layer = options.layer < 0 ? c.n_layer + options.layer : options.layer;
  if (layer < 0 || layer >= c.n_layer)
    throw std::invalid_argument("--layer " + std::to_string(options.layer) + " is outside 0.." +
                                std::to_string(c.n_layer - 1));
  if (options.head < 0 || options.head >= c.n_head)
    throw std::invalid_argument("--head " + std::to_string(options.head) + " is outside 0.." +
                                std::to_string(c.n_head - 1));

  const std::vector<int64_t> prompt = promptIds(options.prompt, options.model_dir);
  const int64_t T = static_cast<int64_t>(prompt.size());
  auto ids = torch::tensor(prompt, torch::kInt64).view({1, T});
  torch::Tensor last_row;  // [k1 - k0] probabilities of the last query, over keys from k0
  int64_t row_k0 = 0;
  HookHandle row_hook =
      model->hooks().add(formatHookName(layer, BlockHook::Pattern), [&](const HookEvent& e) {
        if (e.q1 == T) {
          last_row = e.tensor[0][options.head][T - 1 - e.q0].clone();
          row_k0 = e.k0;
        }
      });
  torch::NoGradGuard no_grad;
  auto logits = model->forward(ids, LogitPositions::last())[0][0];  // [vocab]
  auto probs = torch::softmax(logits, -1);

  std::printf("%lld tokens, normalizer %s, %s linear layers, %s\n", static_cast<long long>(T),
              model->normalizer().text().c_str(), computeDtypeName(model->computeDtype()),
              computeDescription().c_str());
  std::printf("top next tokens:\n");
  auto top = probs.topk(std::min<int64_t>(options.top, c.vocab_size));
  for (int64_t i = 0; i < std::get<0>(top).size(0); ++i)
    std::printf("  id %-8lld p %.6f  logit %.4f\n",
                static_cast<long long>(std::get<1>(top)[i].item<int64_t>()),
                std::get<0>(top)[i].item<float>(), logits[std::get<1>(top)[i]].item<float>());

  std::printf("attention of the last query, layer %lld head %d (key position, token id, probability):\n",
              static_cast<long long>(layer), options.head);
  std::vector<int64_t> order(last_row.size(0));
  std::iota(order.begin(), order.end(), 0);
  const bool all = order.size() <= 64;
  if (!all) {
    std::partial_sort(order.begin(), order.begin() + 20, order.end(), [&](int64_t a, int64_t b) {
      return last_row[a].item<float>() > last_row[b].item<float>();
    });
    order.resize(20);
    std::printf("  (the 20 largest of %lld keys)\n", static_cast<long long>(last_row.size(0)));
  }
  for (int64_t k : order)
    std::printf("  %6lld %8lld %.6f\n", static_cast<long long>(row_k0 + k),
                static_cast<long long>(prompt[row_k0 + k]), last_row[k].item<float>());
  return 0;
}

}  // namespace attnscope::cli
