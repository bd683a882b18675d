#pragma once
// Capture files (HDF5): what a forward pass observed, for one prompt and model, with one group per run
// (normalizer). Written while the model streams query blocks; read lazily. No torch and no Qt in this header,
// so the GUI widgets can read captures directly.
//
// Layout (schema 1), readable with h5py alone:
//   /                      attrs: schema_version (int), creator (str)
//   /model                 attrs: config_json, path, weights_hash (str)
//   /tokens/ids            int64 [T]
//   /tokens/text           variable-length UTF-8 str [T] (display strings)
//   /runs/<run>            attrs: normalizer (spec text), complete (int 0/1), n_layer, n_head, n_tokens,
//                                 created (ISO 8601 UTC), topk (int), targets (int64 [n, 2] key ranges),
//                                 local_window (int: W of local_mass; absent in older files),
//                                 compute_dtype (str: float32 or bfloat16, the linear layers' precision;
//                                 absent in files written before it existed, read as "")
//   /runs/<run>/model      optional, attrs as /model: the run used other weights than /model on the same
//   tokens
//                          (e.g. a softmax-trained and an SSMax-trained model compared on one prompt)
//   /runs/<run>/stats/<stat>            float32 [n_layer, n_head, T]: one value per query position
//   /runs/<run>/maps/<hook>/head_<h>/level_<k>
//                          float16 [ceil(T/2^k), ceil(T/2^k)]: level 0 is the map itself (query × key), level
//                          k max-pools 2^k × 2^k cells; levels stop at the first side <= 256. Chunked,
//                          deflated; never-written cells read as 0. <hook> is the hook name, e.g.
//                          blocks.3.attn.hook_pattern.
//
// Safety: a run is marked complete only after all of its data is flushed; a writer killed at any point leaves
// the file openable with every earlier run intact and the interrupted run's complete flag 0.
//
// Files from anywhere: the reader trusts no attribute. open() checks the root (schema, /tokens within the
// bounds below); runs() and run() check every dataset's rank and shape against the run's attributes; every
// read checks its sizes again before allocating. Only hard links are followed (soft and external links are
// refused), and text from the file is quoted escaped (escapeForMessage, attnscope/untrusted_text.h) in
// messages. A mismatch is a one-line StoreError.

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "attnscope/capture_syntax.h"  // MapRequest

namespace attnscope {

/// Thrown for unreadable, foreign, locked or inconsistent capture files; what() is one line naming the file.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr int kCaptureSchemaVersion = 1;

// Bounds of what a capture may declare (README, "Capture files"): a file beyond them is refused on opening,
// before anything is allocated, and the writer never makes one.
constexpr int64_t kMaxCaptureTokens = int64_t{1} << 24;    // T: 16,777,216 tokens
constexpr int64_t kMaxCaptureLayers = 4096;                // n_layer
constexpr int64_t kMaxCaptureHeads = 4096;                 // n_head
constexpr int64_t kMaxCaptureLayerHeads = 1 << 16;         // n_layer × n_head (Llama 3 405B: 16,128)
constexpr int64_t kMaxStatLayerValues = int64_t{1} << 28;  // n_head × n_tokens: one layer of a stat, 1 GiB
constexpr int64_t kMaxMapTileCells = int64_t{1} << 28;     // cells of one readMapTile
constexpr int64_t kMaxTargetRanges = 1 << 16;              // rows of the targets attribute
constexpr int64_t kMaxCaptureStringBytes = int64_t{1} << 24;  // one fixed-length string attribute
constexpr int64_t kMaxTokenTextBytes = int64_t{1} << 30;      // a fixed-length /tokens/text, all of it

struct CaptureModel {
  std::string config_json;
  std::string path;
  std::string weights_hash;
};

struct CaptureTokens {
  std::vector<int64_t> ids;
  std::vector<std::string> text;  // display string per token
};

struct RunSpec {
  std::string name;           // group name under /runs, unique in the file
  std::string normalizer;     // spec text
  std::string compute_dtype;  // float32 or bfloat16: the precision of the model's linear layers
  int64_t n_layer = 0, n_head = 0, n_tokens = 0;
  std::vector<std::string> stats;  // stat dataset names, each [n_layer, n_head, n_tokens]
  std::vector<MapRequest> maps;
  int64_t topk = 0;
  int64_t local_window = 0;  // W of local_mass (0: not captured; no attribute written)
  std::vector<std::pair<int64_t, int64_t>> targets;  // [begin, end) token ranges
  std::optional<CaptureModel> model;  // set when the run used other weights than the file's /model
};

class CaptureFile;

/// Writes one run. Created by CaptureFile::beginRun; call finish() to mark it complete.
class RunWriter {
 public:
  ~RunWriter();
  RunWriter(RunWriter&&) noexcept;
  /// Writes queries [q0, q1) of one layer's statistic; values is [n_head, q1 - q0], row-major.
  void writeStat(const std::string& stat, int64_t layer, int64_t q0, int64_t q1, const float* values);
  /// Writes rows [q0, q1), columns [k0, k1) of a map; values is [q1 - q0, k1 - k0] row-major float32 (stored
  /// as float16). Rows must arrive in increasing order per map (the pyramid is pooled as they stream).
  void writeMapBlock(const std::string& hook, int64_t head, int64_t q0, int64_t q1, int64_t k0, int64_t k1,
                     const float* values);
  /// Flushes everything written so far (progress survives a kill after this returns).
  void flush();
  /// Completes the pyramid, flushes, and sets complete = 1.
  void finish();

 private:
  friend class CaptureFile;
  struct Impl;
  explicit RunWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

/// Summary of a run as read from a file (metadata only).
struct RunInfo {
  std::string name, normalizer, created;
  std::string compute_dtype;  // "" in files written before it was recorded
  bool complete = false;
  int64_t n_layer = 0, n_head = 0, n_tokens = 0, topk = 0;
  int64_t local_window = 0;  // W of local_mass; 0 in files written before it existed
  std::vector<std::string> stats;
  std::vector<MapRequest> maps;
  std::vector<std::pair<int64_t, int64_t>> targets;
  std::optional<CaptureModel> model;  // the run's own weights, when they differ from the file's /model
};

/// A capture file opened for reading (lazy: opening reads metadata only) or for appending runs.
class CaptureFile {
 public:
  enum class Mode { Read, Append };
  /// Opens an existing capture; Append also locks it against a second writer. Throws StoreError.
  static std::unique_ptr<CaptureFile> open(const std::string& path, Mode mode = Mode::Read);
  /// Creates a capture (or opens an existing one for appending, which must hold the same tokens and, unless
  /// other_weights is set, the same weights hash; runs of other weights then carry RunSpec::model). Throws
  /// StoreError.
  static std::unique_ptr<CaptureFile> create(const std::string& path, const CaptureModel& model,
                                             const CaptureTokens& tokens, bool other_weights = false);
  ~CaptureFile();

  const std::string& path() const;
  CaptureModel model() const;
  CaptureTokens tokens() const;
  int64_t nTokens() const;
  std::vector<RunInfo> runs() const;
  RunInfo run(const std::string& name) const;

  /// Reads stat [n_head, T] of one layer (or one head: [T]).
  std::vector<float> readStat(const std::string& run, const std::string& stat, int64_t layer) const;
  std::vector<float> readStat(const std::string& run, const std::string& stat, int64_t layer,
                              int64_t head) const;
  /// Number of pyramid levels stored for a map.
  int64_t mapLevels(const std::string& run, const std::string& hook, int64_t head) const;
  /// Reads a tile of a pyramid level: rows [r0, r1), columns [c0, c1) in that level's cells, as float32.
  std::vector<float> readMapTile(const std::string& run, const std::string& hook, int64_t head, int64_t level,
                                 int64_t r0, int64_t r1, int64_t c0, int64_t c1) const;

  /// Starts a run (its group is created with complete = 0). Throws StoreError if the name exists or the file
  /// was opened read-only.
  RunWriter beginRun(const RunSpec& spec);

 private:
  struct Impl;
  explicit CaptureFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

/// Returns a content hash (hex) of the files, for CaptureModel::weights_hash.
std::string hashFiles(const std::vector<std::string>& paths);

}  // namespace attnscope
