// attnscope/untrusted_text.h: bytes from files escaped for one-line messages, and tokens drawn for labels
// (one drawing for the tokenizer's display strings and every view of the GUI).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attnscope/untrusted_text.h"

namespace attnscope {
namespace {

TEST(EscapeForMessage, EscapesControlsBackslashesAndInvalidUtf8) {
  EXPECT_EQ(escapeForMessage("plain é ∑ 🙂"), "plain é ∑ 🙂");
  EXPECT_EQ(escapeForMessage("a\x1b[31m\n\t\x7f"), "a\\x1B[31m\\x0A\\x09\\x7F");
  EXPECT_EQ(escapeForMessage("\\"), "\\x5C");
  EXPECT_EQ(escapeForMessage("\xc2\x9b"), "\\xC2\\x9B");                      // C1 CSI
  EXPECT_EQ(escapeForMessage("\xff\xc3(\xe2\x82"), "\\xFF\\xC3(\\xE2\\x82");  // invalid and truncated
  EXPECT_EQ(escapeForMessage("\xc0\xaf"), "\\xC0\\xAF");                      // overlong '/'
  EXPECT_EQ(escapeForMessage(std::string("a\0b", 3)), "a\\x00b");
}

TEST(DisplayToken, DrawsWhitespaceAndControlsVisibly) {
  EXPECT_EQ(displayToken(" mat"), "\u2423mat");
  EXPECT_EQ(displayToken("a b "), "a\u2423b\u2423");
  EXPECT_EQ(displayToken("\n"), "\u21B5");
  EXPECT_EQ(displayToken("\t"), "\u21E5");  // the one tab glyph, in the tokenizer and the GUI alike
  EXPECT_EQ(displayToken("\r\n"), "\\r\u21B5");
  EXPECT_EQ(displayToken(std::string("\0\x1b\x7f", 3)), "\\x00\\x1B\\x7F");
  EXPECT_EQ(displayToken("\xc2\x9b"), "\\xC2\\x9B");  // C1 controls print as nothing
  EXPECT_EQ(displayToken("\xff"), "\\xFF");
  EXPECT_EQ(displayToken(""), "\u2205");
  EXPECT_EQ(displayToken("é∑🙂"), "é∑🙂");
  EXPECT_EQ(displayToken("\u2581Hello"), "\u2581Hello");
  EXPECT_EQ(displayToken("\u2581Hello", /*metaspace=*/true), "\u2423Hello");
}

TEST(DisplayToken, DrawingTwiceChangesNothing) {
  // Captures store the tokenizer's drawn strings; the GUI draws whatever it reads, so drawn tokens must pass
  // through unchanged.
  for (const std::string& token :
       std::vector<std::string>{" a\tb\n", std::string("\r\0\xff\xc2\x9b", 5), std::string(), "x"}) {
    const std::string once = displayToken(token);
    EXPECT_EQ(displayToken(once), once) << once;
  }
}

}  // namespace
}  // namespace attnscope
