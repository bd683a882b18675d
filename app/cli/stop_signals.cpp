// What the long-running commands (train, sweep) share: stopping between steps on SIGINT or SIGTERM, and
// durations in progress lines.

#include <csignal>
#include <cstdio>

#include "commands.h"

namespace attnscope::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void requestStop(int) {
  g_stop = 1;
}

}  // namespace

StopSignals::StopSignals() {
  g_stop = 0;
  struct sigaction action = {};
  action.sa_handler = requestStop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &m_old_int);
  sigaction(SIGTERM, &action, &m_old_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &m_old_int, nullptr);
  sigaction(SIGTERM, &m_old_term, nullptr);
}

bool StopSignals::requested() const {
  return g_stop != 0;
}

std::string formatDuration(double seconds) {
  if (!(seconds >= 0)) return "-:--:--";
  const long long s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

}  // namespace attnscope::cli
