#pragma once
// Reading a whole file, splitting a separated list and reading a number from one: the small chores that every
// parser of the core and every front end shares. No torch, no Qt.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

/// Thrown by readFile; what() is one line, "<path>: cannot open (<reason>)" or "<path>: cannot read
/// (<reason>)".
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Returns the bytes of a file. Throws FileError.
std::string readFile(const std::string& path);

/// Like readFile, but throws Error (e.g. ConfigError) with the same one-line message.
template <class Error>
std::string readFileOr(const std::string& path) {
  try {
    return readFile(path);
  } catch (const FileError& e) {
    throw Error(e.what());
  }
}

/// Returns the fields of text between separators, empty fields included: "a,,b," gives "a", "", "b", "";
/// empty text gives one empty field (so a parser sees, and can refuse, an empty item).
std::vector<std::string> splitList(std::string_view text, char separator = ',');

/// splitList without the empty field after a final separator: "a,b," gives "a", "b"; empty text gives none.
std::vector<std::string> splitListOpenEnd(std::string_view text, char separator = ',');

/// Returns text as a non-negative integer when the whole of it is one (as std::stoll reads it), else nothing
/// (empty text, trailing characters, a negative or out-of-range number).
std::optional<int64_t> parseNonNegativeInteger(const std::string& text);

}  // namespace attnscope
