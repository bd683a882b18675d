#include "attnscope/normalizer.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "attnscope/text_input.h"

namespace attnscope {
namespace {

std::vector<double> parseValues(const std::string& key, const std::string& text) {
  std::vector<double> out;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find('/', start);
    std::string item = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    char* stop = nullptr;
    double v = std::strtod(item.c_str(), &stop);
    if (item.empty() || *stop != '\0' || !std::isfinite(v))
      throw std::invalid_argument("normalizer: '" + key + "=" + text +
                                  "' is not a number or a '/'-separated list");
    out.push_back(v);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

double parseNumber(const std::string& key, const std::string& text) {
  auto v = parseValues(key, text);
  if (v.size() != 1) throw std::invalid_argument("normalizer: '" + key + "' takes a single number");
  return v[0];
}

double valueAt(const std::vector<double>& v, int64_t layer, int64_t head, int64_t n_layer, int64_t n_head,
               double fallback) {
  if (v.empty()) return fallback;
  if (v.size() == 1) return v[0];
  if (static_cast<int64_t>(v.size()) == n_layer) return v[layer];
  return v[layer * n_head + head];
}

/// Returns the shortest decimal text that reads back as exactly v ("0.1", not "0.10000000000000001").
std::string shortestText(double v) {
  char buffer[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, v);
    if (std::strtod(buffer, nullptr) == v) break;
  }
  return buffer;
}

std::string joinValues(const std::vector<double>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "/" : "") + shortestText(v[i]);
  return out;
}

}  // namespace

double NormalizerSpec::sAt(int64_t layer, int64_t head, int64_t n_layer, int64_t n_head) const {
  return valueAt(s, layer, head, n_layer, n_head, 1.0);
}

double NormalizerSpec::bAt(int64_t layer, int64_t head, int64_t n_layer, int64_t n_head) const {
  return valueAt(b, layer, head, n_layer, n_head, 0.0);
}

std::string NormalizerSpec::text() const {
  std::ostringstream out;
  switch (kind) {
    case NormalizerKind::Softmax:
      return "softmax";
    case NormalizerKind::Ssmax:
      if (use_learned) return "ssmax";
      out << "ssmax:s=" << joinValues(s);
      if (!b.empty()) out << ",b=" << joinValues(b);
      return out.str();
    case NormalizerKind::Logn:
      out << "logn:L=" << shortestText(logn_base);
      return out.str();
    case NormalizerKind::Temperature:
      out << "temperature:floor=" << shortestText(floor_scale) << ",scale=" << shortestText(attn_scale);
      return out.str();
  }
  return "softmax";
}

NormalizerSpec parseNormalizer(const std::string& text) {
  NormalizerSpec spec;
  std::string name = text.substr(0, text.find(':'));
  std::string params = text.size() > name.size() ? text.substr(name.size() + 1) : "";
  if (name == "softmax") {
    spec.kind = NormalizerKind::Softmax;
  } else if (name == "ssmax") {
    spec.kind = NormalizerKind::Ssmax;
  } else if (name == "logn") {
    spec.kind = NormalizerKind::Logn;
  } else if (name == "temperature") {
    spec.kind = NormalizerKind::Temperature;
  } else {
    throw std::invalid_argument("normalizer: unknown kind '" + name +
                                "' (softmax, ssmax, logn, temperature)");
  }
  if (text.find(':') != std::string::npos && params.empty())
    throw std::invalid_argument("normalizer: '" + text + "' has an empty parameter list");

  bool have_l = false;
  for (const std::string& item : splitList(params)) {
    std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument("normalizer: parameter '" + item + "' is not key=value");
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (spec.kind == NormalizerKind::Ssmax && key == "s") {
      spec.s = parseValues(key, value);
    } else if (spec.kind == NormalizerKind::Ssmax && key == "b") {
      spec.b = parseValues(key, value);
    } else if (spec.kind == NormalizerKind::Ssmax && key == "ctx") {
      double ctx = parseNumber(key, value);
      if (!(ctx > 1)) throw std::invalid_argument("normalizer: ssmax ctx must be > 1");
      spec.s = {1.0 / std::log(ctx)};
    } else if (spec.kind == NormalizerKind::Logn && key == "L") {
      spec.logn_base = parseNumber(key, value);
      have_l = true;
    } else if (spec.kind == NormalizerKind::Temperature && key == "floor") {
      spec.floor_scale = parseNumber(key, value);
    } else if (spec.kind == NormalizerKind::Temperature && key == "scale") {
      spec.attn_scale = parseNumber(key, value);
    } else {
      throw std::invalid_argument("normalizer: '" + name + "' has no parameter '" + key + "'");
    }
  }
  if (spec.kind == NormalizerKind::Ssmax) {
    if (spec.s.empty() && !spec.b.empty())
      throw std::invalid_argument("normalizer: ssmax b= needs s= (or use learned parameters: plain 'ssmax')");
    spec.use_learned = spec.s.empty();
  }
  if (spec.kind == NormalizerKind::Logn && (!have_l || !(spec.logn_base > 1)))
    throw std::invalid_argument("normalizer: logn needs L > 1, e.g. logn:L=2048");
  if (spec.kind == NormalizerKind::Temperature && !(spec.floor_scale >= 1))
    throw std::invalid_argument("normalizer: temperature floor must be >= 1");
  return spec;
}

void validateNormalizer(const NormalizerSpec& spec, const ModelConfig& config) {
  if (spec.kind != NormalizerKind::Ssmax) return;
  if (spec.use_learned) {
    if (!config.ssmax_learned)
      throw std::invalid_argument(
          "normalizer: this checkpoint has no learned SSMax parameters; give them, e.g. ssmax:s=0.3 or "
          "ssmax:ctx=" +
          std::to_string(config.n_ctx));
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
