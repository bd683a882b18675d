#pragma once
// Shared pieces of the libFuzzer harnesses: a per-process scratch directory, file writing, and splitting one
// input into several files. Harnesses catch std::exception (the CLI turns any of them into a one-line error);
// crashes, sanitizer reports, out-of-memory and timeouts are the findings.

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace attnscope::fuzz {

/// Separates the files packed into one input: "<file 0>#SEP<file 1>#SEP...". Short, so mutations find it.
inline constexpr std::string_view kSeparator = "#SEP";

/// Splits data on kSeparator; memmem lets libFuzzer's comparison hooks learn the separator.
inline std::vector<std::string> splitInput(const uint8_t* data, std::size_t size, std::size_t max_parts) {
  std::vector<std::string> parts;
  const char* p = reinterpret_cast<const char*>(data);
  const char* end = p + size;
  while (parts.size() + 1 < max_parts) {
    const void* hit = memmem(p, static_cast<std::size_t>(end - p), kSeparator.data(), kSeparator.size());
    if (!hit) break;
    const char* at = static_cast<const char*>(hit);
    parts.emplace_back(p, at);
    p = at + kSeparator.size();
  }
  parts.emplace_back(p, end);
  return parts;
}

/// A scratch directory for this process (libFuzzer's -jobs/-fork run several), removed at exit.
inline const std::filesystem::path& scratchDir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "attnscope-fuzz-XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      abort();
    }
    static std::string to_remove = pattern;
    atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(to_remove, ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

/// Writes bytes to <scratch>/<name> (replacing it) and returns the path.
inline std::string writeScratchFile(const std::string& name, std::string_view bytes) {
  const std::string path = (scratchDir() / name).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    abort();
  }
  return path;
}

/// Removes <scratch>/<name> if present, so files of an earlier input never leak into this one.
inline void removeScratchFile(const std::string& name) {
  std::error_code ec;
  std::filesystem::remove(scratchDir() / name, ec);
}

/// Called with every refusal (an exception the CLI would print): silent unless ATTNSCOPE_FUZZ_VERBOSE is set,
/// which shows why a seed was refused (a seed should load; its mutations mostly should not).
inline void noteRefusal(const std::exception& error) {
  static const bool verbose = std::getenv("ATTNSCOPE_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "refused: %s\n", error.what());
}

/// Reports a broken promise of an API (not a memory error, so no sanitizer would see it) as a crash.
[[noreturn]] inline void contractViolated(const char* what) {
  std::fprintf(stderr, "attnscope fuzz: contract violated: %s\n", what);
  abort();
}

}  // namespace attnscope::fuzz
