// attnscope-cli eval: loss by position, needle retrieval and needle scores per head, on the sweep runner.

#include <algorithm>
#include <cstdio>
#include <map>

#include "commands.h"

namespace attnscope::cli {
namespace {

void printLoss(const EvalResult& result) {
  std::printf("loss per position (nats/%s, held-out text; training context %lld):\n",
              result.tokenizer == "bytes" ? "byte" : "token", static_cast<long long>(result.n_ctx));
  std::printf("  %-15s %8s %9s\n", "positions", "loss", "tokens");
  for (const LossBucket& b : result.loss) {
    char range[40];
    std::snprintf(range, sizeof range, "%lld-%lld", static_cast<long long>(b.pos_begin),
                  static_cast<long long>(b.pos_end - 1));
    std::printf("  %-15s %8.4f %9lld\n", range, b.loss, static_cast<long long>(b.n_tokens));
  }
}

void printNeedle(const EvalResult& result, const std::vector<double>& depths) {
  std::printf("needle retrieval, exact match of the 7 digits (rows: length, columns: needle depth):\n");
  std::printf("  %-8s", "length");
  for (double d : depths) std::printf(" %6.2f", d);
  std::printf(" %6s %8s\n", "mean", "digits");
  std::map<int64_t, std::vector<const NeedleResult*>> by_length;
  std::vector<int64_t> order;
  for (const NeedleResult& r : result.needle) {
    if (!by_length.count(r.length)) order.push_back(r.length);
    by_length[r.length].push_back(&r);
  }
  for (int64_t length : order) {
    double sum = 0, digits = 0;
    std::printf("  %-8lld", static_cast<long long>(length));
    for (const NeedleResult* r : by_length[length]) {
      std::printf(" %6.2f", r->accuracy);
      sum += r->accuracy;
      digits += r->digit_accuracy;
    }
    const double n = static_cast<double>(by_length[length].size());
    std::printf(" %6.2f %8.2f\n", sum / n, digits / n);
  }
}

void printHeads(const EvalResult& result) {
  std::printf("needle score: attention of the answer position on the needle, mean over depths; top heads:\n");
  std::map<int64_t, std::map<std::pair<int64_t, int64_t>, std::pair<double, int64_t>>> by_length;
  std::vector<int64_t> order;
  for (const NeedleHeadScore& h : result.heads) {
    if (!by_length.count(h.length)) order.push_back(h.length);
    auto& cell = by_length[h.length][{h.layer, h.head}];
    cell.first += h.needle_mass;
    cell.second += 1;
  }
  for (int64_t length : order) {
    std::vector<std::pair<double, std::pair<int64_t, int64_t>>> ranked;
    for (const auto& [head, cell] : by_length[length])
      ranked.push_back({cell.first / static_cast<double>(cell.second), head});
    std::sort(ranked.rbegin(), ranked.rend());
    std::printf("  %-8lld", static_cast<long long>(length));
    for (std::size_t i = 0; i < std::min<std::size_t>(4, ranked.size()); ++i)
      std::printf("  L%lld.H%lld %.3f", static_cast<long long>(ranked[i].second.first),
                  static_cast<long long>(ranked[i].second.second), ranked[i].first);
    std::printf("\n");
  }
}

}  // namespace

int runEval(const EvalOptions& options) {
  EvalParams params = options.params;
  params.dtype = parseComputeDtype(options.dtype);
  params.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  const EvalResult result = evaluateModel(options.model_dir, params);
  std::printf("eval %s: normalizer %s, rope_theta %g\n", options.model_dir.c_str(), result.normalizer.c_str(),
              result.rope_theta);
  printLoss(result);
  printNeedle(result, params.depths);
  printHeads(result);
  if (!options.csv.empty()) {
    writeEvalCsv(result, options.csv);
    std::printf("wrote %s\n", options.csv.c_str());
  }
  return 0;
}

}  // namespace attnscope::cli
