#pragma once
// Splitting the list syntax of the vocabulary's parsers (normalizer parameters, map specs, target ranges).

#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

/// Splits text at every sep, keeping empty items: "a,,b" → {a, "", b}; "" → {""}.
std::vector<std::string> splitList(std::string_view text, char sep);

/// splitList without the empty item after a final sep: "a,b," → {a, b}; "" → {}.
std::vector<std::string> splitListOpenEnd(std::string_view text, char sep);

}  // namespace attnscope
