// Tokenizer throughput: encodes ~1 MB of English text with GPT-2 BPE, Llama 3 and Llama 2 tokenizer.json on
// one thread and prints MB/s, next to baselines measured in the same run on the same text: the raw byte
// tokenizer (validation and copying only) and, when node and the reference packages are there, the JavaScript
// tokenizers that test_tokenizer compares against.
//
// Usage: bench_tokenizer [DATA_DIR] [MEGABYTES]
//   DATA_DIR  the folder tests/tokenizer/setup.sh prepared (default $ATTNSCOPE_TOKENIZER_DATA)
// Text comes from Debian's fortunes if installed, else license and copyright texts under /usr/share.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attnscope/tokenizer.h"

namespace fs = std::filesystem;
using attnscope::Tokenizer;
using attnscope::TokenizerError;

namespace {

std::string readAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Collects valid UTF-8 text files from the first source that has any, up to `target` bytes.
std::string englishText(std::size_t target, std::string* source) {
  const auto bytes = attnscope::makeByteTokenizer();
  const std::vector<std::pair<std::string, std::string>> sources = {
      {"/usr/share/games/fortunes", ""}, {"/usr/share/common-licenses", ""}, {"/usr/share/doc", "copyright"}};
  std::string text;
  for (const auto& [dir, only_name] : sources) {
    std::error_code error;
    if (!fs::is_directory(dir, error)) continue;
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(dir, error); it != fs::recursive_directory_iterator();
         it.increment(error)) {
      if (error) break;
      const fs::path& p = it->path();
      if (!it->is_regular_file(error) || it->is_symlink(error)) continue;
      if (p.extension() == ".dat" || p.extension() == ".gz" || p.extension() == ".u8") continue;
      if (!only_name.empty() && p.filename() != only_name) continue;
      files.push_back(p);
    }
    std::sort(files.begin(), files.end());  // the same text on every run
    for (const fs::path& file : files) {
      std::string content = readAll(file);
      try {
        bytes->encode(content);  // keeps only valid UTF-8 (some copyright files are Latin-1)
      } catch (const TokenizerError&) {
        continue;
      }
      text += content;
      if (text.size() >= target) break;
    }
    if (!text.empty()) {
      *source = dir;
      if (text.size() >= target) break;
    }
  }
  if (text.size() > target) {
    const std::size_t cut = text.rfind('\n', target);
    text.resize(cut == std::string::npos ? target : cut + 1);
  }
  return text;
}

/// Cuts the text after the first newline past every ~4 KB: prompts are encoded one by one, and the JavaScript
/// gpt-3-encoder grows its result array quadratically, so both sides encode these same chunks.
std::vector<std::string> chunksOf(const std::string& text) {
  std::vector<std::string> chunks;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', std::min(text.size(), begin + 4096));
    end = end == std::string::npos ? text.size() : end + 1;
    chunks.push_back(text.substr(begin, end - begin));
    begin = end;
  }
  return chunks;
}

struct Speed {
  double cold_mbps = 0, warm_mbps = 0, one_call_mbps = 0;
  std::size_t n_tokens = 0;
};

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Encodes the chunks once with the tokenizer's word cache empty (cold), then best of three (warm), then the
/// whole text in one call.
Speed measure(const Tokenizer& tokenizer, const std::vector<std::string>& chunks, const std::string& text) {
  Speed speed;
  const double megabytes = static_cast<double>(text.size()) / 1e6;
  for (int run = 0; run < 4; ++run) {
    const auto start = std::chrono::steady_clock::now();
    std::size_t n_tokens = 0;
    for (const std::string& chunk : chunks) n_tokens += tokenizer.encode(chunk, false).size();
    const double mbps = megabytes / secondsSince(start);
    if (run == 0) {
      speed.cold_mbps = mbps;
    } else {
      speed.warm_mbps = std::max(speed.warm_mbps, mbps);
    }
    speed.n_tokens = n_tokens;
  }
  const auto start = std::chrono::steady_clock::now();
  tokenizer.encode(text, false);
  speed.one_call_mbps = megabytes / secondsSince(start);
  return speed;
}

std::string sourceDir() {
#ifdef ATTNSCOPE_SOURCE_DIR
  return ATTNSCOPE_SOURCE_DIR;
#else
  const char* env = std::getenv("ATTNSCOPE_SOURCE_DIR");
  return env ? env : ".";
#endif
}

/// Runs the JavaScript baseline; returns its lines "<name> <cold> <warm> <tokens>", or "" when unavailable.
std::string javascriptBaseline(const fs::path& data, const std::vector<std::string>& chunks) {
  const fs::path script = fs::path(sourceDir()) / "tests/tokenizer/bench_reference.js";
  if (!fs::exists(script) || !fs::is_directory(data / "node_modules")) return "";
  const fs::path chunk_file = fs::temp_directory_path() / "attnscope_bench_tokenizer.json";
  std::ofstream(chunk_file, std::ios::binary) << nlohmann::json(chunks).dump();
  const std::string command =
      "node '" + script.string() + "' '" + data.string() + "' '" + chunk_file.string() + "' 2>/dev/null";
  std::string output;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[256];
    while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
    if (pclose(pipe) != 0) output.clear();
  }
  fs::remove(chunk_file);
  return output;
}

}  // namespace

int main(int argc, char** argv) {
  const char* env_data = std::getenv("ATTNSCOPE_TOKENIZER_DATA");
  const fs::path data = argc > 1 ? argv[1] : env_data ? env_data : "";
  const double megabytes = argc > 2 ? std::atof(argv[2]) : 1.0;
  std::string source;
  const std::string text = englishText(static_cast<std::size_t>(megabytes * 1e6), &source);
  if (text.empty()) {
    std::fprintf(stderr, "bench_tokenizer: found no text under /usr/share (install fortunes)\n");
    return 1;
  }
  const std::vector<std::string> chunks = chunksOf(text);
  std::printf("text: %.2f MB from %s in %zu chunks of ~4 KB; one thread; MB/s = 1e6 bytes per second\n",
              text.size() / 1e6, source.c_str(), chunks.size());
  std::printf(
      "cold: first pass, empty word cache; warm: best of 3 more; 1-call: the whole text in one encode()\n");
  std::printf("%-28s %7s %10s %10s %11s %10s %8s\n", "tokenizer", "load s", "cold MB/s", "warm MB/s",
              "1-call MB/s", "tokens", "B/token");
  const auto report = [&](const std::string& name, double load_seconds, const Speed& s) {
    const auto optional = [](double v) {
      return v > 0 ? std::to_string(v).substr(0, std::to_string(v).find('.') + 3) : std::string("-");
    };
    std::printf("%-28s %7s %10.2f %10.2f %11s %10zu %8.2f\n", name.c_str(), optional(load_seconds).c_str(),
                s.cold_mbps, s.warm_mbps, optional(s.one_call_mbps).c_str(), s.n_tokens,
                s.n_tokens ? text.size() / static_cast<double>(s.n_tokens) : 0.0);
  };
  report("bytes (baseline)", 0, measure(*attnscope::makeByteTokenizer(), chunks, text));
  if (data.empty()) {
    std::printf("no DATA_DIR (run tests/tokenizer/setup.sh DIR and pass DIR): real tokenizers skipped\n");
    return 0;
  }
  const std::vector<std::pair<std::string, std::string>> models = {
      {"gpt2 (vocab.json)", "models/gpt2"},
      {"llama3 (tokenizer.json)", "models/llama3"},
      {"llama2 (tokenizer.json)", "models/llama2"}};
  for (const auto& [name, dir] : models) {
    try {
      const auto start = std::chrono::steady_clock::now();
      const auto tokenizer = attnscope::loadTokenizer((data / dir).string());
      const double load = secondsSince(start);
      report(name, load, measure(*tokenizer, chunks, text));
    } catch (const TokenizerError& e) {
      std::printf("%-28s skipped: %s\n", name.c_str(), e.what());
    }
  }
  const std::string baseline = javascriptBaseline(data, chunks);
  if (baseline.empty()) {
    std::printf("JavaScript baseline unavailable (needs node and the packages from setup.sh)\n");
    return 0;
  }
  std::istringstream lines(baseline);
  std::string name;
  Speed s;
  while (lines >> name >> s.cold_mbps >> s.warm_mbps >> s.n_tokens) report(name + " (JavaScript)", 0, s);
  return 0;
}
