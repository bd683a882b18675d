#include "attnscope/normalizer_spec.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "attnscope/text_input.h"

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

/// Returns v with at most `digits` significant digits (0: exactly, as shortestText); whole numbers (a
/// context length, a floor) stay exact.
std::string numberText(double v, int digits) {
  if (digits <= 0 || (v == std::floor(v) && std::abs(v) < 1e15)) return shortestText(v);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, v);
  return shortestText(std::strtod(buffer, nullptr));
}

std::string joinValues(const std::vector<double>& v, int digits = 0) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "/" : "") + numberText(v[i], digits);
  return out;
}

}  // namespace

double NormalizerSpec::sAt(int64_t layer, int64_t head, int64_t n_layer, int64_t n_head) const {
  return valueAt(s, layer, head, n_layer, n_head, 1.0);
}

double NormalizerSpec::bAt(int64_t layer, int64_t head, int64_t n_layer, int64_t n_head) const {
  return valueAt(b, layer, head, n_layer, n_head, 0.0);
}

namespace {

/// The spec's text: canonical (s as numbers) or as a user writes it (ssmax:ctx=N), numbers exact (digits 0)
/// or rounded to `digits` significant digits.
std::string specText(const NormalizerSpec& spec, bool user_form, int digits) {
  std::ostringstream out;
  out << normalizerKeyword(spec.kind);
  switch (spec.kind) {
    case NormalizerKind::Softmax:
      break;
    case NormalizerKind::Ssmax:
      if (spec.use_learned) break;
      if (user_form && spec.ssmax_ctx > 0)
        out << ':' << kKeyCtx << '=' << numberText(spec.ssmax_ctx, digits);
      else
        out << ':' << kKeyS << '=' << joinValues(spec.s, digits);
      if (!spec.b.empty()) out << ',' << kKeyB << '=' << joinValues(spec.b, digits);
      break;
    case NormalizerKind::Logn:
      out << ':' << kKeyL << '=' << numberText(spec.logn_base, digits);
      break;
    case NormalizerKind::Temperature:
      out << ':' << kKeyFloor << '=' << numberText(spec.floor_scale, digits) << ',' << kKeyScale << '='
          << numberText(spec.attn_scale, digits);
      break;
  }
  return out.str();
}

}  // namespace

std::string NormalizerSpec::text() const {
  return specText(*this, false, 0);
}

std::string NormalizerSpec::userText() const {
  return specText(*this, true, 0);
}

std::string NormalizerSpec::label(int digits) const {
  return specText(*this, true, digits);
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
