// libFuzzer harness: loading a HF tokenizer.json and using it. The input is
// "<tokenizer.json>#SEP<text to encode>#SEP<tokenizer_config.json>" (the last two optional); the text is
// encoded, decoded, and every id's display string is built, as the GUI's token labels do.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "attnscope/tokenizer.h"
#include "fuzz_support.h"

using namespace attnscope;

namespace {
// Always encoded too: spaces, newlines, accents, an emoji (byte fallback), added-token look-alikes.
const char* const kFixedText = "Hello world, <s> h\xC3\xA9llo \xF0\x9F\x98\x80\n\t  123 <|bos|></s>";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto parts = fuzz::splitInput(data, size, 3);
  const std::string json_path = fuzz::writeScratchFile("tokenizer.json", parts[0]);
  const std::string config_path =
      parts.size() > 2 ? fuzz::writeScratchFile("tokenizer_config.json", parts[2]) : std::string();
  try {
    const auto tokenizer = loadTokenizerJson(json_path, config_path);
    const int64_t vocab = tokenizer->vocabSize();
    if (vocab <= 0) fuzz::contractViolated("vocabSize() <= 0 after a successful load");
    (void)tokenizer->kind();
    // Labels for the first and last ids (all of them for a small vocabulary), as plots show them; an id in a
    // gap of the vocabulary may be refused.
    auto label = [&](int64_t id) {
      try {
        if (tokenizer->displayString(id).empty()) fuzz::contractViolated("empty displayString");
        (void)tokenizer->isSpecial(id);
      } catch (const TokenizerError&) {
      }
    };
    for (int64_t id = 0; id < std::min<int64_t>(vocab, 512); ++id) label(id);
    for (int64_t id = std::max<int64_t>(512, vocab - 64); id < vocab; ++id) label(id);
    for (const std::string& text : {std::string(kFixedText), parts.size() > 1 ? parts[1] : std::string()}) {
      try {
        for (bool special : {false, true}) {
          const auto ids = tokenizer->encode(text, special);
          for (int64_t id : ids)
            if (id < 0 || id >= vocab)
              fuzz::contractViolated("encode() returned an id outside [0, vocabSize)");
          (void)tokenizer->decode(ids, false);
          (void)tokenizer->decode(ids, true);
        }
      } catch (const TokenizerError&) {  // invalid UTF-8 in the text, or a vocabulary that cannot spell it
      }
    }
  } catch (const std::exception& error) {
    fuzz::noteRefusal(error);
  }
  return 0;
}
