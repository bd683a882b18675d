#include "attnscope/evaluate.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <stdexcept>

#include <c10/util/Exception.h>

#include "attnscope/model.h"
#include "attnscope/runtime.h"
#include "attnscope/tokenizer.h"
#include "sweep_runner.h"

namespace attnscope {
namespace {

/// Runs every cell of a grid through the session, keeping the records in memory (eval writes no sweep file).
std::vector<SweepRecord> runAll(SweepSession& session, const SweepGrid& grid,
                                const std::function<void(const SweepProgress&)>& progress) {
  std::vector<int64_t> cells(static_cast<std::size_t>(grid.cellCount()));
  for (std::size_t i = 0; i < cells.size(); ++i) cells[i] = static_cast<int64_t>(i);
  std::vector<SweepRecord> records;
  runSweepCells(session, grid, cells, {}, [&](const SweepRecord& r) { records.push_back(r); }, progress, {});
  return records;
}

/// Mean loss per position bucket over the documents' records.
std::vector<LossBucket> lossBuckets(const SweepGrid& grid, const std::vector<SweepRecord>& records) {
  std::vector<LossBucket> buckets(grid.loss_edges.size() - 1);
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    double sum = 0;
    int64_t count = 0;
    for (const SweepRecord& r : records) {
      sum += r.loss_sums[b];
      count += r.loss_counts[b];
    }
    buckets[b] = {grid.loss_edges[b], grid.loss_edges[b + 1],
                  count > 0 ? sum / static_cast<double>(count) : 0, count};
  }
  return buckets;
}

/// Accuracy and mean needle score per head of each (length, depth) over its prompts.
void needleTables(const SweepGrid& grid, const std::vector<SweepRecord>& records, int64_t n_layer,
                  int64_t n_head, EvalResult& result) {
  const int64_t n_depths = static_cast<int64_t>(grid.depths.size());
  for (std::size_t li = 0; li < grid.lengths.size(); ++li) {
    for (int64_t di = 0; di < n_depths; ++di) {
      NeedleResult r;
      r.length = grid.lengths[li];
      r.depth = grid.depths[di];
      std::vector<double> mass(n_layer * n_head, 0.0);
      for (const SweepRecord& rec : records) {
        const SweepCell cell = sweepCell(grid, rec.cell);
        if (cell.length_index != static_cast<int64_t>(li) || cell.depth_index != di) continue;
        ++r.n_prompts;
        r.accuracy += rec.correct;
        r.digit_accuracy += rec.digit_accuracy;
        for (std::size_t i = 0; i < mass.size(); ++i) mass[i] += rec.needle_scores[i];
      }
      const double n = static_cast<double>(std::max<int64_t>(1, r.n_prompts));
      r.accuracy /= n;
      r.digit_accuracy /= n;
      result.needle.push_back(r);
      for (int64_t l = 0; l < n_layer; ++l)
        for (int64_t h = 0; h < n_head; ++h)
          result.heads.push_back({r.length, r.depth, l, h, mass[l * n_head + h] / n});
    }
  }
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
  SweepSessionOptions options;
  options.model_dir = model_dir;
  options.dtype = params.dtype;
  options.rope_theta_scale = params.rope_theta_scale;
  options.corpus = params.corpus;
  options.binned_stats = false;  // eval's tables read none
  if (params.n_needle_prompts < 1 || params.n_loss_sequences < 1)
    throw std::invalid_argument("eval: needle prompts and loss sequences must be at least 1");
  SweepSession session(options);
  const ModelConfig& config = session.model().config();
  SweepRequest needle;
  needle.model_dir = model_dir;
  needle.normalizers = {params.normalizer};
  needle.lengths = params.lengths;
  if (needle.lengths.empty())
    for (int64_t k : {1, 2, 4, 8, 16}) needle.lengths.push_back(k * config.n_ctx);
  needle.depths = params.depths;
  needle.prompts_per_cell = params.n_needle_prompts;
  needle.seed = params.seed;
  // The loss runs on documents as long as the longest needle prompt, drawn from the same seed.
  SweepRequest documents = needle;
  documents.mode = SweepMode::Documents;
  documents.lengths = {*std::max_element(needle.lengths.begin(), needle.lengths.end())};
  documents.prompts_per_cell = params.n_loss_sequences;
  const SweepGrid loss_grid = session.makeGrid(documents);
  const SweepGrid needle_grid = session.makeGrid(needle);

  EvalResult result;
  result.normalizer = needle_grid.normalizers.front();
  result.rope_theta = config.rope_theta;
  result.n_ctx = config.n_ctx;
  result.tokenizer = session.tokenizer().kind();
  auto report = [&](const std::string& what) {
    return [&params, what](const SweepProgress& p) {
      if (params.progress && p.done == p.total)
        params.progress(what + ": " + std::to_string(p.done) + " prompt(s) (" +
                        std::to_string(static_cast<int64_t>(p.seconds)) + " s)");
    };
  };
  result.loss = lossBuckets(loss_grid, runAll(session, loss_grid, report("loss")));
  needleTables(needle_grid, runAll(session, needle_grid, report("needle")), config.n_layer, config.n_head,
               result);
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
        << r.n_prompts * kNeedleDigits << "\n";
  }
  for (const NeedleHeadScore& h : result.heads)
    out << "needle_mass," << lead << h.length << "," << csvNumber(h.depth) << "," << h.layer << "," << h.head
        << ",,," << csvNumber(h.needle_mass) << ",\n";
  if (!out.flush()) throw std::runtime_error(path + ": cannot write");
}

}  // namespace attnscope
