#pragma once
// Process-wide compute settings for LibTorch on CPU. No torch in this header.

#include <string>

namespace c10 {
class Error;
}

namespace attnscope {

/// Returns how many CPUs this process may run on (its affinity mask: a Slurm allocation, taskset, a cpuset),
/// falling back to the machine's core count.
int usableCores();
/// Sets LibTorch's intra-op thread count; 0 means one per usable core (usableCores()). Returns the count in
/// force.
int setComputeThreads(int n_threads);

/// Returns a one-line description of the compute backend (threads, BLAS library in use).
std::string computeDescription();

/// Returns "torch: " and the first line of a LibTorch error, without its backtrace.
std::string torchErrorLine(const c10::Error& error);

}  // namespace attnscope
