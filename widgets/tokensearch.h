#pragma once
// Finding text in a prompt across token boundaries: the tokens' decoded text is searched as one string and
// each match is mapped back to the tokens it covers. No widgets.

#include <QString>
#include <QStringList>

#include <vector>

namespace attnscope::widgets {

/// A match of a search: the tokens [first, last] whose text holds it.
struct TokenMatch {
  int first = 0;
  int last = 0;
  bool operator==(const TokenMatch& other) const { return first == other.first && last == other.last; }
};

/// Every (non-overlapping) occurrence of needle in the concatenated tokens, in text order, as token ranges;
/// an empty needle matches nothing.
std::vector<TokenMatch> findInTokens(const QStringList& tokens, const QString& needle,
                                     Qt::CaseSensitivity sensitivity = Qt::CaseInsensitive);

}  // namespace attnscope::widgets
