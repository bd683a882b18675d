#include "tokensearch.h"

#include <algorithm>

namespace attnscope::widgets {

std::vector<TokenMatch> findInTokens(const QStringList& tokens, const QString& needle,
                                     Qt::CaseSensitivity sensitivity) {
  std::vector<TokenMatch> matches;
  if (needle.isEmpty()) return matches;
  QString text;
  std::vector<qsizetype> starts;  // [T]: offset of each token's first character in text
  starts.reserve(static_cast<std::size_t>(tokens.size()));
  for (const QString& token : tokens) {
    starts.push_back(text.size());
    text += token;
  }
  // The token holding character c: the last one starting at or before it (empty tokens start where the next
  // one does and are skipped by upper_bound).
  const auto tokenOf = [&starts](qsizetype c) {
    return static_cast<int>(std::upper_bound(starts.begin(), starts.end(), c) - starts.begin()) - 1;
  };
  for (qsizetype at = text.indexOf(needle, 0, sensitivity); at >= 0;
       at = text.indexOf(needle, at + needle.size(), sensitivity))
    matches.push_back({tokenOf(at), tokenOf(at + needle.size() - 1)});
  return matches;
}

}  // namespace attnscope::widgets
