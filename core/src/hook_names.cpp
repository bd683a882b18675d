#include "attnscope/hook_names.h"

#include <array>
#include <charconv>
#include <utility>

namespace attnscope {
namespace {

constexpr std::string_view kBlockPrefix = "blocks.";

/// Leaf of each BlockHook after "blocks.{L}.", indexed by the enum.
constexpr std::array<std::pair<BlockHook, std::string_view>, 10> kBlockLeaves = {{
    {BlockHook::ResidPre, "hook_resid_pre"},
    {BlockHook::Q, "attn.hook_q"},
    {BlockHook::K, "attn.hook_k"},
    {BlockHook::V, "attn.hook_v"},
    {BlockHook::Scores, "attn.hook_scores"},
    {BlockHook::Multiplier, "attn.hook_multiplier"},
    {BlockHook::Logits, "attn.hook_logits"},
    {BlockHook::Pattern, "attn.hook_pattern"},
    {BlockHook::Z, "attn.hook_z"},
    {BlockHook::ResidPost, "hook_resid_post"},
}};

constexpr bool leavesFollowTheEnum() {
  for (std::size_t i = 0; i < kBlockLeaves.size(); ++i)
    if (static_cast<std::size_t>(kBlockLeaves[i].first) != i) return false;
  return true;
}
static_assert(leavesFollowTheEnum(), "kBlockLeaves is indexed by BlockHook");

std::string_view leafOf(BlockHook hook) {
  return kBlockLeaves[static_cast<std::size_t>(hook)].second;
}

/// Splits "blocks.{L}.rest" into L and rest; nullopt when the name is not under a block.
std::optional<std::pair<int64_t, std::string_view>> splitBlock(std::string_view name) {
  if (name.substr(0, kBlockPrefix.size()) != kBlockPrefix) return std::nullopt;
  name.remove_prefix(kBlockPrefix.size());
  const std::size_t dot = name.find('.');
  const std::string_view digits = name.substr(0, dot);
  int64_t layer = 0;
  const char* end = digits.data() + digits.size();
  auto [stop, error] = std::from_chars(digits.data(), end, layer);
  if (digits.empty() || error != std::errc() || stop != end) return std::nullopt;
  return std::make_pair(layer, dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1));
}

}  // namespace

const std::string kFinalNormHook = "ln_final.hook_normalized";
const std::string kUnembedHook = "unembed.hook_logits";

std::string formatHookName(int64_t layer, BlockHook hook) {
  std::string name(kBlockPrefix);
  name += std::to_string(layer);
  name += '.';
  name += leafOf(hook);
  return name;
}

std::string hookPatternAllLayers(BlockHook hook) {
  std::string name(kBlockPrefix);
  name += "*.";
  name += leafOf(hook);
  return name;
}

std::optional<BlockHookName> parseHookName(std::string_view name) {
  const auto parts = splitBlock(name);
  if (!parts || parts->first < 0) return std::nullopt;
  for (const auto& [hook, leaf] : kBlockLeaves)
    if (parts->second == leaf) return BlockHookName{parts->first, hook};
  return std::nullopt;
}

std::optional<int64_t> hookLayer(std::string_view name) {
  const auto parts = splitBlock(name);
  if (!parts) return std::nullopt;
  return parts->first;
}

bool isScoresHook(std::string_view name) {
  const auto parsed = parseHookName(name);
  return parsed && parsed->hook == BlockHook::Scores;
}

}  // namespace attnscope
