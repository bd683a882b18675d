// Sweep prompts in a model's own tokens: exact lengths, BOS once, the needle's token range decoding to the
// needle sentence (real GPT-2 and Llama 3 vocabularies), and byte prompts equal to eval's buildNeedlePrompt.

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "attnscope/tokenizer.h"
#include "attnscope/train_data.h"
#include "sweep_prompts.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

// Varied whitespace, punctuation, digits and a few multi-byte characters, as real haystacks have.
std::string haystackText() {
  std::string text;
  const char* lines[] = {"The quick brown fox jumps over the lazy dog.  Twice!\n",
                         "\tIt was the best of times, it was the worst of times.\n",
                         "Caf\xc3\xa9 au lait costs 3.50 at 7 o'clock; na\xc3\xafve readers pay 12,000.\n",
                         "\n",
                         "Q: What is 2+2?  A: 4 -- as \xe2\x80\x9c"
                         "everyone\xe2\x80\x9d knows.\n",
                         "  indented    words\tand tabs, then a long-hyphenated-compound-word.\n"};
  for (int i = 0; i < 300; ++i) text += lines[(i * 7 + i / 3) % 6];
  return text;
}

std::string trimmed(const std::string& s) {
  const std::size_t a = s.find_first_not_of(' ');
  return a == std::string::npos ? "" : s.substr(a);
}

std::vector<int64_t> slice(const std::vector<int64_t>& ids, int64_t begin, int64_t end) {
  return {ids.begin() + begin, ids.begin() + end};
}

TEST(SweepPrompts, BytePromptsAreEvalsPrompts) {
  const auto tokenizer = makeByteTokenizer();
  const std::string text = haystackText();
  SweepPromptBuilder builder(*tokenizer, text);
  EXPECT_TRUE(builder.prefix().empty());
  for (int64_t length : {130, 256, 1000}) {
    for (double depth : {0.0, 0.25, 0.5, 0.75, 1.0}) {
      // eval's stream of a length and depth, drawn in order (evaluate.cpp before the sweep runner).
      std::mt19937_64 rng(1234 ^ (static_cast<uint64_t>(length) * 0x9E3779B97F4A7C15ULL) ^
                          static_cast<uint64_t>(depth * 1e6));
      for (int64_t i = 0; i < 4; ++i) {
        const NeedlePrompt expected = buildNeedlePrompt(text, length, depth, rng);
        const SweepPrompt got = builder.needle(length, depth, 1234, i, 0.0);
        ASSERT_EQ(static_cast<int64_t>(got.ids.size()), length);
        std::string bytes;
        for (int64_t id : got.ids) bytes += static_cast<char>(id);
        EXPECT_EQ(bytes, expected.text) << length << " " << depth << " #" << i;
        EXPECT_EQ(got.needle_begin, expected.needle_begin);
        EXPECT_EQ(got.needle_end, expected.needle_end);
        EXPECT_EQ(got.answer, expected.answer);
      }
    }
  }
  // Documents: eval's loss sequences, offsets drawn in order from the seed, one token more than the length.
  std::mt19937_64 rng(1234);
  for (int64_t i = 0; i < 3; ++i) {
    const std::string expected = textSlice(text, uniformIndex(rng, text.size()), 513);
    const SweepPrompt got = builder.document(512, 1234, i);
    ASSERT_EQ(got.ids.size(), expected.size());
    for (std::size_t j = 0; j < expected.size(); ++j)
      ASSERT_EQ(got.ids[j], static_cast<unsigned char>(expected[j]));
    // The same document at every length: a shorter cut is a prefix.
    EXPECT_EQ(builder.document(100, 1234, i).ids, slice(got.ids, 0, 101));
  }
}

TEST(SweepPrompts, DefaultHaystackIsEvalsHeldOutText) {
  const CorpusParams corpus;
  if (!fs::is_directory(corpus.dir))
    GTEST_SKIP() << corpus.dir << " missing (scripts/setup.sh installs fortunes)";
  const HaystackText haystack = loadHaystack("");
  EXPECT_EQ(haystack.text, loadCorpus(corpus).held_out_text);
  EXPECT_EQ(haystack.files.size(), corpus.held_out.size());
  // A file is read as it is; a directory as the corpus reads its files ('%' separators blanked).
  const fs::path dir = fs::temp_directory_path() / ("attnscope_haystack_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "a") << "one\n%\ntwo\n";
  EXPECT_EQ(loadHaystack((dir / "a").string()).text, "one\n%\ntwo\n");
  EXPECT_EQ(loadHaystack(dir.string()).text, "one\n\ntwo\n\n");
  EXPECT_THROW(loadHaystack((dir / "missing").string()), std::runtime_error);
  fs::remove_all(dir);
}

TEST(SweepPrompts, ByteTokenizerWithBosPutsItFirstOnce) {
  const auto tokenizer = makeByteTokenizer(256);
  const std::string text = haystackText();
  SweepPromptBuilder builder(*tokenizer, text);
  ASSERT_EQ(builder.prefix(), (std::vector<int64_t>{256}));
  const SweepPrompt p = builder.needle(300, 0.5, 7, 2, 0.0);
  ASSERT_EQ(p.ids.size(), 300u);
  EXPECT_EQ(p.ids[0], 256);
  EXPECT_EQ(std::count(p.ids.begin(), p.ids.end(), 256), 1);
  EXPECT_EQ(tokenizer->decode(slice(p.ids, p.needle_begin, p.needle_end)), p.sentence);
}

TEST(SweepPrompts, RefusesWhatCannotBeBuilt) {
  const auto tokenizer = makeByteTokenizer();
  const std::string text = haystackText();
  SweepPromptBuilder builder(*tokenizer, text);
  try {
    builder.needle(40, 0.5, 1, 0, 0.0);
    ADD_FAILURE() << "a 40-token needle prompt was built";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cannot hold the needle"), std::string::npos) << e.what();
  }
  EXPECT_THROW(builder.needle(200, 1.5, 1, 0, 0.0), std::invalid_argument);
  EXPECT_THROW(builder.needle(200, 0.5, 1, 0, -1.0), std::invalid_argument);
  EXPECT_THROW(builder.needle(200, 0.5, 1, 0, 100.0), std::invalid_argument);  // 20 distractors do not fit
  EXPECT_THROW(SweepPromptBuilder(*tokenizer, ""), std::invalid_argument);
}

// ---- Real vocabularies (tests/tokenizer/setup.sh installs them) ----

std::unique_ptr<Tokenizer> realTokenizer(const std::string& name) {
  const char* dir = std::getenv("ATTNSCOPE_TOKENIZER_DATA");
  if (!dir) return nullptr;
  return loadTokenizer((fs::path(dir) / "models" / name).string());
}

class RealVocabulary : public testing::TestWithParam<std::string> {};

TEST_P(RealVocabulary, NeedleRangeDecodesToTheSentence) {
  const auto tokenizer = realTokenizer(GetParam());
  if (!tokenizer) GTEST_SKIP() << "ATTNSCOPE_TOKENIZER_DATA not set (run tests/tokenizer/setup.sh)";
  const std::string text = haystackText();
  SweepPromptBuilder builder(*tokenizer, text);
  const std::vector<int64_t> bos = tokenizer->encode("", true);
  EXPECT_EQ(builder.prefix(), bos) << "the prefix is the tokenizer's BOS";
  int64_t n_before_word = 0, n_checked = 0;
  for (int64_t length : {64, 200, 1000}) {
    for (double depth : {0.0, 0.3, 0.5, 1.0}) {
      for (double distractors : {0.0, 8.0}) {
        for (int64_t i = 0; i < 3; ++i) {
          const SweepPrompt p = builder.needle(length, depth, 99, i, distractors);
          ASSERT_EQ(static_cast<int64_t>(p.ids.size()), length);
          if (!bos.empty()) {
            EXPECT_EQ(p.ids[0], bos[0]);
            EXPECT_EQ(std::count(p.ids.begin(), p.ids.end(), bos[0]), 1) << "BOS once";
          }
          const std::string needle = tokenizer->decode(slice(p.ids, p.needle_begin, p.needle_end));
          EXPECT_EQ(trimmed(needle), p.sentence) << GetParam() << " length " << length << " depth " << depth;
          n_before_word += needle != p.sentence;
          // The needle's range covers the sentence only: the tokens either side are haystack.
          EXPECT_EQ(p.sentence.rfind("The special magic ", 0), 0u);
          // Nothing follows the question: the answer comes next.
          const std::string all = tokenizer->decode(p.ids, true);
          const std::string city = p.sentence.substr(18, p.sentence.find(' ', 18) - 18);
          const std::string question = needleQuestion({city, p.answer});
          EXPECT_EQ(all.substr(all.size() - question.size()), question);
          EXPECT_EQ(static_cast<int64_t>(p.distractors.size()),
                    std::llround(distractors * static_cast<double>(length) / 1000.0));
          for (const auto& [b, e] : p.distractors) {
            const std::string other = trimmed(tokenizer->decode(slice(p.ids, b, e)));
            EXPECT_EQ(other.rfind("The special magic ", 0), 0u) << other;
            EXPECT_EQ(other.find(" " + city + " "), std::string::npos) << "a distractor of another city";
          }
          ++n_checked;
        }
      }
    }
  }
  std::printf("[ %-10s ] %lld prompts, %lld needles tokenized with their leading space\n", GetParam().c_str(),
              static_cast<long long>(n_checked), static_cast<long long>(n_before_word));
  if (GetParam() != "llama2") {  // sentencepiece's decoder strips a leading space: no way to see it here
    EXPECT_GT(n_before_word, 0) << "byte-level BPE attaches a space to the following word";
  }
}

TEST_P(RealVocabulary, DocumentsAreCutAtTheLength) {
  const auto tokenizer = realTokenizer(GetParam());
  if (!tokenizer) GTEST_SKIP() << "ATTNSCOPE_TOKENIZER_DATA not set (run tests/tokenizer/setup.sh)";
  const std::string text = haystackText();
  SweepPromptBuilder builder(*tokenizer, text);
  const SweepPrompt longer = builder.document(800, 5, 1);
  ASSERT_EQ(longer.ids.size(), 801u);
  const SweepPrompt shorter = builder.document(300, 5, 1);
  EXPECT_EQ(shorter.ids, slice(longer.ids, 0, 301));
}

TEST_P(RealVocabulary, RefusesInvalidUtf8Haystacks) {
  const auto tokenizer = realTokenizer(GetParam());
  if (!tokenizer) GTEST_SKIP() << "ATTNSCOPE_TOKENIZER_DATA not set (run tests/tokenizer/setup.sh)";
  const std::string text = "good text \xff bad byte";
  try {
    SweepPromptBuilder builder(*tokenizer, text);
    ADD_FAILURE() << "invalid UTF-8 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8 at byte 10"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, RealVocabulary, testing::Values("gpt2", "llama3-bos", "llama2"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace attnscope
