#include "attnscope/evaluate.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <torch/torch.h>

#include "attnscope/model.h"
#include "attnscope/runtime.h"
#include "attnscope/tokenizer.h"

namespace attnscope {
namespace {

constexpr int64_t kDigits = 7;

std::string format(const char* pattern, double a, double b = 0, double c = 0) {
  char buf[200];
  std::snprintf(buf, sizeof buf, pattern, a, b, c);
  return buf;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

torch::Tensor byteIds(const std::string& bytes) {
  auto ids = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kInt64);
  int64_t* out = ids.data_ptr<int64_t>();
  for (std::size_t i = 0; i < bytes.size(); ++i) out[i] = static_cast<unsigned char>(bytes[i]);
  return ids;
}

/// Mean cross-entropy per position bucket over n_sequences held-out sequences of n_tokens each.
std::vector<LossBucket> lossByPosition(Model& model, const std::string& text, int64_t n_tokens,
                                       int64_t n_sequences, std::mt19937_64& rng) {
  const std::vector<int64_t> edges = lossBucketEdges(model.config().n_ctx, n_tokens);
  std::vector<LossBucket> buckets(edges.size() - 1);
  std::vector<double> sums(buckets.size(), 0.0);
  for (int64_t s = 0; s < n_sequences; ++s) {
    // One sequence at a time bounds memory at long lengths; position p's loss depends on tokens 0..p only.
    auto ids = byteIds(textSlice(text, uniformIndex(rng, text.size()), n_tokens + 1)).view({1, -1});
    // Losses [T] of tokens 1..T; the head runs in chunks, never holding [T, vocab].
    auto ce64 = model.tokenLosses(ids)[0].to(torch::kFloat64);
    for (std::size_t b = 0; b < buckets.size(); ++b)
      sums[b] += ce64.slice(0, edges[b], edges[b + 1]).sum().item<double>();
  }
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    buckets[b].pos_begin = edges[b];
    buckets[b].pos_end = edges[b + 1];
    buckets[b].n_tokens = (edges[b + 1] - edges[b]) * n_sequences;
    buckets[b].loss = sums[b] / static_cast<double>(buckets[b].n_tokens);
  }
  return buckets;
}

/// Runs one batch of needle prompts of one length and depth; appends the accuracy and the per-head scores.
void needleBatch(Model& model, const std::string& text, int64_t length, double depth, int64_t n_prompts,
                 std::mt19937_64& rng, EvalResult& result) {
  const ModelConfig& c = model.config();
  std::vector<NeedlePrompt> prompts;
  auto ids = torch::empty({n_prompts, length + kDigits - 1}, torch::kInt64);  // prompt + first 6 digits
  auto expected = torch::empty({n_prompts, kDigits}, torch::kInt64);
  for (int64_t i = 0; i < n_prompts; ++i) {
    prompts.push_back(buildNeedlePrompt(text, length, depth, rng));
    const NeedlePrompt& p = prompts.back();
    ids[i].copy_(byteIds(p.text + p.answer.substr(0, kDigits - 1)));
    expected[i].copy_(byteIds(p.answer));
  }

  // Attention of the last prompt position (the one that predicts the first digit) on the needle sentence.
  const int64_t query = length - 1;
  auto mass = torch::zeros({c.n_layer, c.n_head}, torch::kFloat64);
  HookHandle hook = model.hooks().add(hookPatternAllLayers(BlockHook::Pattern), [&](const HookEvent& e) {
    if (query < e.q0 || query >= e.q1) return;
    auto row = e.tensor.select(2, query - e.q0);  // [B, H, k1 - k0]
    for (int64_t i = 0; i < n_prompts; ++i) {
      const int64_t lo = std::max(prompts[i].needle_begin, e.k0), hi = std::min(prompts[i].needle_end, e.k1);
      if (lo < hi) mass[e.layer] += row[i].narrow(-1, lo - e.k0, hi - lo).sum(-1).to(torch::kFloat64);
    }
  });
  // Only the positions that predict the answer digits: [B, kDigits, V].
  std::vector<int64_t> answer_positions;
  for (int64_t i = 0; i < kDigits; ++i) answer_positions.push_back(query + i);
  torch::Tensor logits = model.forward(ids, LogitPositions::at(answer_positions));

  auto predicted = logits.argmax(-1);  // [B, 7]
  auto correct = predicted.eq(expected);
  NeedleResult r;
  r.length = length;
  r.depth = depth;
  r.n_prompts = n_prompts;
  r.accuracy = correct.all(1).to(torch::kFloat64).mean().item<double>();
  r.digit_accuracy = correct.to(torch::kFloat64).mean().item<double>();
  result.needle.push_back(r);
  mass /= static_cast<double>(n_prompts);
  for (int64_t l = 0; l < c.n_layer; ++l)
    for (int64_t h = 0; h < c.n_head; ++h)
      result.heads.push_back({length, depth, l, h, mass[l][h].item<double>()});
}

std::string csvNumber(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

std::vector<int64_t> lossBucketEdges(int64_t n_ctx, int64_t n_tokens) {
  std::vector<int64_t> edges = {0};
  for (int64_t e = std::max<int64_t>(1, n_ctx / 8); e < n_tokens; e *= 2) edges.push_back(e);
  edges.push_back(n_tokens);
  return edges;
}

namespace {

EvalResult evaluate(const std::string& model_dir, const EvalParams& params) {
  ModelConfig config = loadConfig(model_dir);
  if (params.rope_theta_scale != 1.0)
    config = withRopeTheta(config, config.rope_theta * params.rope_theta_scale);
  const std::string not_bytes =
      "eval: " + model_dir + " is not a byte-level model without BOS (config.json attnscope_tokenizer bytes)";
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    tokenizer = loadTokenizer(model_dir);
  } catch (const TokenizerError&) {
    throw std::invalid_argument(not_bytes);
  }
  if (tokenizer->kind() != "bytes" || tokenizer->vocabSize() != 256 || config.vocab_size != 256)
    throw std::invalid_argument(not_bytes);
  std::vector<int64_t> lengths = params.lengths;
  if (lengths.empty())
    for (int64_t k : {1, 2, 4, 8, 16}) lengths.push_back(k * config.n_ctx);
  int64_t longest = 0;
  for (int64_t n : lengths) {
    if (n < minNeedlePromptBytes())
      throw std::invalid_argument("eval: length " + std::to_string(n) + " is shorter than a needle prompt (" +
                                  std::to_string(minNeedlePromptBytes()) + " tokens)");
    longest = std::max(longest, n);
  }
  if (params.n_needle_prompts < 1 || params.n_loss_sequences < 1)
    throw std::invalid_argument("eval: needle prompts and loss sequences must be at least 1");

  auto model = loadModel(model_dir, config, LoadOptions{params.dtype});
  model->setNormalizer(parseNormalizer(params.normalizer));
  const TextCorpus corpus = loadCorpus(params.corpus);
  const std::string& text = corpus.held_out_text;
  auto report = [&](const std::string& line) {
    if (params.progress) params.progress(line);
  };

  EvalResult result;
  result.normalizer = model->normalizer().text();
  result.rope_theta = config.rope_theta;
  result.n_ctx = config.n_ctx;
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(params.seed);
  auto start = std::chrono::steady_clock::now();
  result.loss = lossByPosition(*model, text, longest, params.n_loss_sequences, rng);
  report(format("loss: %.0f held-out sequences of %.0f tokens (%.1f s)",
                static_cast<double>(params.n_loss_sequences), static_cast<double>(longest),
                secondsSince(start)));
  for (int64_t length : lengths) {
    start = std::chrono::steady_clock::now();
    // Each length and depth draws its own prompts from a generator seeded by them, so adding a length or a
    // depth leaves the prompts of the others unchanged.
    for (double depth : params.depths) {
      std::mt19937_64 prompt_rng(params.seed ^ (static_cast<uint64_t>(length) * 0x9E3779B97F4A7C15ULL) ^
                                 static_cast<uint64_t>(depth * 1e6));
      needleBatch(*model, text, length, depth, params.n_needle_prompts, prompt_rng, result);
    }
    double correct = 0;
    for (std::size_t i = result.needle.size() - params.depths.size(); i < result.needle.size(); ++i)
      correct += result.needle[i].accuracy;
    report(format("needle: length %.0f, accuracy %.3f over all depths (%.1f s)", static_cast<double>(length),
                  params.depths.empty() ? 0.0 : correct / static_cast<double>(params.depths.size()),
                  secondsSince(start)));
  }
  return result;
}

}  // namespace

EvalResult evaluateModel(const std::string& model_dir, const EvalParams& params) {
  try {
    return evaluate(model_dir, params);
  } catch (const c10::Error& e) {
    throw std::runtime_error(torchErrorLine(e));
  }
}

void writeEvalCsv(const EvalResult& result, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error(path + ": cannot write");
  const std::string lead = "\"" + result.normalizer + "\"," + csvNumber(result.rope_theta) + ",";
  out << "metric,normalizer,rope_theta,length,depth,layer,head,pos_begin,pos_end,value,count\n";
  const std::string longest = result.loss.empty() ? "" : std::to_string(result.loss.back().pos_end);
  for (const LossBucket& b : result.loss)
    out << "loss," << lead << longest << ",,,," << b.pos_begin << "," << b.pos_end << "," << csvNumber(b.loss)
        << "," << b.n_tokens << "\n";
  for (const NeedleResult& r : result.needle) {
    const std::string where = std::to_string(r.length) + "," + csvNumber(r.depth) + ",,,,,";
    out << "needle_accuracy," << lead << where << csvNumber(r.accuracy) << "," << r.n_prompts << "\n";
    out << "needle_digit_accuracy," << lead << where << csvNumber(r.digit_accuracy) << ","
        << r.n_prompts * kDigits << "\n";
  }
  for (const NeedleHeadScore& h : result.heads)
    out << "needle_mass," << lead << h.length << "," << csvNumber(h.depth) << "," << h.layer << "," << h.head
        << ",,," << csvNumber(h.needle_mass) << ",\n";
  if (!out.flush()) throw std::runtime_error(path + ": cannot write");
}

}  // namespace attnscope
