#include "attnscope/text_input.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace attnscope {
namespace {

/// Returns " (<reason>)" for the current errno, or nothing when the library left none.
std::string reason() {
  return errno ? std::string(" (") + std::strerror(errno) + ")" : std::string();
}

}  // namespace

std::string readFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw FileError(path + ": cannot read (it is a directory)");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path + ": cannot open" + reason());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw FileError(path + ": cannot read" + reason());
  return text.str();
}

std::vector<std::string> splitList(std::string_view text, char separator) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find(separator, start)) != std::string_view::npos; start = end + 1)
    fields.emplace_back(text.substr(start, end - start));
  fields.emplace_back(text.substr(start));
  return fields;
}

std::vector<std::string> splitListOpenEnd(std::string_view text, char separator) {
  std::vector<std::string> fields = splitList(text, separator);
  if (fields.back().empty()) fields.pop_back();
  return fields;
}

std::optional<int64_t> parseNonNegativeInteger(const std::string& text) {
  std::size_t used = 0;
  long long value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size() || value < 0) return std::nullopt;
  return value;
}

}  // namespace attnscope
