#pragma once
// The normalizer spec grammar: the text that names a run's normalizer ("softmax", "ssmax:ctx=256", ...),
// parsed into a NormalizerSpec and printed back. The one place normalizer keywords and parameter names are
// spelled; the CLI, the GUI and the core all parse and print through it. No torch, no Qt: the computation is
// the core's (attnscope/normalizer.h).
//
//   softmax                            m = 1
//   ssmax                              m = s·ln n + b with the checkpoint's learned s (and b)
//   ssmax:s=S[,b=B]                    S, B: one value, n_layer values or n_layer·n_head values,
//   '/'-separated ssmax:ctx=N[,b=B]                  s = 1/ln N logn:L=N                           m = ln n /
//   ln L for n > L, else 1 temperature:floor=F,scale=S        m = log1p(floor((pos + 1) / F))·S + 1 (defaults
//   8192, 0.1)

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

// Keywords, also the values of config.json's "attention_normalizer" (softmax, ssmax).
inline constexpr char kNormalizerSoftmax[] = "softmax";
inline constexpr char kNormalizerSsmax[] = "ssmax";
inline constexpr char kNormalizerLogn[] = "logn";
inline constexpr char kNormalizerTemperature[] = "temperature";

enum class NormalizerKind {
  Softmax,      // m = 1
  Ssmax,        // m = s·ln(n) + b, n = number of keys the query sees (arXiv 2501.19399)
  Logn,         // m = ln(n)/ln(L) for n > L, else 1 (Qwen-1 use_logn_attn)
  Temperature,  // m = log1p(floor((pos + 1) / floor_scale)) · attn_scale + 1 (Llama 4), pos 0-based
};

/// One normalizer and its parameters, as chosen for a run. Parse from text with parseNormalizer().
struct NormalizerSpec {
  NormalizerKind kind = NormalizerKind::Softmax;
  /// SSMax: take s (and b) from the checkpoint's learned tensors instead of s/b below.
  bool use_learned = false;
  /// SSMax s and b: one value for all, n_layer values (per layer) or n_layer·n_head values ([layer][head]).
  std::vector<double> s;
  std::vector<double> b;
  /// SSMax: the N of "ssmax:ctx=N" that set s = {1/ln N}; 0 when s was given as numbers or is learned.
  double ssmax_ctx = 0;
  double logn_base = 0.0;     // Logn: L
  double floor_scale = 8192;  // Temperature
  double attn_scale = 0.1;    // Temperature

  /// Returns the canonical text form (s as numbers), parseable by parseNormalizer(); capture files store it.
  std::string text() const;
  /// Returns the text as a user writes it: text(), but "ssmax:ctx=N" stays in that form.
  std::string userText() const;
  /// Returns userText() with numbers rounded to `digits` significant digits, for names and labels
  /// ("ssmax:s=0.18"); text() keeps the exact values.
  std::string label(int digits = 3) const;
  /// Returns s (or b) for one layer and head; b defaults to 0.
  double sAt(int64_t layer, int64_t head, int64_t n_layer, int64_t n_head) const;
  double bAt(int64_t layer, int64_t head, int64_t n_layer, int64_t n_head) const;
};

/// Specs built from numbers, for front ends that offer the common forms as controls.
NormalizerSpec learnedSsmaxSpec();
NormalizerSpec ssmaxSpec(double s);
NormalizerSpec ssmaxContextSpec(double ctx);  // s = 1/ln ctx, printed by userText() as ssmax:ctx=N
NormalizerSpec lognSpec(double base);
NormalizerSpec temperatureSpec(double floor_scale, double attn_scale);

/// Parses any form of the grammar above. Throws std::invalid_argument with a one-line reason.
NormalizerSpec parseNormalizer(const std::string& text);

/// The keyword of a kind ("softmax", "ssmax", "logn", "temperature").
const char* normalizerKeyword(NormalizerKind kind);

/// The grammar in one line, for help texts: "softmax | ssmax | ssmax:s=S[,b=B] | ...".
std::string normalizerSyntax();

}  // namespace attnscope
