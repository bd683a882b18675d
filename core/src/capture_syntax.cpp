#include "attnscope/capture_syntax.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "attnscope/hook_names.h"
#include "attnscope/text_input.h"

namespace attnscope {
namespace {

constexpr char kScoresPrefix[] = "scores:";
constexpr char kAllMaps[] = "all";
constexpr char kNoMaps[] = "none";

int64_t parseIndex(const std::string& text, int64_t limit, const char* what, const std::string& spec) {
  const std::optional<int64_t> value = parseNonNegativeInteger(text);
  if (!value || *value >= limit)
    throw std::invalid_argument("'" + spec + "': " + what + " '" + text + "' is not in 0.." +
                                std::to_string(limit - 1));
  return *value;
}

}  // namespace

std::vector<MapRequest> parseMapSpec(const std::string& spec, int64_t n_layer, int64_t n_head) {
  std::vector<MapRequest> maps;
  if (spec.empty() || spec == kNoMaps) return maps;
  std::vector<int64_t> all_heads(n_head);
  for (int64_t h = 0; h < n_head; ++h) all_heads[h] = h;
  std::map<std::pair<std::string, int64_t>, std::set<int64_t>> wanted;
  for (std::string item : splitList(spec, ',')) {
    BlockHook hook = BlockHook::Pattern;
    const std::string scores_prefix = kScoresPrefix;
    if (item.rfind(scores_prefix, 0) == 0) {
      hook = BlockHook::Scores;
      item = item.substr(scores_prefix.size());
    }
    std::string layer_text = "*", head_text = "*";
    if (item != kAllMaps) {
      std::size_t dot = item.find('.');
      if (dot == std::string::npos)
        throw std::invalid_argument("'" + spec + "': item '" + item + "' is not LAYER.HEAD (e.g. 3.5, 7.*)");
      layer_text = item.substr(0, dot);
      head_text = item.substr(dot + 1);
    }
    std::vector<int64_t> layers;
    if (layer_text == "*") {
      for (int64_t l = 0; l < n_layer; ++l) layers.push_back(l);
    } else {
      layers.push_back(parseIndex(layer_text, n_layer, "layer", spec));
    }
    for (int64_t l : layers) {
      auto& heads = wanted[{formatHookName(l, hook), l}];
      if (head_text == "*") {
        heads.insert(all_heads.begin(), all_heads.end());
      } else {
        heads.insert(parseIndex(head_text, n_head, "head", spec));
      }
    }
  }
  for (const auto& [key, heads] : wanted)
    maps.push_back({key.first, key.second, {heads.begin(), heads.end()}});
  return maps;
}

std::vector<std::pair<int64_t, int64_t>> parseTargetRanges(const std::string& spec, int64_t n_tokens) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const std::string& item : splitListOpenEnd(spec, ',')) {
    std::size_t colon = item.find(':');
    int64_t begin = -1, stop = -1;
    try {
      std::size_t used = 0;
      begin = std::stoll(item.substr(0, colon), &used);
      if (used != std::min(colon, item.size())) begin = -1;
      stop = colon == std::string::npos ? begin + 1 : std::stoll(item.substr(colon + 1), &used);
      if (colon != std::string::npos && used != item.size() - colon - 1) stop = -1;
    } catch (const std::exception&) {
      begin = -1;
    }
    if (begin < 0 || stop <= begin || stop > n_tokens)
      throw std::invalid_argument("'" + item + "' is not a token range BEGIN:END within 0.." +
                                  std::to_string(n_tokens));
    ranges.emplace_back(begin, stop);
  }
  return ranges;
}

}  // namespace attnscope
