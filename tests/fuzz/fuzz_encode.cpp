// libFuzzer harness: arbitrary bytes encoded by each tokenizer kind, loaded once from tests/fuzz/data: GPT-2
// byte-level BPE (vocab.json + merges.txt), tokenizer.json byte-level BPE with added tokens, tokenizer.json
// sentencepiece-style BPE with byte fallback, and raw bytes. Valid UTF-8 must encode to in-vocabulary ids,
// and the lossless kinds must decode back to the input; anything else must be refused with TokenizerError.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attnscope/tokenizer.h"
#include "fuzz_support.h"

using namespace attnscope;

namespace {

struct Kind {
  std::unique_ptr<Tokenizer> tokenizer;
  bool lossless = false;  // decode(encode(text)) == text
};

std::vector<Kind> loadKinds() {
  const std::string dir = ATTNSCOPE_FUZZ_DATA;
  std::vector<Kind> kinds;
  kinds.push_back({loadGpt2Tokenizer(dir + "/gpt2-tiny/vocab.json", dir + "/gpt2-tiny/merges.txt"), true});
  kinds.push_back({loadTokenizerJson(dir + "/bytelevel-tokenizer.json"), true});
  kinds.push_back({loadTokenizerJson(dir + "/bytefallback-tokenizer.json"), false});
  kinds.push_back({makeByteTokenizer(256), true});
  return kinds;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const std::vector<Kind> kinds = loadKinds();
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const Kind& kind : kinds) {
    std::vector<int64_t> ids;
    try {
      ids = kind.tokenizer->encode(text, false);
    } catch (const TokenizerError&) {
      continue;  // invalid UTF-8 is refused (by every kind alike)
    }
    const int64_t vocab = kind.tokenizer->vocabSize();
    for (int64_t id : ids)
      if (id < 0 || id >= vocab) fuzz::contractViolated("encode() returned an id outside [0, vocabSize)");
    const std::string back = kind.tokenizer->decode(ids);
    if (kind.lossless && back != text)
      fuzz::contractViolated("decode(encode(text)) != text for a lossless kind");
    for (int64_t id : ids) (void)kind.tokenizer->displayString(id);
    (void)kind.tokenizer->encode(text, true);
  }
  return 0;
}
