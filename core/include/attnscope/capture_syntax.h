#pragma once
// The text forms of what a capture stores besides statistics: map specs ("all", "3.5,7.*", "scores:0.2") and
// target token ranges ("10:20,40:45"). Parsed here once for the CLI and the GUI. No torch, no Qt.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnscope {

/// A map a run stores: one hook's [query, key] maps for some heads.
struct MapRequest {
  std::string hook;  // a block hook name (attnscope/hook_names.h), e.g. "blocks.3.attn.hook_pattern"
  int64_t layer = 0;
  std::vector<int64_t> heads;
};

/// Parses a map spec for a model: "all", "none", or comma-separated "L.H" items where L or H may be '*'
/// ("3.5,7.*"); a "scores:" prefix on an item stores pre-normalizer scores instead of probabilities. One
/// request per hook, heads sorted. Throws std::invalid_argument.
std::vector<MapRequest> parseMapSpec(const std::string& spec, int64_t n_layer, int64_t n_head);

/// Parses token ranges "10:20,40:45" (end exclusive; "9" is 9:10) against T tokens. Throws
/// std::invalid_argument.
std::vector<std::pair<int64_t, int64_t>> parseTargetRanges(const std::string& spec, int64_t n_tokens);

}  // namespace attnscope
