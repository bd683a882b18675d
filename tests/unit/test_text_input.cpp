// attnscope/text_input.h: whole-file reads with one-line errors that name the file, and list splitting that
// keeps empty fields, so every parser sees (and refuses) "a,,b" and a trailing separator alike.

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "attnscope/text_input.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

class NamedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

TEST(ReadFile, ReturnsEveryByte) {
  const fs::path path = fs::temp_directory_path() / ("attnscope_text_input_" + std::to_string(::getpid()));
  const std::string bytes("a\0b\r\n\xff", 6);
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_EQ(readFile(path.string()), bytes);
  fs::remove(path);
}

TEST(ReadFile, NamesAMissingFileInOneLine) {
  const std::string path = "/nonexistent-attnscope/config.json";
  try {
    readFile(path);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": cannot open (No such file or directory)");
  }
  EXPECT_THROW(readFileOr<NamedError>(path), NamedError);
}

TEST(ReadFile, RefusesADirectory) {
  const std::string dir = fs::temp_directory_path().string();
  try {
    readFile(dir);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": cannot read (it is a directory)");
  }
}

TEST(SplitList, KeepsEmptyFields) {
  using Fields = std::vector<std::string>;
  EXPECT_EQ(splitList(""), Fields{""});
  EXPECT_EQ(splitList("a"), Fields{"a"});
  EXPECT_EQ(splitList("3.1,3.*,scores:0.2"), (Fields{"3.1", "3.*", "scores:0.2"}));
  EXPECT_EQ(splitList("a,,b"), (Fields{"a", "", "b"}));
  EXPECT_EQ(splitList("a,"), (Fields{"a", ""}));
  EXPECT_EQ(splitList(","), (Fields{"", ""}));
  EXPECT_EQ(splitList("0.1/0.2", '/'), (Fields{"0.1", "0.2"}));
}

TEST(SplitList, OpenEndDropsOneFinalEmptyField) {
  using Fields = std::vector<std::string>;
  EXPECT_EQ(splitListOpenEnd(""), Fields{});
  EXPECT_EQ(splitListOpenEnd("a,b,"), (Fields{"a", "b"}));
  EXPECT_EQ(splitListOpenEnd("a,,"), (Fields{"a", ""}));
  EXPECT_EQ(splitListOpenEnd("a,b"), (Fields{"a", "b"}));
}

}  // namespace
}  // namespace attnscope
