#pragma once
// Process-wide compute settings for LibTorch on CPU. No torch in this header.

#include <string>

namespace attnscope {

/// Sets LibTorch's intra-op thread count; 0 means one per available core. Returns the count in force.
int setComputeThreads(int n_threads);

/// Returns a one-line description of the compute backend (threads, BLAS library in use).
std::string computeDescription();

}  // namespace attnscope
