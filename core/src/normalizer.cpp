#include "attnscope/normalizer.h"

#include <cmath>
#include <stdexcept>

namespace attnscope {

void validateNormalizer(const NormalizerSpec& spec, const ModelConfig& config) {
  if (spec.kind != NormalizerKind::Ssmax) return;
  if (spec.use_learned) {
    if (!config.ssmax_learned)
      throw std::invalid_argument(
          "normalizer: this checkpoint has no learned SSMax parameters; give them, e.g. " +
          ssmaxSpec(0.3).text() + " or " + ssmaxContextSpec(static_cast<double>(config.n_ctx)).userText());
    return;
  }
  auto check = [&](const std::vector<double>& v, const char* what) {
    int64_t n = static_cast<int64_t>(v.size());
    if (n > 1 && n != config.n_layer && n != config.n_layer * config.n_head)
      throw std::invalid_argument(std::string("normalizer: ssmax ") + what + " has " + std::to_string(n) +
                                  " values; give 1, n_layer (" + std::to_string(config.n_layer) +
                                  ") or n_layer*n_head (" + std::to_string(config.n_layer * config.n_head) +
                                  ")");
  };
  check(spec.s, "s");
  check(spec.b, "b");
}

double positionMultiplier(const NormalizerSpec& spec, int64_t pos, int64_t n_visible) {
  switch (spec.kind) {
    case NormalizerKind::Logn:
      return static_cast<double>(n_visible) > spec.logn_base
                 ? std::log(static_cast<double>(n_visible)) / std::log(spec.logn_base)
                 : 1.0;
    case NormalizerKind::Temperature:
      return std::log1p(std::floor(static_cast<double>(pos + 1) / spec.floor_scale)) * spec.attn_scale + 1.0;
    default:
      return 1.0;
  }
}

}  // namespace attnscope
