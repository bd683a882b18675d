// attnscope-cli export: the desktop application's headless export, reachable from the CLI without linking Qt.
// Runs the `attnscope` binary installed beside attnscope-cli as `attnscope --export ARGS...`.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "commands.h"

namespace attnscope::cli {

int runExport(const ExportCommandOptions& options) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::filesystem::path gui = self.parent_path() / "attnscope";
  if (error || access(gui.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "attnscope-cli: error: export needs the attnscope GUI binary beside attnscope-cli (%s not "
                 "found; build with ATTNSCOPE_BUILD_GUI=ON)\n",
                 gui.c_str());
    return 1;
  }
  std::vector<char*> argv{const_cast<char*>(gui.c_str()), const_cast<char*>("--export")};
  for (const std::string& arg : options.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  execv(gui.c_str(), argv.data());
  std::fprintf(stderr, "attnscope-cli: error: cannot run %s: %s\n", gui.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace attnscope::cli
