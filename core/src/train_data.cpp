#include "attnscope/train_data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "attnscope/text_input.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

// Single-word names keep the needle short; the list is part of the data format (changing it changes
// training).
const char* const kCities[] = {
    "Paris",   "Tokyo",  "Lima",     "Oslo",    "Cairo",  "Dublin",  "Madrid",   "Berlin",   "Vienna",
    "Prague",  "Warsaw", "Lisbon",   "Athens",  "Rome",   "Seoul",   "Hanoi",    "Manila",   "Jakarta",
    "Delhi",   "Mumbai", "Dhaka",    "Karachi", "Tehran", "Baghdad", "Nairobi",  "Lagos",    "Accra",
    "Dakar",   "Tunis",  "Algiers",  "Quito",   "Bogota", "Caracas", "Santiago", "Havana",   "Toronto",
    "Chicago", "Denver", "Boston",   "Seattle", "Sydney", "Perth",   "Auckland", "Helsinki", "Stockholm",
    "Moscow",  "Kyiv",   "Istanbul", "Beirut",  "Amman"};

// Returns a file's text with fortune separator lines ("%") turned into blank lines.
std::string readFortuneFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  std::string out, line;
  while (std::getline(in, line)) {
    if (line != "%") out += line;
    out += '\n';
  }
  return out;
}

// Returns the regular files of a text directory in name order (*.dat, *.u8 and symlinks skipped).
std::vector<fs::path> listTextFiles(const std::string& dir) {
  std::error_code error;
  fs::directory_iterator it(dir, error);
  if (error)
    throw std::runtime_error("corpus: cannot read directory " + dir +
                             " (the fortunes package provides it: scripts/setup.sh)");
  std::vector<fs::path> files;
  for (const auto& entry : it) {
    const fs::path& path = entry.path();
    if (entry.is_symlink() || !entry.is_regular_file()) continue;
    if (path.extension() == ".dat" || path.extension() == ".u8") continue;
    files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool isSpace(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

}  // namespace

std::string textSlice(const std::string& source, uint64_t offset, int64_t n_bytes) {
  if (source.empty()) throw std::invalid_argument("text slice: no source text");
  std::string out;
  out.reserve(static_cast<std::size_t>(n_bytes));
  std::size_t at = static_cast<std::size_t>(offset % source.size());
  while (static_cast<int64_t>(out.size()) < n_bytes) {
    std::size_t take =
        std::min<std::size_t>(static_cast<std::size_t>(n_bytes) - out.size(), source.size() - at);
    out.append(source, at, take);
    at = 0;
  }
  return out;
}

uint64_t uniformIndex(std::mt19937_64& rng, uint64_t n) {
  // Modulo bias is below n / 2^64: irrelevant for text offsets.
  return n == 0 ? 0 : rng() % n;
}

double uniformUnit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

TextCorpus loadCorpus(const CorpusParams& params) {
  std::vector<fs::path> files = listTextFiles(params.dir);
  TextCorpus corpus;
  for (const fs::path& path : files) {
    const std::string name = path.filename().string();
    const bool held =
        std::find(params.held_out.begin(), params.held_out.end(), name) != params.held_out.end();
    (held ? corpus.held_out_text : corpus.train_text) += readFortuneFile(path) + "\n";
    (held ? corpus.held_out_files : corpus.train_files).push_back(name);
  }
  if (corpus.train_text.empty()) throw std::runtime_error("corpus: no training text in " + params.dir);
  if (corpus.held_out_text.empty())
    throw std::runtime_error("corpus: none of the held-out files is in " + params.dir);
  return corpus;
}

HaystackText loadHaystack(const std::string& path, const CorpusParams& corpus) {
  HaystackText haystack;
  std::vector<fs::path> files;
  std::error_code error;
  const bool single_file = !path.empty() && !fs::is_directory(path, error);
  if (path.empty()) {
    for (const std::string& name : loadCorpus(corpus).held_out_files)
      files.push_back(fs::path(corpus.dir) / name);
  } else {
    if (!fs::exists(path, error)) throw std::runtime_error("haystack: " + path + " does not exist");
    if (single_file && !fs::is_regular_file(path, error))
      throw std::runtime_error("haystack: " + path + " is not a regular file or directory");
    files = single_file ? std::vector<fs::path>{path} : listTextFiles(path);
  }
  int64_t bytes = 0;
  for (const fs::path& file : files) {
    const auto size = fs::file_size(file, error);
    bytes += error ? 0 : static_cast<int64_t>(size);
    if (bytes > kMaxHaystackBytes)
      throw std::runtime_error("haystack: " + (path.empty() ? corpus.dir : path) + " holds more than " +
                               std::to_string(kMaxHaystackBytes >> 20) + " MiB of text");
    // A single file is the user's text as it is; a directory's files are read as the corpus reads them.
    haystack.text += single_file ? readFile(file.string()) : readFortuneFile(file) + "\n";
    haystack.files.push_back(file.string());
  }
  if (haystack.text.empty())
    throw std::runtime_error("haystack: no text in " + (path.empty() ? corpus.dir : path));
  return haystack;
}

Needle drawNeedle(std::mt19937_64& rng) {
  constexpr uint64_t n_cities = sizeof(kCities) / sizeof(kCities[0]);
  Needle needle;
  needle.city = kCities[uniformIndex(rng, n_cities)];
  needle.digits = std::string(1, static_cast<char>('1' + uniformIndex(rng, 9)));
  for (int64_t i = 1; i < kNeedleDigits; ++i) needle.digits += static_cast<char>('0' + uniformIndex(rng, 10));
  return needle;
}

std::string needleSentence(const Needle& needle) {
  return "The special magic " + needle.city + " number is: " + needle.digits + ".";
}

std::string needleQuestion(const Needle& needle) {
  return "\nWhat is the special magic " + needle.city + " number? The special magic " + needle.city +
         " number is: ";
}

int64_t minNeedlePromptBytes() {
  std::size_t longest = 0;
  for (const char* city : kCities) longest = std::max(longest, std::string(city).size());
  Needle needle{std::string(longest, 'x'), std::string(kNeedleDigits, '0')};
  return static_cast<int64_t>(needleSentence(needle).size() + 1 + needleQuestion(needle).size());
}

NeedlePrompt buildNeedlePrompt(const std::string& source, uint64_t offset, int64_t n_bytes, double depth,
                               const Needle& needle) {
  return buildNeedlePrompt(source, offset, n_bytes, depth, needle, {});
}

NeedlePrompt buildNeedlePrompt(const std::string& source, uint64_t offset, int64_t n_bytes, double depth,
                               const Needle& needle,
                               const std::vector<std::pair<Needle, double>>& distractors) {
  struct Insertion {
    std::string text;  // sentence and the blank after it
    double depth = 0;
    int64_t at = 0;  // haystack byte it goes before
    bool is_needle = false;
  };
  std::vector<Insertion> inserts = {{needleSentence(needle) + " ", depth, 0, true}};
  for (const auto& [other, where] : distractors)
    inserts.push_back({needleSentence(other) + " ", where, 0, false});
  const std::string question = needleQuestion(needle);
  int64_t fixed = static_cast<int64_t>(question.size());
  for (const Insertion& in : inserts) fixed += static_cast<int64_t>(in.text.size());
  if (n_bytes < fixed)
    throw std::invalid_argument(
        "needle prompt: " + std::to_string(n_bytes) + " bytes cannot hold the needle, the question" +
        (distractors.empty() ? std::string()
                             : " and " + std::to_string(distractors.size()) + " distractor(s)") +
        " (" + std::to_string(fixed) + ")");
  if (source.empty()) throw std::invalid_argument("needle prompt: no haystack text");
  const int64_t n_hay = n_bytes - fixed;
  const std::string hay = textSlice(source, offset, n_hay);
  for (Insertion& in : inserts) {
    if (!(in.depth >= 0.0 && in.depth <= 1.0))
      throw std::invalid_argument("needle prompt: depth must be in [0, 1]");
    in.at = std::min<int64_t>(n_hay, std::llround(in.depth * static_cast<double>(n_hay)));
    while (in.at > 0 && !isSpace(hay[in.at - 1])) --in.at;  // never split a word
  }
  // In haystack order; at one point the needle goes first.
  std::stable_sort(inserts.begin(), inserts.end(),
                   [](const Insertion& a, const Insertion& b) { return a.at < b.at; });

  NeedlePrompt prompt;
  int64_t used = 0;
  for (const Insertion& in : inserts) {
    prompt.text += hay.substr(used, in.at - used);
    used = in.at;
    if (in.is_needle) {
      prompt.needle_begin = static_cast<int64_t>(prompt.text.size());
      prompt.needle_end =
          prompt.needle_begin + static_cast<int64_t>(in.text.size()) - 1;  // without the blank
    }
    prompt.text += in.text;
  }
  prompt.text += hay.substr(used) + question;
  prompt.digits_begin = prompt.needle_end - 1 - kNeedleDigits;  // the digits end just before the final "."
  prompt.answer = needle.digits;
  prompt.city = needle.city;
  return prompt;
}

int64_t distractorCount(double per_thousand, int64_t length) {
  return std::llround(per_thousand * static_cast<double>(length) / 1000.0);
}

NeedlePrompt buildNeedlePrompt(const std::string& source, int64_t n_bytes, double depth,
                               std::mt19937_64& rng) {
  Needle needle = drawNeedle(rng);
  uint64_t offset = uniformIndex(rng, source.size());
  return buildNeedlePrompt(source, offset, n_bytes, depth, needle);
}

TrainSample drawTrainSample(const std::string& source, int64_t n_bytes, double needle_share,
                            std::mt19937_64& rng, double distractors) {
  TrainSample sample;
  if (uniformUnit(rng) < needle_share) {
    Needle needle = drawNeedle(rng);
    const double depth = uniformUnit(rng);
    const uint64_t offset = uniformIndex(rng, source.size());
    std::vector<std::pair<Needle, double>> others;  // none drawn at rate 0: earlier runs' data stays the same
    for (int64_t d = distractorCount(distractors, n_bytes); d > 0; --d) {
      Needle other = drawNeedle(rng);
      while (other.city == needle.city) other = drawNeedle(rng);
      others.emplace_back(other, uniformUnit(rng));
    }
    NeedlePrompt prompt =
        buildNeedlePrompt(source, offset, n_bytes - kNeedleDigits - 1, depth, needle, others);
    sample.answer_begin = static_cast<int64_t>(prompt.text.size());
    sample.answer_end = sample.answer_begin + kNeedleDigits;
    sample.bytes = prompt.text + prompt.answer + ".";
  } else {
    sample.bytes = textSlice(source, uniformIndex(rng, source.size()), n_bytes);
  }
  return sample;
}

std::vector<int64_t> drawPosePositions(int64_t n, int64_t max_position, std::mt19937_64& rng) {
  if (n < 2 || max_position < n)
    throw std::invalid_argument("PoSE positions: need 2 <= tokens (" + std::to_string(n) +
                                ") <= largest position (" + std::to_string(max_position) + ")");
  const int64_t split = 1 + static_cast<int64_t>(uniformIndex(rng, static_cast<uint64_t>(n - 1)));
  const int64_t skip = static_cast<int64_t>(uniformIndex(rng, static_cast<uint64_t>(max_position - n + 1)));
  std::vector<int64_t> positions(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) positions[static_cast<std::size_t>(i)] = i < split ? i : i + skip;
  return positions;
}

}  // namespace attnscope
