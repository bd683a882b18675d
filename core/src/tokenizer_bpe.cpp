// Byte-pair encoding: words start as byte-level or character symbols and the lowest-ranked adjacent pair is
// merged (leftmost first among equals) until no pair has a merge. Same order as HF tokenizers'
// Word::merge_all.

#include <algorithm>
#include <climits>
#include <cstdio>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer_internal.h"

namespace attnscope {
namespace tokenizer_detail {

namespace {

constexpr uint64_t kEmptyKey = ~uint64_t{0};  // ids are never negative, so (-1, -1) is never a real pair
constexpr std::size_t kMaxCachedWordBytes = 256;
constexpr std::size_t kMaxCacheEntries = 200000;
const char* const kMetaspace = "\u2581";  // 3 bytes in UTF-8
// Below this many symbols a linear scan for the best pair beats a heap (words are short after
// pre-tokenizing).
constexpr std::size_t kSmallWordSymbols = 48;

}  // namespace

void BpeModel::MergeTable::reserve(std::size_t n) {
  std::size_t capacity = 16;
  while (capacity < 2 * n) capacity *= 2;
  m_keys.assign(capacity, kEmptyKey);
  m_values.assign(capacity, Merge{0, 0});
  m_mask = capacity - 1;
}

void BpeModel::MergeTable::insert(uint64_t key, Merge merge) {
  uint64_t slot = (key * 0x9E3779B97F4A7C15ull >> 20) & m_mask;
  while (m_keys[slot] != kEmptyKey && m_keys[slot] != key) slot = (slot + 1) & m_mask;
  m_keys[slot] = key;  // a repeated pair keeps the later rank, as HF's HashMap collect and GPT-2's dict do
  m_values[slot] = merge;
}

const BpeModel::Merge* BpeModel::MergeTable::find(uint64_t key) const {
  if (m_keys.empty()) return nullptr;
  uint64_t slot = (key * 0x9E3779B97F4A7C15ull >> 20) & m_mask;
  while (true) {
    const uint64_t k = m_keys[slot];
    if (k == key) return &m_values[slot];
    if (k == kEmptyKey) return nullptr;
    slot = (slot + 1) & m_mask;
  }
}

BpeModel::BpeModel(std::unordered_map<std::string, int32_t> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options)
    : m_vocab(std::move(vocab)), m_options(options) {
  m_merges.reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const int32_t left_id = idOf(left), right_id = idOf(right), new_id = idOf(left + right);
    if (left_id < 0 || right_id < 0 || new_id < 0)
      throw TokenizerError("merge " + std::to_string(rank) + " '" + escapeForMessage(left + " " + right) +
                           "' uses a token missing from the vocabulary");
    m_merges.insert((static_cast<uint64_t>(left_id) << 32) | static_cast<uint32_t>(right_id),
                    Merge{static_cast<int32_t>(rank), new_id});
  }
  // ignore_merges looks words up whole, so cutting them would change its result.
  if (!m_options.byte_level && !m_options.ignore_merges) {
    m_split_at_metaspace = true;
    for (const auto& [token, id] : m_vocab) {
      for (std::size_t pos = token.find(kMetaspace, 1); pos != std::string::npos;
           pos = token.find(kMetaspace, pos + 1))
        if (pos < 3 || token.compare(pos - 3, 3, kMetaspace) != 0) m_split_at_metaspace = false;
      if (!m_split_at_metaspace) break;
    }
  }
  const auto& chars = byteLevelChars();
  for (int b = 0; b < 256; ++b) {
    m_byte_ids[b] = idOf(chars[b]);
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    m_fallback_ids[b] = idOf(name);
    if (b < 128) m_ascii_ids[b] = idOf(std::string(1, static_cast<char>(b)));
  }
}

int32_t BpeModel::idOf(const std::string& token) const {
  const auto it = m_vocab.find(token);
  return it == m_vocab.end() ? -1 : it->second;
}

void BpeModel::encodeWords(const std::vector<std::string_view>& words, std::vector<int64_t>& ids) const {
  std::lock_guard<std::mutex> lock(m_cache_mutex);
  std::vector<int32_t> symbols;
  std::string key;
  for (std::string_view word : words) {
    if (!m_split_at_metaspace) {
      encodeWord(word, symbols, key, ids);
      continue;
    }
    std::size_t begin = 0;
    for (std::size_t pos = word.find(kMetaspace, 1); pos != std::string_view::npos;
         pos = word.find(kMetaspace, pos + 3)) {
      if (pos >= 3 && word.compare(pos - 3, 3, kMetaspace) == 0) continue;  // inside a run of "▁"
      encodeWord(word.substr(begin, pos - begin), symbols, key, ids);
      begin = pos;
    }
    encodeWord(word.substr(begin), symbols, key, ids);
  }
}

void BpeModel::encodeWord(std::string_view word, std::vector<int32_t>& symbols, std::string& key,
                          std::vector<int64_t>& ids) const {
  if (word.empty()) return;
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    key.assign(word.data(), word.size());
    const auto it = m_cache.find(key);
    if (it != m_cache.end()) {
      const int32_t* begin = m_cache_ids.data() + it->second.first;
      ids.insert(ids.end(), begin, begin + it->second.second);
      return;
    }
  }
  symbols.clear();
  encodeUncached(word, symbols);
  ids.insert(ids.end(), symbols.begin(), symbols.end());
  if (cacheable) {
    if (m_cache.size() >= kMaxCacheEntries) {
      m_cache.clear();
      m_cache_ids.clear();
    }
    m_cache.emplace(key, std::make_pair(static_cast<uint32_t>(m_cache_ids.size()),
                                        static_cast<uint32_t>(symbols.size())));
    m_cache_ids.insert(m_cache_ids.end(), symbols.begin(), symbols.end());
  }
}

void BpeModel::encodeUncached(std::string_view word, std::vector<int32_t>& out) const {
  if (m_options.ignore_merges) {
    std::string token;
    if (m_options.byte_level) {
      const auto& chars = byteLevelChars();
      for (char c : word) token += chars[static_cast<unsigned char>(c)];
    } else {
      token.assign(word.data(), word.size());
    }
    const int32_t id = idOf(token);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  initialSymbols(word, out);
  if (out.size() < 2) return;
  if (out.size() <= kSmallWordSymbols) {
    mergeSmall(out);
  } else {
    mergeLarge(out);
  }
}

void BpeModel::initialSymbols(std::string_view word, std::vector<int32_t>& symbols) const {
  bool last_was_unk = false;
  for (std::size_t i = 0; i < word.size();) {
    std::size_t len = 1;
    int32_t id;
    if (m_options.byte_level) {
      id = m_byte_ids[static_cast<unsigned char>(word[i])];
    } else {
      const auto c = static_cast<unsigned char>(word[i]);
      if (c < 0x80) {
        id = m_ascii_ids[c];
      } else {
        len = std::max<std::size_t>(1, utf8CharLength(word, i));
        id = idOf(std::string(word.substr(i, len)));
      }
    }
    if (id >= 0) {
      symbols.push_back(id);
      last_was_unk = false;
      i += len;
      continue;
    }
    bool fell_back = false;
    if (m_options.byte_fallback) {
      fell_back = true;
      for (std::size_t k = i; k < i + len; ++k)
        fell_back = fell_back && m_fallback_ids[static_cast<unsigned char>(word[k])] >= 0;
      if (fell_back)
        for (std::size_t k = i; k < i + len; ++k)
          symbols.push_back(m_fallback_ids[static_cast<unsigned char>(word[k])]);
    }
    if (!fell_back) {
      if (m_options.unk_id < 0) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "%02X", static_cast<unsigned char>(word[i]));
        throw TokenizerError(std::string("no token for the character starting with byte 0x") + hex +
                             " and the model has no unk token");
      }
      if (!(m_options.fuse_unk && last_was_unk)) symbols.push_back(m_options.unk_id);
      last_was_unk = true;
    } else {
      last_was_unk = false;
    }
    i += len;
  }
}

void BpeModel::mergeSmall(std::vector<int32_t>& symbols) const {
  // pair_merges[i] is the merge of symbols[i] and symbols[i + 1], or null.
  std::vector<const Merge*> pair_merges(symbols.size() - 1);
  for (std::size_t i = 0; i + 1 < symbols.size(); ++i) pair_merges[i] = findMerge(symbols[i], symbols[i + 1]);
  while (true) {
    std::size_t best = pair_merges.size();
    int32_t best_rank = INT32_MAX;
    for (std::size_t i = 0; i < pair_merges.size(); ++i)
      if (pair_merges[i] && pair_merges[i]->rank < best_rank) {
        best_rank = pair_merges[i]->rank;
        best = i;
      }
    if (best == pair_merges.size()) break;
    symbols[best] = pair_merges[best]->new_id;
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    pair_merges.erase(pair_merges.begin() + static_cast<std::ptrdiff_t>(best));
    if (best > 0) pair_merges[best - 1] = findMerge(symbols[best - 1], symbols[best]);
    if (best + 1 < symbols.size()) pair_merges[best] = findMerge(symbols[best], symbols[best + 1]);
  }
}

void BpeModel::mergeLarge(std::vector<int32_t>& symbols) const {
  // A doubly linked list of symbols and a heap of candidate merges ordered by (rank, position); entries made
  // stale by earlier merges are recognised on pop because the pair's ids no longer give the same new id.
  const auto n = static_cast<int32_t>(symbols.size());
  std::vector<int32_t> prev(n), next(n);
  std::vector<char> alive(n, 1);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank, pos, new_id;
  };
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> heap(later);
  const auto push = [&](int32_t pos) {
    if (const Merge* m = findMerge(symbols[pos], symbols[next[pos]])) heap.push({m->rank, pos, m->new_id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    if (!alive[top.pos] || next[top.pos] < 0) continue;
    const int32_t right = next[top.pos];
    const Merge* m = findMerge(symbols[top.pos], symbols[right]);
    if (!m || m->new_id != top.new_id) continue;
    symbols[top.pos] = m->new_id;
    alive[right] = 0;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    if (prev[top.pos] >= 0) push(prev[top.pos]);
    if (next[top.pos] >= 0) push(top.pos);
  }
  int32_t kept = 0;
  for (int32_t i = 0; i < n; ++i)
    if (alive[i]) symbols[kept++] = symbols[i];
  symbols.resize(kept);
}

}  // namespace tokenizer_detail
}  // namespace attnscope
