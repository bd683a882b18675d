// libFuzzer harness: config.json text through parseConfig, then the sizes the model would be built from.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "attnscope/config.h"
#include "fuzz_support.h"

using namespace attnscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const ModelConfig config = parseConfig(text);
    // What the model constructors rely on (config.h promises validated, positive sizes).
    if (config.n_layer <= 0 || config.n_head <= 0 || config.d_model <= 0 || config.d_head <= 0 ||
        config.vocab_size <= 0 || config.n_kv_head <= 0 || config.d_ff <= 0)
      fuzz::contractViolated("parseConfig returned a non-positive size");
    for (int64_t layer = 0; layer < config.n_layer && layer < 4; ++layer) (void)config.windowOf(layer);
    if (config.arch != Architecture::Gpt2) (void)withRopeTheta(config, 2 * config.rope_theta);
    (void)architectureFeatures(config);
  } catch (const std::exception& error) {
    fuzz::noteRefusal(error);
  }
  return 0;
}
