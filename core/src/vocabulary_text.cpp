#include "vocabulary_text.h"

namespace attnscope {

std::vector<std::string> splitList(std::string_view text, char sep) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    items.emplace_back(
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return items;
    start = end + 1;
  }
}

std::vector<std::string> splitListOpenEnd(std::string_view text, char sep) {
  std::vector<std::string> items = splitList(text, sep);
  if (items.back().empty()) items.pop_back();
  return items;
}

}  // namespace attnscope
