#include "rope.h"

#include <algorithm>
#include <cmath>

namespace attnscope {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Dimension index at which a RoPE pair completes `rotations` turns over `max_pos` positions (YaRN).
double yarnCorrectionDim(double rotations, int64_t dim, double base, double max_pos) {
  return (dim * std::log(max_pos / (rotations * 2 * kPi))) / (2 * std::log(base));
}

/// Returns cos and sin [..., rotary dim] (float32, times the attention factor) of int64 positions [...] for
/// inverse frequencies inv [rotary dim / 2], in the rotate-half layout.
std::pair<torch::Tensor, torch::Tensor> rotaryCosSin(const torch::Tensor& positions,
                                                     const std::vector<double>& inv,
                                                     double attention_factor) {
  // Angles in double: fp32 position × frequency loses digits at long contexts.
  auto angles = positions.to(torch::kFloat64).unsqueeze(-1) * torch::tensor(inv, torch::kFloat64);
  auto full = torch::cat({angles, angles}, -1);
  return {(full.cos() * attention_factor).to(torch::kFloat32),
          (full.sin() * attention_factor).to(torch::kFloat32)};
}

}  // namespace

Rope::Rope(const ModelConfig& config) : m_config(config) {
  const RopeScaling& rs = config.rope_scaling;
  m_depends_on_len = rs.type == "dynamic";
  if (rs.type == "longrope") m_attention_factor = rs.attention_factor.value_or(1.0);
  if (rs.type == "yarn")
    m_attention_factor =
        rs.attention_factor ? *rs.attention_factor : (rs.factor > 1 ? 0.1 * std::log(rs.factor) + 1.0 : 1.0);
}

std::vector<double> Rope::inverseFrequencies(int64_t n_pos) const {
  const RopeScaling& rs = m_config.rope_scaling;
  const int64_t dim = m_config.rotaryDim();
  double base = m_config.rope_theta;
  if (rs.type == "dynamic" && n_pos > m_config.n_ctx) {
    // NTK-aware: grow the base so the longest wavelength stretches over the longer sequence.
    double ratio =
        rs.factor * static_cast<double>(n_pos) / static_cast<double>(m_config.n_ctx) - (rs.factor - 1);
    base *= std::pow(ratio, static_cast<double>(dim) / static_cast<double>(dim - 2));
  }
  std::vector<double> inv(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) inv[i] = 1.0 / std::pow(base, static_cast<double>(2 * i) / dim);

  if (rs.type == "linear") {
    for (double& f : inv) f /= rs.factor;
  } else if (rs.type == "longrope") {
    // Phi-3: per-frequency divisors, the long set once the sequence outgrows the pretraining context.
    const std::vector<double>& ext = frequencySet(n_pos) ? rs.long_factor : rs.short_factor;
    for (int64_t i = 0; i < dim / 2; ++i) inv[i] /= ext.at(i);
  } else if (rs.type == "llama3") {
    const double old_len = static_cast<double>(rs.original_max_position_embeddings);
    const double low_wavelen = old_len / rs.low_freq_factor;
    const double high_wavelen = old_len / rs.high_freq_factor;
    for (double& f : inv) {
      double wavelen = 2 * kPi / f;
      if (wavelen > low_wavelen) {
        f /= rs.factor;  // long wavelengths: interpolate fully
      } else if (wavelen >= high_wavelen) {
        // Medium wavelengths: blend interpolation and extrapolation smoothly.
        double smooth = (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        f = (1 - smooth) * f / rs.factor + smooth * f;
      }
    }
  } else if (rs.type == "yarn") {
    const double max_pos = static_cast<double>(rs.original_max_position_embeddings);
    double low = std::floor(yarnCorrectionDim(rs.beta_fast, dim, m_config.rope_theta, max_pos));
    double high = std::ceil(yarnCorrectionDim(rs.beta_slow, dim, m_config.rope_theta, max_pos));
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(dim - 1));
    if (low == high) high += 0.001;  // avoid a zero-width ramp
    for (int64_t i = 0; i < dim / 2; ++i) {
      double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      double extrapolation_weight = 1.0 - ramp;
      double interpolated = inv[i] / rs.factor;
      inv[i] = interpolated * (1 - extrapolation_weight) + inv[i] * extrapolation_weight;
    }
  }
  return inv;
}

int64_t Rope::frequencySet(int64_t n_pos) const {
  const RopeScaling& rs = m_config.rope_scaling;
  return rs.type == "longrope" && n_pos > rs.original_max_position_embeddings ? 1 : 0;
}

std::pair<torch::Tensor, torch::Tensor> Rope::cosSin(int64_t n_pos) {
  bool reuse = m_cached_len >= 0 && (m_depends_on_len ? m_cached_len == n_pos
                                                      : m_cached_len >= n_pos && frequencySet(m_cached_len) ==
                                                                                     frequencySet(n_pos));
  if (!reuse) {
    // A cached decode asks for one more position per step: unless the frequencies depend on the length, make
    // room for twice as many so the table is rebuilt O(log n) times, not at every step.
    int64_t rows = n_pos;
    if (!m_depends_on_len && m_cached_len > 0 && n_pos > m_cached_len &&
        frequencySet(2 * m_cached_len) == frequencySet(n_pos))
      rows = std::max(n_pos, 2 * m_cached_len);
    std::tie(m_cos, m_sin) =
        rotaryCosSin(torch::arange(rows, torch::kInt64), inverseFrequencies(n_pos), m_attention_factor);
    m_cached_len = rows;
  }
  if (m_cached_len == n_pos) return {m_cos, m_sin};
  return {m_cos.narrow(0, 0, n_pos), m_sin.narrow(0, 0, n_pos)};
}

std::pair<torch::Tensor, torch::Tensor> Rope::cosSinAt(int64_t first, int64_t count) {
  auto [cos, sin] = cosSin(first + count);
  if (first == 0) return {cos, sin};
  return {cos.narrow(0, first, count), sin.narrow(0, first, count)};
}

std::pair<torch::Tensor, torch::Tensor> Rope::cosSinOf(const torch::Tensor& positions) const {
  const int64_t n_pos = positions.numel() > 0 ? positions.max().item<int64_t>() + 1 : 1;
  auto [cos, sin] = rotaryCosSin(positions, inverseFrequencies(n_pos), m_attention_factor);
  if (positions.dim() == 2) cos = cos.unsqueeze(1), sin = sin.unsqueeze(1);  // [B, 1, T, rotary]
  return {cos, sin};
}

torch::Tensor Rope::apply(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t dim = cos.size(-1);
  if (dim < x.size(-1)) {
    return torch::cat({apply(x.narrow(-1, 0, dim), cos, sin), x.narrow(-1, dim, x.size(-1) - dim)}, -1);
  }
  const int64_t half = dim / 2;
  auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

}  // namespace attnscope
