// libFuzzer harness: a model directory's safetensors weights. The input is "<model.safetensors>" or
// "<model.safetensors>#SEP<model.safetensors.index.json>#SEP<model-00001.safetensors>#SEP...": the index may
// name model.safetensors and the numbered shards. Every tensor's bytes are read, as loading a model does.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "attnscope/safetensors.h"
#include "fuzz_support.h"

using namespace attnscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  constexpr std::size_t kMaxShards = 3;
  const auto parts = fuzz::splitInput(data, size, 2 + kMaxShards);
  fuzz::writeScratchFile("model.safetensors", parts[0]);
  if (parts.size() > 1) {
    fuzz::writeScratchFile("model.safetensors.index.json", parts[1]);
  } else {
    fuzz::removeScratchFile("model.safetensors.index.json");
  }
  for (std::size_t i = 0; i < kMaxShards; ++i) {
    const std::string shard = "model-0000" + std::to_string(i + 1) + ".safetensors";
    if (i + 2 < parts.size()) {
      fuzz::writeScratchFile(shard, parts[i + 2]);
    } else {
      fuzz::removeScratchFile(shard);
    }
  }
  try {
    const Checkpoint checkpoint = Checkpoint::open(fuzz::scratchDir().string());
    unsigned checksum = 0;
    for (const auto& [name, view] : checkpoint.tensors()) {
      int64_t numel = view.numel();
      if (numel < 0 || static_cast<std::size_t>(numel) * dtypeSize(view.dtype) != view.nbytes)
        fuzz::contractViolated("TensorView nbytes != numel * dtype size");
      for (std::size_t i = 0; i < view.nbytes; ++i) checksum += static_cast<unsigned>(view.data[i]);
      checksum += static_cast<unsigned>(checkpoint.at(name).shape.size()) + dtypeName(view.dtype)[0];
    }
    checksum += static_cast<unsigned>(checkpoint.files().size());
    // Keeps the reads above from being optimised away.
    volatile unsigned sink = checksum;
    (void)sink;
  } catch (const std::exception& error) {
    fuzz::noteRefusal(error);
  }
  return 0;
}
