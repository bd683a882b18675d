#pragma once
// Training and evaluation text: real English from Debian's fortunes files (read at run time, never
// committed), split by file into training and held-out text, and the synthetic needle-retrieval task written
// into it. Bytes are tokens (ids 0..255), so a byte offset is a token position. No torch in this header.

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace attnscope {

/// Where the text comes from and which files are held out for evaluation.
struct CorpusParams {
  std::string dir = "/usr/share/games/fortunes";
  /// Files (by name) kept out of training: the held-out text of `eval` (~10% of the fortunes package).
  std::vector<std::string> held_out = {"literature", "science", "wisdom", "zippy"};
};

/// The corpus as two texts; fortunes' '%' separator lines become blank lines, files are joined in name order.
struct TextCorpus {
  std::string train_text;
  std::string held_out_text;
  std::vector<std::string> train_files;
  std::vector<std::string> held_out_files;
};

/// Reads every regular file of the corpus directory except *.dat and *.u8 (symlinks are skipped); throws
/// std::runtime_error when the directory is unreadable or either part comes out empty.
TextCorpus loadCorpus(const CorpusParams& params);

/// Text that prompts are cut from (a sweep's haystack or documents) and the files it was read from.
struct HaystackText {
  std::string text;
  std::vector<std::string> files;  // paths, in the order their text was joined
};

/// Upper bound on a haystack's bytes: the whole text is held in memory.
constexpr int64_t kMaxHaystackBytes = int64_t{256} << 20;

/// Reads a haystack: a text file as it is, or every file of a directory as loadCorpus reads them (name order,
/// '%' lines blanked, *.dat/*.u8 and symlinks skipped); an empty path gives the held-out text of `corpus`.
/// Throws std::runtime_error (one line) for unreadable, empty or oversized (kMaxHaystackBytes) text.
HaystackText loadHaystack(const std::string& path, const CorpusParams& corpus = {});

/// Returns n_bytes bytes of source from offset (taken modulo its size), wrapping around to its start.
std::string textSlice(const std::string& source, uint64_t offset, int64_t n_bytes);

/// Digits of a needle's number (the answer a model must retrieve).
constexpr int64_t kNeedleDigits = 7;

/// One needle: a city and the kNeedleDigits-digit number to retrieve.
struct Needle {
  std::string city;
  std::string digits;
};

/// Draws a needle (city from a fixed list of 50, digits uniform, first digit non-zero).
Needle drawNeedle(std::mt19937_64& rng);
/// Returns "The special magic <city> number is: <digits>."
std::string needleSentence(const Needle& needle);
/// Returns "\nWhat is the special magic <city> number? The special magic <city> number is: " (answer
/// follows).
std::string needleQuestion(const Needle& needle);

/// A retrieval prompt; the model should continue it with `answer`.
struct NeedlePrompt {
  std::string text;          // haystack with the needle sentence inside, then the question
  int64_t needle_begin = 0;  // byte range [needle_begin, needle_end) of the needle sentence in text
  int64_t needle_end = 0;
  int64_t digits_begin = 0;  // byte offset of the digits inside text (digits_begin + 7 <= needle_end)
  std::string answer;        // the 7 digits expected after text
  std::string city;
};

/// Builds a prompt of exactly n_bytes bytes: haystack taken from `source` at `offset` (wrapping around), the
/// needle sentence inserted at fraction `depth` of the haystack (moved back to a word start), the question at
/// the end. Throws std::invalid_argument when n_bytes cannot hold the needle and the question.
NeedlePrompt buildNeedlePrompt(const std::string& source, uint64_t offset, int64_t n_bytes, double depth,
                               const Needle& needle);
/// Builds a needle prompt as above with other cities' needle sentences (distractors) inserted too, each at
/// its own fraction of the haystack (moved back to a word start); the haystack gives up their bytes.
NeedlePrompt buildNeedlePrompt(const std::string& source, uint64_t offset, int64_t n_bytes, double depth,
                               const Needle& needle,
                               const std::vector<std::pair<Needle, double>>& distractors);
/// Returns how many distractors a prompt of `length` tokens holds at `per_thousand` per 1,000 tokens (the
/// rule `sweep --distractors` uses, so training and evaluation share one density).
int64_t distractorCount(double per_thousand, int64_t length);
/// Builds a prompt with a random needle and haystack offset drawn from rng.
NeedlePrompt buildNeedlePrompt(const std::string& source, int64_t n_bytes, double depth,
                               std::mt19937_64& rng);
/// Returns the fewest bytes a needle prompt can have (longest city, empty haystack).
int64_t minNeedlePromptBytes();

/// One training sequence; answer_begin < 0 for plain text.
struct TrainSample {
  std::string bytes;
  int64_t answer_begin = -1;  // byte range of the answer digits
  int64_t answer_end = -1;
};

/// Draws a sequence of exactly n_bytes bytes from source: with probability needle_share a needle prompt at a
/// uniform depth followed by its answer and ".", else a plain slice at a uniform offset.
TrainSample drawTrainSample(const std::string& source, int64_t n_bytes, double needle_share,
                            std::mt19937_64& rng, double distractors = 0);

/// Draws PoSE-style position ids (Zhu et al. 2023, "PoSE: Efficient Context Window Extension of LLMs via
/// Positional Skip-wise Training") for a sequence of n tokens: two chunks split at a uniform point c in
/// [1, n - 1], positions 0..c-1 for the first and c + u.. for the second, with the skip u uniform in
/// [0, max_position - n]. Relative distances between the chunks span u + 1 .. u + n - 1, so over many
/// sequences every distance below max_position is seen while each chunk keeps its local order. Requires
/// 2 <= n <= max_position.
std::vector<int64_t> drawPosePositions(int64_t n, int64_t max_position, std::mt19937_64& rng);

/// Returns a uniform integer in [0, n) from rng (libstdc++-independent, so data order is reproducible).
uint64_t uniformIndex(std::mt19937_64& rng, uint64_t n);
/// Returns a uniform double in [0, 1) with 53 random bits.
double uniformUnit(std::mt19937_64& rng);

}  // namespace attnscope
