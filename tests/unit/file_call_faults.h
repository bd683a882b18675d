#pragma once
// Fault injection for crash-safety tests (test_store_safety, test_sweep_file): HDF5 reaches the file through
// pwrite and ftruncate, and these definitions take the place of libc's for the whole test binary. They pass
// every call through, except in a child that set g_die_at: that child dies by SIGKILL just before its
// g_die_at-th call, so the file holds exactly the writes before it. Include in one source file per binary.

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace {
std::atomic<long> g_file_calls{0};
long g_die_at = 0;

void crashPoint() {
  if (++g_file_calls == g_die_at) ::raise(SIGKILL);
}
}  // namespace

extern "C" ssize_t pwrite(int fd, const void* buffer, size_t n, off_t offset) {
  crashPoint();
  return ::syscall(SYS_pwrite64, fd, buffer, n, offset);
}

extern "C" int ftruncate(int fd, off_t length) noexcept {
  crashPoint();
  return static_cast<int>(::syscall(SYS_ftruncate, fd, length));
}
