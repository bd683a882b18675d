#pragma once
// The hook-name table: the one place hook names are spelled, formatted and parsed. Names are dotted
// TransformerLens-style paths, the same text the capture files use as group names under /runs/<run>/maps.
// The tensor each hook receives is documented beside the registry (attnscope/hooks.h). No torch, no Qt.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace attnscope {

/// The hooks inside block L ("blocks.{L}." + leaf), in the order a forward pass fires them.
enum class BlockHook {
  ResidPre,    // hook_resid_pre
  Q,           // attn.hook_q
  K,           // attn.hook_k
  V,           // attn.hook_v
  Scores,      // attn.hook_scores
  Multiplier,  // attn.hook_multiplier
  Logits,      // attn.hook_logits
  Pattern,     // attn.hook_pattern
  Z,           // attn.hook_z
  ResidPost,   // hook_resid_post
};

/// The hooks outside the blocks.
extern const std::string kFinalNormHook;  // ln_final.hook_normalized
extern const std::string kUnembedHook;    // unembed.hook_logits

/// A block hook's name split into its parts.
struct BlockHookName {
  int64_t layer = 0;
  BlockHook hook = BlockHook::Pattern;
};

/// Returns the name of a hook of block layer, e.g. "blocks.3.attn.hook_pattern".
std::string formatHookName(int64_t layer, BlockHook hook);

/// Returns the glob that matches a hook in every block, e.g. "blocks.*.attn.hook_pattern".
std::string hookPatternAllLayers(BlockHook hook);

/// Parses a block hook's name; nullopt for anything else (hooks outside the blocks, foreign names).
std::optional<BlockHookName> parseHookName(std::string_view name);

/// The L of a name under "blocks.{L}." (an optionally signed decimal), whatever follows; nullopt otherwise.
std::optional<int64_t> hookLayer(std::string_view name);

/// Whether a name is a block's hook_scores (pre-normalizer scores, masked entries −inf).
bool isScoresHook(std::string_view name);

}  // namespace attnscope
