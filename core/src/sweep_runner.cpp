// The sweep runner: one model, tokenizer and haystack per session, one record per (cell, normalizer).

#include "sweep_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <stdexcept>

#include <torch/torch.h>

#include "attnscope/capture.h"
#include "attnscope/evaluate.h"
#include "attnscope/generate.h"
#include "attnscope/model.h"
#include "attnscope/normalizer.h"
#include "attnscope/runtime.h"
#include "attnscope/statistics.h"
#include "attnscope/tokenizer.h"
#include "attnscope/untrusted_text.h"
#include "block_stats.h"
#include "row_stats.h"
#include "sweep_prompts.h"

namespace attnscope {
namespace {

constexpr int64_t kMaxSweepLength = int64_t{1} << 24;  // tokens, as capture files allow
constexpr int64_t kMaxPromptsPerCell = 1000000;
constexpr int64_t kTopk = 10;  // k of topk_mass, the capture's default

/// Where one binned statistic comes from: a row of blockRowStats, or the normalizer's multiplier.
struct StatSource {
  int64_t row = -1;  // -1: the multiplier
};

/// Collects one prompt's attention while its pass runs: the needle score of the last prompt position and the
/// per-head statistics of every prompt query, summed per bin of n. Queries at or beyond n_queries (generated
/// tokens, a document's target token) are not the prompt's and are skipped.
class PromptObserver {
 public:
  PromptObserver(const SweepGrid& grid, const ModelConfig& config, const std::vector<StatSource>& sources,
                 const std::vector<int64_t>& ids, int64_t n_queries, int64_t needle_begin, int64_t needle_end)
      : m_grid(grid),
        m_induction_keys(inductionKeys(ids)),
        m_config(config),
        m_sources(sources),
        m_n_queries(n_queries),
        m_needle_begin(needle_begin),
        m_needle_end(needle_end),
        m_n_bins(sweepBinCount(sweepMaxLength(grid), grid.bins_per_octave)),
        m_sums(sources.size() * config.n_layer * config.n_head * m_n_bins, 0.0),
        m_counts(config.n_layer * m_n_bins, 0),
        m_needle(config.n_layer * config.n_head, 0.0) {}

  void onBlock(const AttentionBlock& b) {
    const int64_t q_end = std::min(b.q1, m_n_queries);
    if (b.q0 >= q_end) return;
    const int64_t H = m_config.n_head, nq = q_end - b.q0, last = m_n_queries - 1;
    if (m_needle_end > m_needle_begin && last >= b.q0 && last < q_end) {
      // The paper's Figure 7: attention mass of the position that generates the first answer token.
      const int64_t lo = std::max(m_needle_begin, b.k0), hi = std::min(m_needle_end, b.k1);
      if (lo < hi) {
        auto mass = b.pattern[0].select(1, last - b.q0).narrow(-1, lo - b.k0, hi - lo).sum(-1);  // [H]
        auto m = mass.to(torch::kFloat64).contiguous();
        for (int64_t h = 0; h < H; ++h) m_needle[b.layer * H + h] += m.data_ptr<double>()[h];
      }
    }
    if (m_sources.empty()) return;
    BlockStatsOptions options;
    options.topk = kTopk;
    options.local_window = kDefaultLocalWindow;
    options.induction_keys = &m_induction_keys;
    auto rows = blockRowStats(m_config, b, options).narrow(2, 0, nq);  // [S, H, nq]
    std::vector<torch::Tensor> picked;
    for (const StatSource& s : m_sources)
      picked.push_back(s.row < 0 ? b.multiplier.to(torch::kFloat32).narrow(1, 0, nq) : rows[s.row]);
    auto stats = torch::stack(picked);  // [S, H, nq]
    auto n_keys = blockKeyCounts(m_config, b).narrow(0, 0, nq).contiguous();
    const float* n = n_keys.data_ptr<float>();
    const int64_t S = static_cast<int64_t>(m_sources.size());
    // n grows with the query (or stays at the window), so each bin is one run of rows.
    for (int64_t r0 = 0; r0 < nq;) {
      const int64_t bin = sweepBinOf(static_cast<int64_t>(n[r0]), m_grid.bins_per_octave);
      int64_t r1 = r0 + 1;
      while (r1 < nq && sweepBinOf(static_cast<int64_t>(n[r1]), m_grid.bins_per_octave) == bin) ++r1;
      if (bin < m_n_bins) {
        auto sums = stats.narrow(2, r0, r1 - r0).sum(2).to(torch::kFloat64).contiguous();  // [S, H]
        const double* v = sums.data_ptr<double>();
        for (int64_t s = 0; s < S; ++s)
          for (int64_t h = 0; h < H; ++h)
            m_sums[((s * m_config.n_layer + b.layer) * H + h) * m_n_bins + bin] += v[s * H + h];
        m_counts[b.layer * m_n_bins + bin] += static_cast<int32_t>(r1 - r0);
      }
      r0 = r1;
    }
  }

  void finish(SweepRecord& record) const {
    if (m_needle_end > m_needle_begin) record.needle_scores.assign(m_needle.begin(), m_needle.end());
    if (m_sources.empty()) return;
    record.stat_sums.assign(m_sums.begin(), m_sums.end());
    record.stat_counts = m_counts;
  }

 private:
  const SweepGrid& m_grid;
  const std::vector<int64_t>
      m_induction_keys;  // [ids] of the pass (inductionKeys); later queries are skipped
  const ModelConfig& m_config;
  const std::vector<StatSource>& m_sources;
  int64_t m_n_queries, m_needle_begin, m_needle_end, m_n_bins;
  std::vector<double> m_sums;     // [S, n_layer, n_head, n_bins]
  std::vector<int32_t> m_counts;  // [n_layer, n_bins]
  std::vector<double> m_needle;   // [n_layer, n_head]
};

/// Generated bytes as text a sweep file can hold: as they are when valid UTF-8, else escaped (\xNN).
std::string storableText(const std::string& bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t n = utf8CharLength(bytes, i);
    if (n == 0) return escapeForMessage(bytes, std::string::npos);
    i += n;
  }
  return bytes;
}

/// What decides a prompt: two cells (of any grids) with equal keys have the same prompt.
struct PromptKey {
  SweepMode mode = SweepMode::Needle;
  int64_t length = -1;
  double depth = 0;
  int64_t prompt_index = -1;
  uint64_t seed = 0;
  double distractors = 0;
  bool operator==(const PromptKey& o) const {
    return mode == o.mode && length == o.length && depth == o.depth && prompt_index == o.prompt_index &&
           seed == o.seed && distractors == o.distractors;
  }
};

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

struct SweepSession::State {
  SweepSessionOptions options;
  ModelConfig config;
  std::unique_ptr<Tokenizer> tokenizer;
  HaystackText haystack;
  std::unique_ptr<SweepPromptBuilder> prompts;
  std::unique_ptr<Model> model;
  std::vector<NormalizerSpec> specs;  // parsed grid normalizers, cached by text
  std::vector<std::string> spec_texts;
  std::vector<StatSource> sources;  // where each of source_stats comes from
  std::vector<std::string> source_stats;
  PromptKey prompt_key;  // what `prompt` was built from
  SweepPrompt prompt;
};

SweepSession::SweepSession(const SweepSessionOptions& options) : m_state(std::make_unique<State>()) {
  State& s = *m_state;
  s.options = options;
  if (options.model_dir.empty()) throw std::invalid_argument("model_dir must name a model directory");
  s.config = loadConfig(options.model_dir);
  if (options.rope_theta_scale != 1.0)
    s.config = withRopeTheta(s.config, s.config.rope_theta * options.rope_theta_scale);
  s.tokenizer = loadTokenizer(options.model_dir);
  s.haystack = loadHaystack(options.haystack, options.corpus);
  s.prompts = std::make_unique<SweepPromptBuilder>(*s.tokenizer, s.haystack.text);
  s.model = loadModel(options.model_dir, s.config, LoadOptions{options.dtype});
  m_model = s.model.get();
  m_tokenizer = s.tokenizer.get();
}

SweepSession::~SweepSession() = default;

SweepModel SweepSession::describe() const {
  const State& s = *m_state;
  SweepModel model;
  model.checkpoint = describeCheckpoint(*s.model, s.options.model_dir);
  model.n_layer = s.config.n_layer;
  model.n_head = s.config.n_head;
  model.tokenizer = s.tokenizer->kind();
  return model;
}

SweepGrid SweepSession::makeGrid(const SweepRequest& request) const {
  const State& s = *m_state;
  const ModelConfig& c = s.config;
  SweepGrid grid;
  grid.mode = request.mode;
  const bool needle = request.mode == SweepMode::Needle;
  if (request.normalizers.empty()) throw std::invalid_argument("normalizers must hold at least one spec");
  std::set<std::string> seen;
  for (const std::string& text : request.normalizers) {
    NormalizerSpec spec = parseNormalizer(text);
    validateNormalizer(spec, c);
    if (!seen.insert(spec.text()).second)
      throw std::invalid_argument("normalizers: '" + spec.text() + "' is given twice");
    grid.normalizers.push_back(spec.text());
  }
  grid.lengths = request.lengths;
  if (grid.lengths.empty())
    for (int64_t k : {1, 2, 4}) grid.lengths.push_back(k * c.n_ctx);
  grid.answer_tokens = needle ? kNeedleDigits : 0;  // tokens of at least one character cover the digits
  for (int64_t length : grid.lengths) {
    if (length < 2 || length > kMaxSweepLength)
      throw std::invalid_argument("lengths: " + std::to_string(length) + " is not in 2.." +
                                  std::to_string(kMaxSweepLength));
    // Learned positions (GPT-2) end at n_ctx: the prompt, its generated answer or a document's target token
    // must fit.
    const int64_t extent = length + (needle ? grid.answer_tokens : 1);
    if (c.arch == Architecture::Gpt2 && extent > c.n_ctx)
      throw std::invalid_argument("lengths: " + std::to_string(length) + " tokens (+" +
                                  std::to_string(extent - length) + ") exceed the " + c.model_type +
                                  " model's " + std::to_string(c.n_ctx) + " learned positions");
  }
  if (std::set<int64_t>(grid.lengths.begin(), grid.lengths.end()).size() != grid.lengths.size())
    throw std::invalid_argument("lengths: a length is given twice");
  grid.depths = needle ? request.depths : std::vector<double>{0.0};
  if (grid.depths.empty()) throw std::invalid_argument("depths must hold at least one depth");
  for (double d : grid.depths)
    if (!(d >= 0.0 && d <= 1.0)) throw std::invalid_argument("depths: each must be in [0, 1]");
  if (request.prompts_per_cell < 1 || request.prompts_per_cell > kMaxPromptsPerCell)
    throw std::invalid_argument("prompts_per_cell must be in 1.." + std::to_string(kMaxPromptsPerCell));
  grid.prompts_per_cell = request.prompts_per_cell;
  grid.seed = request.seed;
  if (!(request.distractors >= 0.0 && request.distractors <= 1000.0))
    throw std::invalid_argument("distractors must be in [0, 1000] per 1,000 tokens");
  if (!needle && request.distractors > 0) throw std::invalid_argument("distractors are for needle sweeps");
  grid.distractors = request.distractors;
  grid.haystack =
      s.options.haystack.empty() ? s.options.corpus.dir + " (held-out files)" : s.options.haystack;
  grid.haystack_hash = hashFiles(s.haystack.files);
  grid.bins_per_octave = 1;
  if (s.options.binned_stats)
    for (const StatisticInfo& info : statisticCatalogue())
      // Sums per bin of n need a value at every query: statistics that may be NaN are left to captures.
      if (info.per_context && !info.needs_targets && !info.may_be_nan) grid.stats.emplace_back(info.name);
  if (!needle) grid.loss_edges = lossBucketEdges(c.n_ctx, sweepMaxLength(grid));
  // Every length must hold a prompt (the first of each, as a check before any file is touched).
  for (int64_t length : grid.lengths) {
    if (needle)
      s.prompts->needle(length, grid.depths.front(), grid.seed, 0, grid.distractors);
    else
      s.prompts->document(length, grid.seed, 0);
  }
  return grid;
}

SweepRecord SweepSession::run(const SweepGrid& grid, const SweepCell& cell, int64_t normalizer) {
  State& s = *m_state;
  const bool needle = grid.mode == SweepMode::Needle;
  SweepRecord r;
  r.cell = cell.index;
  r.normalizer = normalizer;
  r.length = grid.lengths.at(cell.length_index);
  r.depth = grid.depths.at(cell.depth_index);
  r.prompt_index = cell.prompt_index;
  // The file's identity of the cell; the prompt itself is draw prompt_index of eval's stream
  // (sweep_prompts.h).
  r.seed = sweepCellSeed(grid, cell);
  // The normalizers of one cell share its prompt (built once).
  const PromptKey key{grid.mode, r.length, r.depth, cell.prompt_index, grid.seed, grid.distractors};
  if (!(s.prompt_key == key)) {
    s.prompt = needle ? s.prompts->needle(r.length, r.depth, grid.seed, cell.prompt_index, grid.distractors)
                      : s.prompts->document(r.length, grid.seed, cell.prompt_index);
    s.prompt_key = key;
  }
  if (s.spec_texts != grid.normalizers) {
    s.specs.clear();
    for (const std::string& text : grid.normalizers) s.specs.push_back(parseNormalizer(text));
    s.spec_texts = grid.normalizers;
  }
  if (s.source_stats != grid.stats) {
    s.sources.clear();
    const std::vector<const char*> rows = blockRowStatNames(false);
    for (const std::string& stat : grid.stats) {
      StatSource source;
      if (stat != kStatMultiplier) {
        auto it = std::find_if(rows.begin(), rows.end(), [&](const char* n) { return stat == n; });
        if (it == rows.end()) throw std::invalid_argument("stats: '" + stat + "' cannot be binned by n");
        source.row = it - rows.begin();
      }
      s.sources.push_back(source);
    }
    s.source_stats = grid.stats;
  }
  const SweepPrompt& prompt = s.prompt;
  const NormalizerSpec& spec = s.specs.at(normalizer);
  PromptObserver observer(grid, s.config, s.sources, prompt.ids, r.length, needle ? prompt.needle_begin : 0,
                          needle ? prompt.needle_end : 0);
  HookHandle hook =
      s.model->hooks().observeAttention(attentionPatternAllLayers(), [&](const AttentionBlock& b) {
        observer.onBlock(b);
        return HookResult::Continue;
      });
  torch::NoGradGuard no_grad;
  if (needle) {
    r.needle_begin = prompt.needle_begin;
    r.needle_end = prompt.needle_end;
    r.answer = prompt.answer;
    GenerateOptions options;
    options.max_new_tokens = grid.answer_tokens;
    options.normalizer = spec;
    const Generation generation = generateGreedy(*s.model, prompt.ids, options);
    r.generated = storableText(s.tokenizer->decode(generation.ids));
    r.correct = r.generated.compare(0, r.answer.size(), r.answer) == 0;
    int64_t in_place = 0;
    for (std::size_t i = 0; i < r.answer.size() && i < r.generated.size(); ++i)
      in_place += r.generated[i] == r.answer[i];
    r.digit_accuracy = static_cast<double>(in_place) / static_cast<double>(r.answer.size());
  } else {
    ForwardOptions options;
    options.normalizer = spec;
    auto ids = torch::tensor(prompt.ids, torch::kInt64).view({1, -1});                     // [1, length + 1]
    auto losses = s.model->tokenLosses(ids, options)[0].to(torch::kFloat64).contiguous();  // [length]
    const double* loss = losses.data_ptr<double>();
    const std::vector<int64_t>& edges = grid.loss_edges;
    for (std::size_t b = 0; b + 1 < edges.size(); ++b) {
      const int64_t lo = std::min(edges[b], r.length), hi = std::min(edges[b + 1], r.length);
      double sum = 0;
      for (int64_t p = lo; p < hi; ++p) sum += loss[p];
      r.loss_sums.push_back(sum);
      r.loss_counts.push_back(hi - lo);
    }
  }
  observer.finish(r);
  return r;
}

SweepResult runSweepCells(SweepSession& session, const SweepGrid& grid, const std::vector<int64_t>& cells,
                          const std::function<bool(int64_t, int64_t)>& stored,
                          const std::function<void(const SweepRecord&)>& sink,
                          const SweepProgressCallback& progress, const std::function<bool()>& cancel) {
  SweepResult result;
  const int64_t n_norm = static_cast<int64_t>(grid.normalizers.size());
  SweepProgress step;
  step.total = static_cast<int64_t>(cells.size()) * n_norm;
  result.n_total = step.total;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t index : cells) {
    const SweepCell cell = sweepCell(grid, index);
    for (int64_t k = 0; k < n_norm; ++k) {
      if (stored && stored(index, k)) {
        ++step.done;
        ++step.skipped;
        ++result.n_skipped;
        continue;
      }
      if (cancel && cancel()) {
        result.cancelled = true;
        return result;
      }
      const SweepRecord record = session.run(grid, cell, k);
      sink(record);
      ++result.n_written;
      ++step.done;
      step.seconds = secondsSince(start);
      step.eta_seconds =
          step.seconds / static_cast<double>(result.n_written) * static_cast<double>(step.total - step.done);
      char line[200];
      std::snprintf(line, sizeof line, "length %lld depth %g #%lld %s: %s",
                    static_cast<long long>(record.length), record.depth,
                    static_cast<long long>(record.prompt_index), grid.normalizers[k].c_str(),
                    grid.mode == SweepMode::Needle ? (record.correct ? "ok" : "missed") : "done");
      step.last = line;
      if (progress) progress(step);
    }
  }
  return result;
}

SweepResult runSweep(const SweepRequest& request, const SweepProgressCallback& progress,
                     const std::function<bool()>& cancel) {
  try {
    if (request.out.empty()) throw std::invalid_argument("out must name a sweep file");
    SweepSessionOptions options;
    options.model_dir = request.model_dir;
    options.dtype = request.dtype;
    options.rope_theta_scale = request.rope_theta_scale;
    options.haystack = request.haystack;
    SweepSession session(options);
    SweepHeader header;
    header.grid = session.makeGrid(request);
    header.model = session.describe();
    header.shard = request.shard;
    const std::vector<int64_t> cells = shardCells(header.grid, request.shard);  // checks the shard
    std::unique_ptr<SweepWriter> writer = SweepWriter::open(request.out, header, request.resume);
    SweepResult result = runSweepCells(
        session, header.grid, cells, [&](int64_t cell, int64_t k) { return writer->has(cell, k); },
        [&](const SweepRecord& record) { writer->append(record); }, progress, cancel);
    result.path = request.out;
    return result;
  } catch (const c10::Error& e) {
    throw std::runtime_error(torchErrorLine(e));
  }
}

}  // namespace attnscope
