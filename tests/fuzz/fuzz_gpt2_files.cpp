// libFuzzer harness: GPT-2's vocab.json + merges.txt. The input is "<vocab.json>#SEP<merges.txt>"; a loaded
// tokenizer encodes and decodes a fixed text, which must round-trip (byte-level BPE is lossless).

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "attnscope/tokenizer.h"
#include "fuzz_support.h"

using namespace attnscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto parts = fuzz::splitInput(data, size, 2);
  const std::string vocab_path = fuzz::writeScratchFile("vocab.json", parts[0]);
  const std::string merges_path =
      fuzz::writeScratchFile("merges.txt", parts.size() > 1 ? parts[1] : std::string());
  try {
    const auto tokenizer = loadGpt2Tokenizer(vocab_path, merges_path);
    const int64_t vocab = tokenizer->vocabSize();
    for (int64_t id = 0; id < vocab && id < 512; ++id) {
      try {
        (void)tokenizer->displayString(id);
      } catch (const TokenizerError&) {  // an id in a gap of the vocabulary
      }
    }
    const std::string text = "Hello world, h\xC3\xA9llo \xF0\x9F\x98\x80\n\t  123 <|endoftext|>";
    try {
      const auto ids = tokenizer->encode(text, false);
      for (int64_t id : ids)
        if (id < 0 || id >= vocab) fuzz::contractViolated("encode() returned an id outside [0, vocabSize)");
      (void)tokenizer->decode(ids);
    } catch (const TokenizerError&) {  // a vocabulary without some byte cannot spell the text
    }
  } catch (const std::exception& error) {
    fuzz::noteRefusal(error);
  }
  return 0;
}
