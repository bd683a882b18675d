#include "row_stats.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <unordered_map>

#include <ATen/Parallel.h>

namespace attnscope {
namespace {

// A row is read in chunks of kChunk keys. The first, vectorised pass keeps each chunk's maximum; those maxima
// then locate the argmax and bound the top k without a scalar pass over the whole row.
constexpr int64_t kChunk = 32;

/// Scratch buffers of one thread.
struct RowScratch {
  std::vector<float> chunk_max, order, candidates;  // order: a heap of chunk maxima
};

/// Sums the k largest of p's n values, given the maxima of its chunks. The k-th largest chunk maximum t is a
/// lower bound of the k-th largest value (k chunks hold a value >= t), so only chunks whose maximum reaches t
/// can hold one of the k largest values.
float topkSum(const float* p, int64_t n, int64_t k, RowScratch& scratch) {
  if (k >= n) {
    float sum = 0.f;
    for (int64_t j = 0; j < n; ++j) sum += p[j];
    return sum;
  }
  const int64_t n_chunks = static_cast<int64_t>(scratch.chunk_max.size());
  std::vector<float>& candidates = scratch.candidates;
  candidates.clear();
  if (k >= n_chunks) {
    candidates.assign(p, p + n);
  } else {
    // The k-th largest chunk maximum, with a min-heap of the k largest seen: chunks rarely beat its top.
    std::vector<float>& best = scratch.order;
    best.assign(scratch.chunk_max.begin(), scratch.chunk_max.begin() + k);
    std::make_heap(best.begin(), best.end(), std::greater<>());
    for (int64_t c = k; c < n_chunks; ++c) {
      if (scratch.chunk_max[c] <= best.front()) continue;
      std::pop_heap(best.begin(), best.end(), std::greater<>());
      best.back() = scratch.chunk_max[c];
      std::push_heap(best.begin(), best.end(), std::greater<>());
    }
    const float bound = best.front();
    for (int64_t c = 0; c < n_chunks; ++c) {
      if (scratch.chunk_max[c] < bound) continue;
      for (int64_t j = c * kChunk, end = std::min(n, j + kChunk); j < end; ++j)
        if (p[j] >= bound) candidates.push_back(p[j]);
    }
  }
  std::nth_element(candidates.begin(), candidates.begin() + (k - 1), candidates.end(), std::greater<>());
  float sum = 0.f;
  for (int64_t i = 0; i < k; ++i) sum += candidates[i];
  return sum;
}

// Compiled twice where the compiler can: for AVX2 (8 floats, 4 doubles a vector) and for the baseline x86-64
// the project is built for; the loader picks one for the CPU at hand.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void rowStats(const float* p, const float* y, int64_t n, const RowStatsParams& params, const RowStatsOutput& out,
              int64_t row, RowScratch& scratch) {
  // Sums accumulate in double: a 64k-key row summed in float would lose ~1e-4 of the entropy.
  const int64_t n_chunks = (n + kChunk - 1) / kChunk;
  scratch.chunk_max.resize(n_chunks);
  float p_max = p[0];
  double p_sum = 0.0;
  for (int64_t c = 0; c < n_chunks; ++c) {
    const float* chunk = p + c * kChunk;
    const int64_t len = std::min(kChunk, n - c * kChunk);
    float m = chunk[0];
    double sum = 0.0;
#pragma omp simd reduction(max : m) reduction(+ : sum)
    for (int64_t j = 0; j < len; ++j) {
      m = std::max(m, chunk[j]);
      sum += chunk[j];
    }
    scratch.chunk_max[c] = m;
    p_max = std::max(p_max, m);
    p_sum += sum;
  }
  int64_t arg = 0;
  for (int64_t c = 0; c < n_chunks; ++c) {
    if (scratch.chunk_max[c] != p_max) continue;
    for (arg = c * kChunk; p[arg] != p_max;) ++arg;  // the chunk holds p_max
    break;
  }
  const float y_max = y[arg];
  // The query's own column: distances i − j are exact in float up to 2^24 keys (kMaxCaptureTokens).
  const int64_t i = params.q0 + (params.n_queries > 0 ? row % params.n_queries : row);
  const float column_i = static_cast<float>(i - params.k0);
  // gap = sum_j p_j (y_max - y_j). Hidden keys have p = 0 and y = -inf: capping the difference at a finite
  // value makes their term 0 without a branch, which keeps the loop vectorised. distance = sum_j p_j (i - j)
  // rides in the same pass (future keys have p = 0).
  constexpr float kFiniteCap = 1e30f;
  double gap = 0.0, distance = 0.0;
#pragma omp simd reduction(+ : gap, distance)
  for (int64_t j = 0; j < n; ++j) {
    float d = y_max - y[j];
    d = d < kFiniteCap ? d : kFiniteCap;  // written so that gcc turns it into a vector min
    gap += static_cast<double>(p[j] * d);
    distance += static_cast<double>(p[j] * (column_i - static_cast<float>(static_cast<int32_t>(j))));
  }

  out.max_prob[row] = p_max;
  out.argmax[row] = static_cast<float>(arg + params.k0);
  out.entropy[row] = static_cast<float>(std::max(0.0, gap - std::log(static_cast<double>(p_max)) * p_sum));
  out.sink_mass[row] = params.k0 == 0 ? p[0] : 0.f;
  out.topk_mass[row] = topkSum(p, n, std::max<int64_t>(1, params.topk), scratch);
  if (out.target_mass) {
    float mass = 0.f;
    for (const auto& [begin, end] : *params.targets) {
      const int64_t lo = std::max(begin, params.k0) - params.k0,
                    hi = std::min(end, params.k0 + n) - params.k0;
      for (int64_t j = lo; j < hi; ++j) mass += p[j];
    }
    out.target_mass[row] = mass;
  }
  if (out.mean_distance) out.mean_distance[row] = static_cast<float>(distance);
  // The probability on key position `key`, or NaN when the query cannot see it.
  const auto massOn = [&](int64_t key) {
    const bool visible = key >= 0 && key <= i && (params.window <= 0 || i - key < params.window);
    if (!visible) return std::numeric_limits<float>::quiet_NaN();
    return key >= params.k0 && key < params.k0 + n ? p[key - params.k0] : 0.f;
  };
  if (out.prev_token_mass) out.prev_token_mass[row] = massOn(i - 1);
  if (out.induction_mass)
    out.induction_mass[row] =
        massOn(params.induction_keys && i < static_cast<int64_t>(params.induction_keys->size())
                   ? (*params.induction_keys)[i]
                   : -1);
  if (out.local_mass) {
    const int64_t lo = std::max(i - std::max<int64_t>(1, params.local_window) + 1, params.k0) - params.k0,
                  hi = std::min(i + 1, params.k0 + n) - params.k0;
    double mass = 0.0;
    for (int64_t j = lo; j < hi; ++j) mass += p[j];
    out.local_mass[row] = static_cast<float>(mass);
  }
}

}  // namespace

std::vector<int64_t> inductionKeys(const std::vector<int64_t>& ids) {
  std::vector<int64_t> keys(ids.size(), -1);
  std::unordered_map<int64_t, int64_t> last;  // token id → its latest position so far
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto [it, fresh] = last.try_emplace(ids[i], static_cast<int64_t>(i));
    if (!fresh) {
      keys[i] = it->second + 1;
      it->second = static_cast<int64_t>(i);
    }
  }
  return keys;
}

void computeRowStats(const float* p, const float* logits, int64_t rows, int64_t n_keys,
                     const RowStatsParams& params, const RowStatsOutput& out) {
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, n_keys));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    RowScratch scratch;
    for (int64_t r = begin; r < end; ++r)
      rowStats(p + r * n_keys, logits + r * n_keys, n_keys, params, out, r, scratch);
  });
}

}  // namespace attnscope
