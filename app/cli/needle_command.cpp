// attnscope-cli needle: writes a needle-in-a-haystack prompt (held-out fortunes text) and prints where the
// needle is, as the token range capture's --targets takes (byte models: one token per byte).

#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>

#include "attnscope/train_data.h"
#include "commands.h"

namespace attnscope::cli {

int runNeedle(const NeedleOptions& options) {
  CorpusParams corpus;
  corpus.dir = options.text_dir;
  const TextCorpus text = loadCorpus(corpus);
  std::mt19937_64 rng(options.seed);
  NeedlePrompt prompt = buildNeedlePrompt(text.held_out_text, options.length, options.depth, rng);
  std::ofstream out(options.out, std::ios::binary);
  if (!out || !out.write(prompt.text.data(), static_cast<std::streamsize>(prompt.text.size())) ||
      !out.flush())
    throw std::runtime_error(options.out + ": cannot write");
  std::printf("%s: %zu bytes, needle at depth %.2f\n", options.out.c_str(), prompt.text.size(),
              options.depth);
  std::printf("needle %lld:%lld  digits %lld:%lld  answer %s  city %s\n",
              static_cast<long long>(prompt.needle_begin), static_cast<long long>(prompt.needle_end),
              static_cast<long long>(prompt.digits_begin), static_cast<long long>(prompt.digits_begin + 7),
              prompt.answer.c_str(), prompt.city.c_str());
  return 0;
}

}  // namespace attnscope::cli
