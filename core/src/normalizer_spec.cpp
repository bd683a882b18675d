#include "attnscope/normalizer_spec.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "vocabulary_text.h"

namespace attnscope {
namespace {

// Parameter names of the grammar.
constexpr char kKeyS[] = "s";
constexpr char kKeyB[] = "b";
constexpr char kKeyCtx[] = "ctx";
constexpr char kKeyL[] = "L";
constexpr char kKeyFloor[] = "floor";
constexpr char kKeyScale[] = "scale";

constexpr std::pair<const char*, NormalizerKind> kKeywords[] = {
    {kNormalizerSoftmax, NormalizerKind::Softmax},
    {kNormalizerSsmax, NormalizerKind::Ssmax},
    {kNormalizerLogn, NormalizerKind::Logn},
    {kNormalizerTemperature, NormalizerKind::Temperature},
};

std::vector<double> parseValues(const std::string& key, const std::string& text) {
  std::vector<double> out;
  for (const std::string& item : splitList(text, '/')) {
    char* stop = nullptr;
    double v = std::strtod(item.c_str(), &stop);
    if (item.empty() || *stop != '\0' || !std::isfinite(v))
      throw std::invalid_argument("normalizer: '" + key + "=" + text +
                                  "' is not a number or a '/'-separated list");
    out.push_back(v);
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
  out << normalizerKeyword(kind);
  switch (kind) {
    case NormalizerKind::Softmax:
      break;
    case NormalizerKind::Ssmax:
      if (use_learned) break;
      out << ':' << kKeyS << '=' << joinValues(s);
      if (!b.empty()) out << ',' << kKeyB << '=' << joinValues(b);
      break;
    case NormalizerKind::Logn:
      out << ':' << kKeyL << '=' << shortestText(logn_base);
      break;
    case NormalizerKind::Temperature:
      out << ':' << kKeyFloor << '=' << shortestText(floor_scale) << ',' << kKeyScale << '='
          << shortestText(attn_scale);
      break;
  }
  return out.str();
}

std::string NormalizerSpec::userText() const {
  if (kind != NormalizerKind::Ssmax || use_learned || !(ssmax_ctx > 0)) return text();
  std::ostringstream out;
  out << normalizerKeyword(kind) << ':' << kKeyCtx << '=' << shortestText(ssmax_ctx);
  if (!b.empty()) out << ',' << kKeyB << '=' << joinValues(b);
  return out.str();
}

NormalizerSpec learnedSsmaxSpec() {
  NormalizerSpec spec;
  spec.kind = NormalizerKind::Ssmax;
  spec.use_learned = true;
  return spec;
}

NormalizerSpec ssmaxSpec(double s) {
  NormalizerSpec spec;
  spec.kind = NormalizerKind::Ssmax;
  spec.s = {s};
  return spec;
}

NormalizerSpec ssmaxContextSpec(double ctx) {
  NormalizerSpec spec = ssmaxSpec(1.0 / std::log(ctx));
  spec.ssmax_ctx = ctx;
  return spec;
}

NormalizerSpec lognSpec(double base) {
  NormalizerSpec spec;
  spec.kind = NormalizerKind::Logn;
  spec.logn_base = base;
  return spec;
}

NormalizerSpec temperatureSpec(double floor_scale, double attn_scale) {
  NormalizerSpec spec;
  spec.kind = NormalizerKind::Temperature;
  spec.floor_scale = floor_scale;
  spec.attn_scale = attn_scale;
  return spec;
}

const char* normalizerKeyword(NormalizerKind kind) {
  for (const auto& [keyword, k] : kKeywords)
    if (k == kind) return keyword;
  return kNormalizerSoftmax;
}

std::string normalizerSyntax() {
  std::ostringstream out;
  out << kNormalizerSoftmax << " | " << kNormalizerSsmax << " (learned) | " << kNormalizerSsmax << ':'
      << kKeyS << "=S[," << kKeyB << "=B] | " << kNormalizerSsmax << ':' << kKeyCtx << "=N | "
      << kNormalizerLogn << ':' << kKeyL << "=N | " << kNormalizerTemperature << ':' << kKeyFloor << "=F,"
      << kKeyScale << "=S";
  return out.str();
}

NormalizerSpec parseNormalizer(const std::string& text) {
  NormalizerSpec spec;
  std::string name = text.substr(0, text.find(':'));
  std::string params = text.size() > name.size() ? text.substr(name.size() + 1) : "";
  bool known = false;
  std::string kinds;
  for (const auto& [keyword, kind] : kKeywords) {
    if (name == keyword) spec.kind = kind, known = true;
    kinds += (kinds.empty() ? "" : ", ") + std::string(keyword);
  }
  if (!known) throw std::invalid_argument("normalizer: unknown kind '" + name + "' (" + kinds + ")");
  if (text.find(':') != std::string::npos && params.empty())
    throw std::invalid_argument("normalizer: '" + text + "' has an empty parameter list");

  bool have_l = false;
  for (const std::string& item : splitListOpenEnd(params, ',')) {
    std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument("normalizer: parameter '" + item + "' is not key=value");
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (spec.kind == NormalizerKind::Ssmax && key == kKeyS) {
      spec.s = parseValues(key, value);
      spec.ssmax_ctx = 0;
    } else if (spec.kind == NormalizerKind::Ssmax && key == kKeyB) {
      spec.b = parseValues(key, value);
    } else if (spec.kind == NormalizerKind::Ssmax && key == kKeyCtx) {
      double ctx = parseNumber(key, value);
      if (!(ctx > 1)) throw std::invalid_argument("normalizer: ssmax ctx must be > 1");
      spec.s = {1.0 / std::log(ctx)};
      spec.ssmax_ctx = ctx;
    } else if (spec.kind == NormalizerKind::Logn && key == kKeyL) {
      spec.logn_base = parseNumber(key, value);
      have_l = true;
    } else if (spec.kind == NormalizerKind::Temperature && key == kKeyFloor) {
      spec.floor_scale = parseNumber(key, value);
    } else if (spec.kind == NormalizerKind::Temperature && key == kKeyScale) {
      spec.attn_scale = parseNumber(key, value);
    } else {
      throw std::invalid_argument("normalizer: '" + name + "' has no parameter '" + key + "'");
    }
  }
  if (spec.kind == NormalizerKind::Ssmax) {
    if (spec.s.empty() && !spec.b.empty())
      throw std::invalid_argument("normalizer: ssmax b= needs s= (or use learned parameters: plain '" +
                                  std::string(kNormalizerSsmax) + "')");
    spec.use_learned = spec.s.empty();
  }
  if (spec.kind == NormalizerKind::Logn && (!have_l || !(spec.logn_base > 1)))
    throw std::invalid_argument("normalizer: logn needs L > 1, e.g. " + lognSpec(2048).text());
  if (spec.kind == NormalizerKind::Temperature && !(spec.floor_scale >= 1))
    throw std::invalid_argument("normalizer: temperature floor must be >= 1");
  return spec;
}

}  // namespace attnscope
