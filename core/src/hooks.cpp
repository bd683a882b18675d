#include "attnscope/hooks.h"

#include <algorithm>
#include <utility>

namespace attnscope {

/// The registry's entries, shared with the handles (weakly), so a handle may outlive its registry.
struct HookHandle::State {
  struct Entry {
    int64_t id;
    std::string pattern;
    HookCallback callback;       // a named hook, or
    AttentionObserver observer;  // an attention observer
    AttentionStages stages;
  };
  // Callbacks may add or remove hooks while an event is delivered: fire() holds its own references.
  std::vector<std::shared_ptr<const Entry>> entries;
  int64_t next_id = 1;

  int64_t add(Entry entry) {
    entry.id = next_id++;
    entries.push_back(std::make_shared<const Entry>(std::move(entry)));
    return entries.back()->id;
  }
};

HookHandle::HookHandle(HookHandle&& other) noexcept
    : m_state(std::move(other.m_state)), m_id(std::exchange(other.m_id, 0)) {}

HookHandle& HookHandle::operator=(HookHandle&& other) noexcept {
  if (this != &other) {
    remove();
    m_state = std::move(other.m_state);
    m_id = std::exchange(other.m_id, 0);
  }
  return *this;
}

void HookHandle::remove() {
  if (auto state = m_state.lock()) {
    auto& entries = state->entries;
    entries.erase(
        std::remove_if(entries.begin(), entries.end(), [&](const auto& e) { return e->id == m_id; }),
        entries.end());
  }
  m_state.reset();
  m_id = 0;
}

bool HookHandle::active() const {
  auto state = m_state.lock();
  return state && std::any_of(state->entries.begin(), state->entries.end(),
                              [&](const auto& e) { return e->id == m_id; });
}

HookRegistry::HookRegistry() : m_state(std::make_shared<HookHandle::State>()) {}

HookRegistry::~HookRegistry() = default;

HookHandle HookRegistry::addCallback(std::string pattern, HookCallback callback) {
  const int64_t id = m_state->add({0, std::move(pattern), std::move(callback), {}, {}});
  return HookHandle(m_state, id);
}

HookHandle HookRegistry::observeAttention(std::string pattern, AttentionObserver observer,
                                          AttentionStages stages) {
  const int64_t id = m_state->add({0, std::move(pattern), {}, std::move(observer), stages});
  return HookHandle(m_state, id);
}

void HookRegistry::clear() {
  m_state->entries.clear();
}

bool HookRegistry::empty() const {
  return m_state->entries.empty();
}

bool HookRegistry::listens(const std::string& name) const {
  return std::any_of(m_state->entries.begin(), m_state->entries.end(),
                     [&](const auto& e) { return e->callback && matches(e->pattern, name); });
}

bool HookRegistry::observesAttention(const std::string& attn_name, bool* with_scores) const {
  bool any = false, scores = false;
  for (const auto& e : m_state->entries) {
    if (!e->observer || !matches(e->pattern, attn_name)) continue;
    any = true;
    scores = scores || e->stages.with_scores;
  }
  if (with_scores) *with_scores = scores;
  return any;
}

HookResult HookRegistry::fire(const HookEvent& event) const {
  std::vector<std::shared_ptr<const HookHandle::State::Entry>> matching;
  for (const auto& e : m_state->entries)
    if (e->callback && matches(e->pattern, event.name)) matching.push_back(e);
  for (const auto& e : matching)
    if (e->callback(event) == HookResult::Stop) return HookResult::Stop;
  return HookResult::Continue;
}

HookResult HookRegistry::fireAttention(const std::string& attn_name, const AttentionBlock& block) const {
  std::vector<std::shared_ptr<const HookHandle::State::Entry>> matching;
  for (const auto& e : m_state->entries)
    if (e->observer && matches(e->pattern, attn_name)) matching.push_back(e);
  for (const auto& e : matching)
    if (e->observer(block) == HookResult::Stop) return HookResult::Stop;
  return HookResult::Continue;
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
      attn(formatAttentionName(layer)),
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
