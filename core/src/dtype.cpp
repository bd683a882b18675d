#include "attnscope/dtype.h"

#include <stdexcept>

namespace attnscope {

const char* computeDtypeName(ComputeDtype dtype) {
  switch (dtype) {
    case ComputeDtype::Float32:
      return "float32";
    case ComputeDtype::BFloat16:
      return "bfloat16";
    case ComputeDtype::Auto:
      break;
  }
  return "auto";
}

std::vector<std::string> computeDtypeNames() {
  return {"auto", "float32", "bfloat16"};
}

ComputeDtype parseComputeDtype(const std::string& name) {
  if (name == "auto") return ComputeDtype::Auto;
  if (name == "float32" || name == "fp32") return ComputeDtype::Float32;
  if (name == "bfloat16" || name == "bf16") return ComputeDtype::BFloat16;
  throw std::invalid_argument("dtype '" + name + "' is not auto, float32 or bfloat16");
}

}  // namespace attnscope
