#include "attnscope/runtime.h"

#include <sched.h>

#include <fstream>
#include <thread>

#include <torch/torch.h>

namespace attnscope {

int usableCores() {
  // The CPUs this process may run on (a Slurm job's allocation, taskset, a container's cpuset), not every
  // core of the machine: more threads than that only contend.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int setComputeThreads(int n_threads) {
  if (n_threads <= 0) n_threads = usableCores();
  torch::set_num_threads(n_threads);
  return torch::get_num_threads();
}

std::string computeDescription() {
  // Which libblas.so.3 the dynamic linker resolved decides matmul speed by ~40x here (netlib vs OpenBLAS).
  std::string blas = "unknown BLAS";
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("openblas") != std::string::npos) {
      blas = "OpenBLAS";
      break;
    }
    if (line.find("libblas.so") != std::string::npos)
      blas = "libblas.so.3 (reference BLAS unless an alternative)";
  }
  return "CPU, " + std::to_string(torch::get_num_threads()) + " threads, " + blas;
}

std::string torchErrorLine(const c10::Error& error) {
  std::string message = error.what_without_backtrace();
  return "torch: " + message.substr(0, message.find('\n'));
}

}  // namespace attnscope
