#pragma once
// Internals of the capture store (store*.cpp): RAII handles for the HDF5 C API, fp16 conversion, attribute
// helpers, the checks every read makes, the open file shared by reader and writer, and the streaming pyramid
// writer. Private to the core; the public interface is attnscope/store.h.

#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attnscope/store.h"
#include "attnscope/untrusted_text.h"

namespace attnscope::store {

/// Owns one HDF5 identifier and releases it with the matching H5?close, so no handle leaks on exceptions.
template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : m_id(id) {}
  Handle(Handle&& other) noexcept : m_id(std::exchange(other.m_id, -1)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      m_id = std::exchange(other.m_id, -1);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return m_id; }
  operator hid_t() const { return m_id; }  // NOLINT: handles are passed straight to the C API
  bool valid() const { return m_id >= 0; }
  void reset() {
    if (m_id >= 0) Close(m_id);
    m_id = -1;
  }

 private:
  hid_t m_id = -1;
};

using FileHandle = Handle<H5Fclose>;
using GroupHandle = Handle<H5Gclose>;
using DatasetHandle = Handle<H5Dclose>;
using SpaceHandle = Handle<H5Sclose>;
using TypeHandle = Handle<H5Tclose>;
using AttrHandle = Handle<H5Aclose>;
using PlistHandle = Handle<H5Pclose>;

/// Turns off HDF5's printing of error stacks for this thread (the setting is per thread in thread-safe
/// builds).
void quietHdf5();
/// The innermost message on HDF5's error stack (then cleared), e.g. "truncated file: eof = ...", or "".
std::string hdf5Detail();
[[noreturn]] void fail(const std::string& where, const std::string& what);
/// Returns id, or throws StoreError "<where>: <what> (<HDF5 detail>)" when the call failed (id < 0).
hid_t check(hid_t id, const std::string& where, const std::string& what);

/// A file that contradicts itself (attributes against shapes, declared sizes beyond the bounds, links that
/// leave the file). Unlike an unreadable run's metadata, which lists the run as incomplete, this refuses the
/// file.
class RefusedCapture : public StoreError {
 public:
  using StoreError::StoreError;
};
/// Throws RefusedCapture "<where>: <what>".
[[noreturn]] void refuse(const std::string& where, const std::string& what);

// IEEE 754 binary16 <-> binary32. Every NaN is stored as the one positive quiet NaN 0x7e00, so that the
// pyramid's integer max (see halfKey) propagates NaN instead of dropping it.
uint16_t floatToHalf(float value);
inline float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;  // subnormal: m * 2^-24
    return sign ? -magnitude : magnitude;
  }
  uint32_t bits = sign | (exponent == 0x1f ? 0x7f800000u | (mantissa << 13)
                                           : ((exponent + 112) << 23) | (mantissa << 13));
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}
/// Maps half bits to an unsigned key with the same order as the values (-inf lowest, +NaN highest).
inline uint16_t halfKey(uint16_t h) {
  return static_cast<uint16_t>(h & 0x8000u ? ~h : h | 0x8000u);
}
inline uint16_t keyToHalf(uint16_t key) {
  return static_cast<uint16_t>(key & 0x8000u ? key & 0x7fffu : ~key);
}
constexpr uint16_t kHalfZero = 0x0000, kHalfMinusInf = 0xfc00;

/// The 16-bit IEEE float type (HDF5 1.10 has no predefined one); h5py reads it as numpy '<f2'.
TypeHandle makeHalfType();
TypeHandle makeUtf8StringType();  // variable-length UTF-8, read by h5py as str

// Attributes. Writers create them; readers accept any integer type and fixed- or variable-length strings.
void writeStringAttr(hid_t object, const char* name, const std::string& value, const std::string& where);
void writeIntAttr(hid_t object, const char* name, int64_t value, const std::string& where);
void writeInt64ArrayAttr(hid_t object, const char* name, const std::vector<int64_t>& values, hsize_t rows,
                         hsize_t cols, const std::string& where);
/// One-dimensional attributes: int64 [n], float64 [n] and variable-length UTF-8 [n] (h5py: numpy arrays).
void writeInt64ListAttr(hid_t object, const char* name, const std::vector<int64_t>& values,
                        const std::string& where);
void writeDoubleListAttr(hid_t object, const char* name, const std::vector<double>& values,
                         const std::string& where);
void writeStringListAttr(hid_t object, const char* name, const std::vector<std::string>& values,
                         const std::string& where);
void writeUint64Attr(hid_t object, const char* name, uint64_t value, const std::string& where);
void writeDoubleAttr(hid_t object, const char* name, double value, const std::string& where);
bool hasAttr(hid_t object, const char* name);
std::string readStringAttr(hid_t object, const char* name, const std::string& where);
int64_t readIntAttr(hid_t object, const char* name, const std::string& where);
/// Reads an integer array attribute of at most max_values values (refused beyond, before allocating).
std::vector<int64_t> readInt64ArrayAttr(hid_t object, const char* name, const std::string& where,
                                        std::vector<hsize_t>* dims, int64_t max_values);

/// Reads a one-dimensional float attribute of at most max_values values (refused beyond, before allocating).
std::vector<double> readDoubleListAttr(hid_t object, const char* name, const std::string& where,
                                       int64_t max_values);
/// Reads a one-dimensional string attribute of at most max_values strings of at most max_bytes bytes each.
std::vector<std::string> readStringListAttr(hid_t object, const char* name, const std::string& where,
                                            int64_t max_values, int64_t max_bytes);
uint64_t readUint64Attr(hid_t object, const char* name, const std::string& where);
double readDoubleAttr(hid_t object, const char* name, const std::string& where);

/// Names of the links in a group, in creation order where the group tracks it, else in name order.
std::vector<std::string> linkNames(hid_t group, const std::string& where);
/// Whether path (relative to loc) names an existing object, checking every component so that a missing
/// intermediate group is "no" rather than an error. Refuses (RefusedCapture) a component that is a soft or
/// external link: a capture is read through hard links only, so reading never leaves the file or loops.
bool pathExists(hid_t loc, const std::string& path, const std::string& where);
/// Dimensions of a dataset's dataspace.
std::vector<hsize_t> datasetDims(hid_t dataset, const std::string& where);
/// Refuses a dataset whose raw data lives outside the file (external storage or a virtual dataset): like an
/// external link, reading it would open other files on the machine.
void checkStoredInFile(hid_t dataset, const std::string& path, const std::string& where);
/// Dimensions as text, e.g. "[2, 4, 50]".
std::string dimsText(const std::vector<hsize_t>& dims);

/// Number of pyramid levels for a map of side n: level k has side ceil(n / 2^k); levels go on while the
/// previous side is > kPyramidStopSide.
constexpr int64_t kPyramidStopSide = 256;
int64_t pyramidLevels(int64_t n);
inline int64_t levelSide(int64_t n, int64_t level) {
  return (n + (int64_t{1} << level) - 1) >> level;
}

// ---------------------------------------------------------------------------------------------------------------
// The open file, shared by the reader (store_reader.cpp) and the writer (store_writer.cpp).

/// An exclusive OFD lock on the capture file, held while a process may write it; the kernel drops it when
/// the process dies, so a killed writer never leaves a stale lock.
class WriteLock {
 public:
  WriteLock() = default;
  WriteLock(WriteLock&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  WriteLock& operator=(WriteLock&& other) noexcept {
    std::swap(m_fd, other.m_fd);
    return *this;
  }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;
  ~WriteLock();
  int fd() const { return m_fd; }

  /// Opens (or, with create, creates) path and locks it; *created tells whether this call created it.
  static WriteLock acquire(const std::string& path, bool create, bool* created);

 private:
  int m_fd = -1;
};

/// One open HDF5 file, shared by a CaptureFile and its RunWriters so that either may outlive the other.
/// Members close in reverse order: the HDF5 file (final flush) before the lock is released.
struct FileState {
  std::string path;
  WriteLock lock;
  FileHandle file;
  TypeHandle half = makeHalfType();
  int64_t n_tokens = 0;  // rows of /tokens/ids, checked against kMaxCaptureTokens
  bool writable = false;

  void flush() const;
  /// Makes flushed data durable across a power loss too (a killed process loses nothing already flushed).
  void sync() const;
};

/// The file access properties of readers (no HDF5 file locking) and writers (no metadata cache evictions).
PlistHandle fileAccess(bool writable, const std::string& path);
/// Opens the HDF5 file behind state.path (read-only, or for writing with state.writable) with one-line errors
/// for a missing file, a directory or a file that is not HDF5 ("not an attnscope <kind>").
void openHdf5File(FileState& state, const std::string& kind);
/// Refuses a root schema_version newer than supported or below 1 ("<kind> schema version ...").
void checkSchemaVersion(const FileState& state, const std::string& kind, int64_t supported);
/// Opens the HDF5 file behind state.path and checks that it is a capture this build can read, with its
/// /tokens within the bounds.
void openCapture(FileState& state);
GroupHandle openGroup(const FileState& state, const std::string& path);
std::vector<int64_t> readTokenIds(const FileState& state);
/// The attributes of a model group: /model, or /runs/<run>/model for a run of other weights.
CaptureModel readModelAttrs(hid_t group, const std::string& where);

/// A run's n_layer, n_head and n_tokens attributes, each checked against the bounds and n_tokens against the
/// file's tokens: the shape every dataset of the run must agree with.
struct RunShape {
  int64_t n_layer = 0, n_head = 0, n_tokens = 0;
};
RunShape readRunShape(hid_t run_group, int64_t file_tokens, const std::string& where);
/// Refuses a stat dataset that is not floating point [n_layer, n_head, n_tokens]; path names it in messages.
void checkStatDataset(hid_t dataset, const RunShape& shape, const std::string& path,
                      const std::string& where);
/// Refuses a pyramid level that is not floating point [side, side] with side = levelSide(n_tokens, level).
void checkLevelDataset(hid_t dataset, int64_t n_tokens, int64_t level, const std::string& path,
                       const std::string& where);

}  // namespace attnscope::store

namespace attnscope {

struct CaptureFile::Impl {
  std::shared_ptr<store::FileState> state;

  /// Opens dataset path, with a message naming what is missing when it does not exist.
  store::DatasetHandle dataset(const std::string& path, const std::string& missing) const;
  /// "runs/<run>", after checking that the run exists.
  std::string runPath(const std::string& run) const;
  /// "<file>: run '<run>'", the start of messages about a run.
  std::string runWhere(const std::string& run) const;
  std::string headPath(const std::string& run, const std::string& hook, int64_t head) const;
  /// The run's shape attributes, checked (readRunShape).
  store::RunShape runShape(const std::string& run) const;
  /// Reads a run's metadata and checks every dataset in it against its attributes.
  RunInfo runInfo(const std::string& name) const;
};

}  // namespace attnscope

namespace attnscope::store {

/// Streams one head's [query, key] map into level_0..level_<L-1> datasets of a group, max-pooling as rows
/// arrive. Rows are buffered in bands of one chunk row (kMapChunkRows rows × side), so memory is
/// O(side × levels), never O(side²); each band's chunks are written once when the band is final (flush()
/// also writes the partial band). Chunks never touched stay unallocated and read as the fill value.
class MapWriter {
 public:
  static constexpr int64_t kMapChunkRows = 64, kMapChunkCols = 1024;
  static constexpr int kDeflateLevel = 4;

  MapWriter(hid_t group, hid_t half_type, int64_t n, uint16_t fill, std::string where);
  /// Writes rows [q0, q1), columns [k0, k1); values is [q1 - q0, k1 - k0] row-major.
  void write(int64_t q0, int64_t q1, int64_t k0, int64_t k1, const float* values);
  /// Writes the dirty chunks of every open band (rows still to come read as the fill value).
  void flush();
  /// Finalizes every band and level.
  void finish();

 private:
  struct Band {
    int64_t start = 0;            // first row
    std::vector<uint16_t> cells;  // [kMapChunkRows, side] half bits, preset to the fill value
    std::vector<int64_t> lo, hi;  // per row: columns [lo, hi) hold written data (lo >= hi: none)
    std::vector<uint8_t> dirty;   // per chunk column: changed since last written
  };
  struct Level {
    int64_t side = 0, chunk_rows = 0, chunk_cols = 0;
    DatasetHandle dataset;
    std::deque<Band> open;  // bands still accepting rows, by increasing start
    // Pooling into this level (k >= 1): the row being built from up to two rows of level k - 1.
    int64_t pending = -1;
    int n_folded = 0;
    std::vector<uint16_t> carry;  // [side of level k - 1] keys (halfKey), element-wise max so far
    int64_t carry_lo = 0, carry_hi = 0;
  };

  Band& bandFor(Level& level, int64_t row);
  void finalizeBelow(size_t k, int64_t row);
  void finalizeBand(size_t k, Band& band);
  void writeDirty(Level& level, Band& band);
  void poolRow(size_t k, int64_t row, const uint16_t* cells, int64_t lo, int64_t hi);
  void completePending(size_t k);
  void emitRow(size_t k, int64_t row, const uint16_t* cells, int64_t lo, int64_t hi);
  static void markDirty(const Level& level, Band& band, int64_t lo, int64_t hi);

  std::vector<Level> m_levels;
  hid_t m_half_type;
  uint16_t m_fill;
  int64_t m_n;
  int64_t m_final_rows = 0;  // level-0 rows below this are written out and can no longer change
  std::string m_where;
};

}  // namespace attnscope::store
