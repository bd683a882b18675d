#include "attnscope/hooks.h"

#include <algorithm>

namespace attnscope {

HookRegistry::Id HookRegistry::add(std::string pattern, HookCallback callback) {
  Id id = m_next_id++;
  m_entries.push_back({id, std::move(pattern), std::move(callback)});
  return id;
}

void HookRegistry::remove(Id id) {
  m_entries.erase(
      std::remove_if(m_entries.begin(), m_entries.end(), [id](const Entry& e) { return e.id == id; }),
      m_entries.end());
}

void HookRegistry::clear() {
  m_entries.clear();
}

bool HookRegistry::listens(const std::string& name) const {
  return std::any_of(m_entries.begin(), m_entries.end(),
                     [&](const Entry& e) { return matches(e.pattern, name); });
}

void HookRegistry::fire(const HookEvent& event) const {
  for (const Entry& e : m_entries)
    if (matches(e.pattern, event.name)) e.callback(event);
}

bool HookRegistry::matches(const std::string& pattern, const std::string& name) {
  // Iterative glob with backtracking to the last '*': linear in practice for hook-name lengths.
  std::size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

BlockHookNames::BlockHookNames(int64_t layer)
    : resid_pre(formatHookName(layer, BlockHook::ResidPre)),
      q(formatHookName(layer, BlockHook::Q)),
      k(formatHookName(layer, BlockHook::K)),
      v(formatHookName(layer, BlockHook::V)),
      scores(formatHookName(layer, BlockHook::Scores)),
      multiplier(formatHookName(layer, BlockHook::Multiplier)),
      logits(formatHookName(layer, BlockHook::Logits)),
      pattern(formatHookName(layer, BlockHook::Pattern)),
      z(formatHookName(layer, BlockHook::Z)),
      resid_post(formatHookName(layer, BlockHook::ResidPost)) {}

}  // namespace attnscope
