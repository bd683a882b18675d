#include "attnscope/generate.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "attnscope/model.h"
#include "attnscope/runtime.h"

namespace attnscope {

Generation generateGreedy(Model& model, const std::vector<int64_t>& prompt, const GenerateOptions& options) {
  if (prompt.empty()) throw std::invalid_argument("generate: empty prompt");
  if (options.max_new_tokens < 0)
    throw std::invalid_argument("generate: max_new_tokens " + std::to_string(options.max_new_tokens) +
                                " is negative");
  Generation generation;
  if (options.max_new_tokens == 0) return generation;
  try {
    torch::NoGradGuard no_grad;
    KvCache cache;
    // The last step's token is never run, so the cache holds at most prompt + max_new_tokens - 1 positions.
    cache.reserve(static_cast<int64_t>(prompt.size()) + options.max_new_tokens - 1);
    ForwardOptions pass;
    pass.logits = LogitPositions::last();
    pass.normalizer = options.normalizer;
    pass.cache = &cache;
    auto ids = torch::tensor(prompt, torch::kInt64).view({1, -1});  // [1, T]: the prompt, then one token
    for (;;) {
      ForwardResult result = model.forward(ids, pass);
      if (result.stopped) {
        generation.stopped = true;
        break;
      }
      const int64_t next = result.logits[0][0].argmax().item<int64_t>();  // logits [1, 1, vocab]
      generation.ids.push_back(next);
      const bool stop =
          std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end();
      if (stop || static_cast<int64_t>(generation.ids.size()) >= options.max_new_tokens) break;
      ids = torch::full({1, 1}, next, torch::kInt64);
    }
  } catch (const c10::Error& e) {
    throw std::runtime_error(torchErrorLine(e));
  }
  return generation;
}

}  // namespace attnscope
