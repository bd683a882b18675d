#include "row_stats.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include <ATen/Parallel.h>

namespace attnscope {
namespace {

/// Sums the k largest values of a row with a min-heap of the best k seen so far.
float topkSum(const float* p, int64_t n, int64_t k, std::vector<float>& heap) {
  if (k >= n) {
    float sum = 0.f;
    for (int64_t j = 0; j < n; ++j) sum += p[j];
    return sum;
  }
  heap.assign(p, p + k);
  std::make_heap(heap.begin(), heap.end(), std::greater<float>());
  float threshold = heap.front();
  for (int64_t j = k; j < n; ++j) {
    if (p[j] <= threshold) continue;  // the common case once the heap holds large values
    std::pop_heap(heap.begin(), heap.end(), std::greater<float>());
    heap.back() = p[j];
    std::push_heap(heap.begin(), heap.end(), std::greater<float>());
    threshold = heap.front();
  }
  float sum = 0.f;
  for (float v : heap) sum += v;
  return sum;
}

void rowStats(const float* p, const float* y, int64_t n, const RowStatsParams& params, const RowStatsOutput& out,
              int64_t row, std::vector<float>& heap) {
  // Sums accumulate in double: a 64k-key row summed in float would lose ~1e-4 of the entropy.
  float p_max = p[0];
  double p_sum = 0.0;
#pragma omp simd reduction(max : p_max) reduction(+ : p_sum)
  for (int64_t j = 0; j < n; ++j) {
    p_max = std::max(p_max, p[j]);
    p_sum += p[j];
  }
  int64_t arg = 0;
  while (arg < n - 1 && p[arg] != p_max) ++arg;
  const float y_max = y[arg];
  double gap = 0.0;  // sum_j p_j (y_max - y_j); hidden keys (p = 0, y = -inf) contribute nothing
#pragma omp simd reduction(+ : gap)
  for (int64_t j = 0; j < n; ++j) gap += p[j] > 0.f ? static_cast<double>(p[j]) * (y_max - y[j]) : 0.0;

  out.max_prob[row] = p_max;
  out.argmax[row] = static_cast<float>(arg + params.k0);
  out.entropy[row] = static_cast<float>(std::max(0.0, gap - std::log(static_cast<double>(p_max)) * p_sum));
  out.sink_mass[row] = params.k0 == 0 ? p[0] : 0.f;
  out.topk_mass[row] = topkSum(p, n, std::max<int64_t>(1, params.topk), heap);
  if (out.target_mass) {
    float mass = 0.f;
    for (const auto& [begin, end] : *params.targets) {
      const int64_t lo = std::max(begin, params.k0) - params.k0, hi = std::min(end, params.k0 + n) - params.k0;
      for (int64_t j = lo; j < hi; ++j) mass += p[j];
    }
    out.target_mass[row] = mass;
  }
}

}  // namespace

void computeRowStats(const float* p, const float* logits, int64_t rows, int64_t n_keys, const RowStatsParams& params,
                     const RowStatsOutput& out) {
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, n_keys));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> heap;
    for (int64_t r = begin; r < end; ++r) rowStats(p + r * n_keys, logits + r * n_keys, n_keys, params, out, r, heap);
  });
}

}  // namespace attnscope
