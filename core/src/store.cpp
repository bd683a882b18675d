// Capture files: the HDF5 layout of attnscope/store.h, written so that a writer killed at any moment leaves
// every earlier run intact.
//
// Crash safety rests on three things. (1) Writers disable metadata-cache evictions, so HDF5 writes metadata
// only inside H5Fflush, never at some arbitrary moment between two of our calls; raw chunks written between
// flushes go to newly allocated space that no flushed metadata refers to. (2) A run is built as an anonymous
// group and flushed before it is linked under /runs, so the one flush that touches structure shared with
// earlier runs changes only the /runs symbol-table node and its name heap, created with room to spare so
// that neither moves or splits; everything else a later flush writes belongs to the new run. (3) The
// complete flag is set only after all of the run's data is flushed (and fsynced), then flushed again. The
// superblock stays version 0 (default library bounds), which has no consistency flags that a killed writer
// would leave set. A second writer is kept out by an OFD lock on the file itself (independent of HDF5's
// flock, which is disabled so that readers, h5py included, can open a file while a capture is running).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <set>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "store_internal.h"

namespace attnscope {

using namespace store;

namespace {

constexpr int64_t kStatChunk = 4096;
// /runs keeps its links in its own object header, sized up front for this many runs: linking a run then
// rewrites that one block in place. (An old-style group would also rewrite its B-tree node and name heap,
// and a kill between those writes, caught by the test, hides every run.)
constexpr unsigned kRunsInHeader = 64, kRunNameLength = 32;

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
  ~WriteLock() {
    if (m_fd >= 0) ::close(m_fd);
  }
  int fd() const { return m_fd; }

  /// Opens (or, with create, creates) path and locks it; *created tells whether this call created it.
  static WriteLock acquire(const std::string& path, bool create, bool* created) {
    WriteLock lock;
    *created = false;
    lock.m_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (lock.m_fd < 0 && errno == ENOENT && create) {
      lock.m_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL, 0644);
      *created = lock.m_fd >= 0;
      if (lock.m_fd < 0 && errno == EEXIST) lock.m_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    }
    if (lock.m_fd < 0)
      fail(path, errno == ENOENT ? "no such file" : std::string("cannot open for writing: ") + std::strerror(errno));
    struct flock range = {};
    range.l_type = F_WRLCK;
    range.l_whence = SEEK_SET;
    if (::fcntl(lock.m_fd, F_OFD_SETLK, &range) < 0 && (errno == EAGAIN || errno == EACCES))
      fail(path, "being written by another attnscope process");
    // Other errors mean the file system has no locks (ENOLCK, EINVAL): go on unprotected, like HDF5 does.
    return lock;
  }

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
  int64_t n_tokens = 0;
  bool writable = false;

  void flush() const {
    if (H5Fflush(file, H5F_SCOPE_LOCAL) < 0) fail(path, "cannot flush (" + hdf5Detail() + ")");
  }
  /// Makes flushed data durable across a power loss too (a killed process loses nothing already flushed).
  void sync() const {
    if (lock.fd() >= 0 && ::fsync(lock.fd()) < 0) fail(path, std::string("cannot sync: ") + std::strerror(errno));
  }
};

PlistHandle fileAccess(bool writable, const std::string& path) {
  PlistHandle fapl(check(H5Pcreate(H5P_FILE_ACCESS), path, "cannot create property list"));
  if (H5Pset_file_locking(fapl, false, true) < 0) fail(path, "cannot disable HDF5 file locking");
  if (writable) {
    H5AC_cache_config_t config = {};
    config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    if (H5Pget_mdc_config(fapl, &config) < 0) fail(path, "cannot read metadata cache settings");
    // No evictions: metadata reaches the disk only in H5Fflush, at points where the file is consistent.
    config.evictions_enabled = false;
    config.incr_mode = H5C_incr__off;
    config.flash_incr_mode = H5C_flash_incr__off;
    config.decr_mode = H5C_decr__off;
    if (H5Pset_mdc_config(fapl, &config) < 0) fail(path, "cannot set metadata cache (" + hdf5Detail() + ")");
  }
  return fapl;
}

std::string quote(const std::string& name) {
  std::string out = "'";
  for (char c : name.substr(0, 200)) out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
  return out + (name.size() > 200 ? "...'" : "'");
}

/// Rejects names that cannot be one HDF5 link name.
void checkName(const std::string& where, const char* what, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    fail(where, std::string("invalid ") + what + " name " + quote(name));
}

/// Replaces invalid UTF-8 with U+FFFD and NUL with U+2400, so h5py can decode every display string.
std::string sanitizeUtf8(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned c = byte(i);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = n > 0 && i + n <= text.size();
    uint32_t code = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; ok && k < n; ++k) {
      ok = (byte(i + k) & 0xc0) == 0x80;
      code = (code << 6) | (byte(i + k) & 0x3f);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && code >= kMin[n] && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
    if (!ok) {
      out += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    if (code == 0)
      out += "\xe2\x90\x80";
    else
      out.append(text, i, n);
    i += n;
  }
  return out;
}

std::string utcNow() {
  std::time_t now = std::time(nullptr);
  std::tm utc = {};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

GroupHandle openGroup(const FileState& state, const std::string& path) {
  return GroupHandle(check(H5Gopen2(state.file, path.c_str(), H5P_DEFAULT), state.path, "cannot open " + path));
}

GroupHandle createGroup(hid_t loc, const std::string& name, const std::string& where, hid_t gcpl = H5P_DEFAULT) {
  return GroupHandle(
      check(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), where, "cannot create group " + name));
}

/// Opens the HDF5 file behind state.path and checks that it is a capture this build can read.
void openCapture(FileState& state) {
  struct stat info = {};
  if (::stat(state.path.c_str(), &info) != 0)
    fail(state.path, errno == ENOENT ? "no such file" : std::string("cannot open: ") + std::strerror(errno));
  if (S_ISDIR(info.st_mode)) fail(state.path, "is a directory, not a capture file");
  htri_t is_hdf5 = H5Fis_hdf5(state.path.c_str());
  if (is_hdf5 == 0 || info.st_size == 0) {
    H5Eclear2(H5E_DEFAULT);
    fail(state.path, "not an HDF5 file (not an attnscope capture)");
  }
  PlistHandle fapl = fileAccess(state.writable, state.path);
  hid_t file = H5Fopen(state.path.c_str(), state.writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
  if (file < 0) {
    std::string detail = hdf5Detail();
    if (detail.find("already open for read-only") != std::string::npos)
      fail(state.path, "is open read-only in this process; close it before appending");
    fail(state.path, "cannot open HDF5 file" + (detail.empty() ? "" : " (" + detail + ")"));
  }
  state.file = FileHandle(file);
  if (!hasAttr(state.file, "schema_version"))
    fail(state.path, "not an attnscope capture (no schema_version attribute)");
  const int64_t version = readIntAttr(state.file, "schema_version", state.path);
  if (version > kCaptureSchemaVersion)
    fail(state.path, "capture schema version " + std::to_string(version) + " is newer than this attnscope reads (" +
                         std::to_string(kCaptureSchemaVersion) + "); update attnscope");
  if (version < 1) fail(state.path, "invalid capture schema version " + std::to_string(version));
  if (!pathExists(state.file, "tokens/ids") || !pathExists(state.file, "runs") || !pathExists(state.file, "model"))
    fail(state.path, "damaged capture: /tokens/ids, /model or /runs is missing");
  DatasetHandle ids(check(H5Dopen2(state.file, "tokens/ids", H5P_DEFAULT), state.path, "cannot open /tokens/ids"));
  std::vector<hsize_t> dims = datasetDims(ids, state.path);
  if (dims.size() != 1) fail(state.path, "damaged capture: /tokens/ids is not one-dimensional");
  state.n_tokens = static_cast<int64_t>(dims[0]);
}

std::vector<int64_t> readTokenIds(const FileState& state) {
  DatasetHandle ids(check(H5Dopen2(state.file, "tokens/ids", H5P_DEFAULT), state.path, "cannot open /tokens/ids"));
  std::vector<int64_t> values(static_cast<size_t>(state.n_tokens));
  if (!values.empty() && H5Dread(ids, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    fail(state.path, "cannot read /tokens/ids (" + hdf5Detail() + ")");
  return values;
}

/// The attributes of a model group: /model, or /runs/<run>/model for a run of other weights.
void writeModelAttrs(hid_t group, const CaptureModel& model, const std::string& where) {
  writeStringAttr(group, "config_json", model.config_json, where);
  writeStringAttr(group, "path", model.path, where);
  writeStringAttr(group, "weights_hash", model.weights_hash, where);
}

CaptureModel readModelAttrs(hid_t group, const std::string& where) {
  return {readStringAttr(group, "config_json", where), readStringAttr(group, "path", where),
          readStringAttr(group, "weights_hash", where)};
}

/// Writes /model, /tokens and /runs of a new file; schema_version last, so a file cut short is not a capture.
void writeSkeleton(const FileState& state, const CaptureModel& model, const CaptureTokens& tokens) {
  const std::string& where = state.path;
  writeStringAttr(state.file, "creator", "attnscope", where);
  {
    GroupHandle group = createGroup(state.file, "model", where);
    writeModelAttrs(group, model, where);
  }
  {
    GroupHandle group = createGroup(state.file, "tokens", where);
    const hsize_t n = tokens.ids.size();
    SpaceHandle space(check(H5Screate_simple(1, &n, nullptr), where, "cannot create dataspace"));
    DatasetHandle ids(check(H5Dcreate2(group, "ids", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                            where, "cannot create /tokens/ids"));
    if (H5Dwrite(ids, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, tokens.ids.data()) < 0)
      fail(where, "cannot write /tokens/ids (" + hdf5Detail() + ")");
    std::vector<std::string> text(tokens.ids.size());
    for (size_t i = 0; i < tokens.text.size(); ++i) text[i] = sanitizeUtf8(tokens.text[i]);
    std::vector<const char*> pointers;
    for (const std::string& t : text) pointers.push_back(t.c_str());
    TypeHandle type = makeUtf8StringType();
    DatasetHandle dataset(check(H5Dcreate2(group, "text", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), where,
                                "cannot create /tokens/text"));
    if (H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0)
      fail(where, "cannot write /tokens/text (" + hdf5Detail() + ")");
  }
  PlistHandle gcpl(check(H5Pcreate(H5P_GROUP_CREATE), where, "cannot create property list"));
  // Tracking creation order makes /runs a compact (link-message) group even in the 1.0 file format; it also
  // lists runs in the order they were captured.
  if (H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED) < 0 ||
      H5Pset_link_phase_change(gcpl, 4 * kRunsInHeader, 4 * kRunsInHeader) < 0 ||
      H5Pset_est_link_info(gcpl, kRunsInHeader, kRunNameLength) < 0)
    fail(where, "cannot set up /runs");
  createGroup(state.file, "runs", where, gcpl);
  writeIntAttr(state.file, "schema_version", kCaptureSchemaVersion, where);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Reading.

struct CaptureFile::Impl {
  std::shared_ptr<FileState> state;

  /// Opens dataset path, with a message naming what is missing when it does not exist.
  DatasetHandle dataset(const std::string& path, const std::string& missing) const {
    if (!pathExists(state->file, path)) fail(state->path, missing);
    return DatasetHandle(check(H5Dopen2(state->file, path.c_str(), H5P_DEFAULT), state->path, "cannot open " + path));
  }
  std::string runPath(const std::string& run) const {
    if (!pathExists(state->file, "runs/" + run)) fail(state->path, "no run " + quote(run));
    return "runs/" + run;
  }
  std::string headPath(const std::string& run, const std::string& hook, int64_t head) const {
    const std::string maps = runPath(run) + "/maps/" + hook;
    if (hook.empty() || !pathExists(state->file, maps))
      fail(state->path, "run " + quote(run) + " has no map of hook " + quote(hook));
    const std::string path = maps + "/head_" + std::to_string(head);
    if (!pathExists(state->file, path))
      fail(state->path, "run " + quote(run) + " has no map of hook " + quote(hook) + " head " + std::to_string(head));
    return path;
  }
  RunInfo runInfo(const std::string& name) const;
};

CaptureFile::CaptureFile(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
CaptureFile::~CaptureFile() = default;

std::unique_ptr<CaptureFile> CaptureFile::open(const std::string& path, Mode mode) {
  quietHdf5();
  auto state = std::make_shared<FileState>();
  state->path = path;
  state->writable = mode == Mode::Append;
  bool created = false;
  if (state->writable) state->lock = WriteLock::acquire(path, false, &created);
  openCapture(*state);
  return std::unique_ptr<CaptureFile>(new CaptureFile(std::make_unique<Impl>(Impl{state})));
}

std::unique_ptr<CaptureFile> CaptureFile::create(const std::string& path, const CaptureModel& model,
                                                 const CaptureTokens& tokens, bool other_weights) {
  quietHdf5();
  if (tokens.ids.empty()) fail(path, "a capture needs at least one token");
  if (!tokens.text.empty() && tokens.text.size() != tokens.ids.size())
    fail(path, std::to_string(tokens.text.size()) + " token texts for " + std::to_string(tokens.ids.size()) + " ids");
  auto state = std::make_shared<FileState>();
  state->path = path;
  state->writable = true;
  bool created = false;
  state->lock = WriteLock::acquire(path, true, &created);
  struct stat info = {};
  if (::fstat(state->lock.fd(), &info) != 0) fail(path, std::string("cannot stat: ") + std::strerror(errno));
  if (info.st_size > 0) {
    openCapture(*state);
    if (readTokenIds(*state) != tokens.ids) fail(path, "holds a capture of different tokens");
    GroupHandle group = openGroup(*state, "model");
    if (!other_weights && readStringAttr(group, "weights_hash", path) != model.weights_hash)
      fail(path, "holds a capture of different weights");
  } else {
    try {
      PlistHandle fapl = fileAccess(true, path);
      state->file = FileHandle(
          check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), path, "cannot create HDF5 file"));
      state->n_tokens = static_cast<int64_t>(tokens.ids.size());
      writeSkeleton(*state, model, tokens);
      state->flush();
      state->sync();
    } catch (...) {
      state->file.reset();
      if (created) ::unlink(path.c_str());  // still locked by us: nobody else can be using it
      throw;
    }
  }
  return std::unique_ptr<CaptureFile>(new CaptureFile(std::make_unique<Impl>(Impl{state})));
}

const std::string& CaptureFile::path() const {
  return m_impl->state->path;
}

int64_t CaptureFile::nTokens() const {
  return m_impl->state->n_tokens;
}

CaptureModel CaptureFile::model() const {
  quietHdf5();
  const FileState& state = *m_impl->state;
  return readModelAttrs(openGroup(state, "model"), state.path);
}

CaptureTokens CaptureFile::tokens() const {
  quietHdf5();
  const FileState& state = *m_impl->state;
  CaptureTokens tokens{readTokenIds(state), {}};
  if (!pathExists(state.file, "tokens/text")) return tokens;
  DatasetHandle dataset = m_impl->dataset("tokens/text", "no /tokens/text");
  TypeHandle type(check(H5Dget_type(dataset), state.path, "cannot read /tokens/text"));
  if (H5Tget_class(type) != H5T_STRING || datasetDims(dataset, state.path) != std::vector<hsize_t>{hsize_t(state.n_tokens)})
    fail(state.path, "damaged capture: /tokens/text is not [T] strings");
  if (H5Tis_variable_str(type) > 0) {
    TypeHandle memory = makeUtf8StringType();
    std::vector<char*> pointers(static_cast<size_t>(state.n_tokens), nullptr);
    if (H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0)
      fail(state.path, "cannot read /tokens/text (" + hdf5Detail() + ")");
    for (char* p : pointers) tokens.text.emplace_back(p ? p : "");
    SpaceHandle space(check(H5Dget_space(dataset), state.path, "cannot read /tokens/text"));
    H5Dvlen_reclaim(memory, space, H5P_DEFAULT, pointers.data());
  } else {
    const size_t size = H5Tget_size(type);
    TypeHandle memory(check(H5Tcopy(H5T_C_S1), state.path, "cannot copy string type"));
    H5Tset_size(memory, size);
    std::vector<char> buffer(size * static_cast<size_t>(state.n_tokens) + 1, '\0');
    if (H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0)
      fail(state.path, "cannot read /tokens/text (" + hdf5Detail() + ")");
    for (int64_t i = 0; i < state.n_tokens; ++i) {
      const char* start = buffer.data() + static_cast<size_t>(i) * size;
      tokens.text.emplace_back(start, strnlen(start, size));
    }
  }
  return tokens;
}

RunInfo CaptureFile::Impl::runInfo(const std::string& name) const {
  const std::string& where = state->path;
  GroupHandle group = openGroup(*state, runPath(name));
  RunInfo info;
  info.name = name;
  info.normalizer = readStringAttr(group, "normalizer", where);
  info.created = readStringAttr(group, "created", where);
  info.complete = readIntAttr(group, "complete", where) != 0;
  info.n_layer = readIntAttr(group, "n_layer", where);
  info.n_head = readIntAttr(group, "n_head", where);
  info.n_tokens = readIntAttr(group, "n_tokens", where);
  info.topk = readIntAttr(group, "topk", where);
  std::vector<hsize_t> dims;
  std::vector<int64_t> targets = readInt64ArrayAttr(group, "targets", where, &dims);
  if (!targets.empty() && (dims.size() != 2 || dims[1] != 2)) fail(where, "run " + quote(name) + ": bad targets");
  for (size_t i = 0; i + 1 < targets.size(); i += 2) info.targets.emplace_back(targets[i], targets[i + 1]);
  if (pathExists(group, "model")) info.model = readModelAttrs(openGroup(*state, runPath(name) + "/model"), where);
  if (pathExists(group, "stats")) info.stats = linkNames(openGroup(*state, runPath(name) + "/stats"), where);
  if (!pathExists(group, "maps")) return info;
  GroupHandle maps = openGroup(*state, runPath(name) + "/maps");
  for (const std::string& hook : linkNames(maps, where)) {
    GroupHandle hook_group(check(H5Gopen2(maps, hook.c_str(), H5P_DEFAULT), where, "cannot open map " + hook));
    MapRequest map;
    map.hook = hook;
    if (hasAttr(hook_group, "layer"))
      map.layer = readIntAttr(hook_group, "layer", where);
    else if (hook.rfind("blocks.", 0) == 0)
      map.layer = std::strtoll(hook.c_str() + 7, nullptr, 10);  // files from other writers: the hook says it
    for (const std::string& head : linkNames(hook_group, where))
      if (head.rfind("head_", 0) == 0) map.heads.push_back(std::strtoll(head.c_str() + 5, nullptr, 10));
    std::sort(map.heads.begin(), map.heads.end());
    info.maps.push_back(std::move(map));
  }
  std::stable_sort(info.maps.begin(), info.maps.end(),
                   [](const MapRequest& a, const MapRequest& b) { return a.layer < b.layer; });
  return info;
}

std::vector<RunInfo> CaptureFile::runs() const {
  quietHdf5();
  std::vector<RunInfo> runs;
  for (const std::string& name : linkNames(openGroup(*m_impl->state, "runs"), m_impl->state->path)) {
    try {
      runs.push_back(m_impl->runInfo(name));
    } catch (const StoreError&) {
      // A run whose metadata cannot be read (a writer died while linking it) is listed as incomplete.
      RunInfo broken;
      broken.name = name;
      runs.push_back(broken);
    }
  }
  return runs;
}

RunInfo CaptureFile::run(const std::string& name) const {
  quietHdf5();
  return m_impl->runInfo(name);
}

std::vector<float> CaptureFile::readStat(const std::string& run, const std::string& stat, int64_t layer) const {
  return readStat(run, stat, layer, -1);
}

std::vector<float> CaptureFile::readStat(const std::string& run, const std::string& stat, int64_t layer,
                                         int64_t head) const {
  quietHdf5();
  const std::string& where = m_impl->state->path;
  DatasetHandle dataset =
      m_impl->dataset(m_impl->runPath(run) + "/stats/" + stat, "run " + quote(run) + " has no stat " + quote(stat));
  std::vector<hsize_t> dims = datasetDims(dataset, where);
  if (dims.size() != 3) fail(where, "stat " + quote(stat) + " is not [n_layer, n_head, T]");
  if (layer < 0 || layer >= static_cast<int64_t>(dims[0]))
    fail(where, "layer " + std::to_string(layer) + " out of range for stat " + quote(stat));
  if (head >= static_cast<int64_t>(dims[1]))
    fail(where, "head " + std::to_string(head) + " out of range for stat " + quote(stat));
  const hsize_t start[3] = {static_cast<hsize_t>(layer), head < 0 ? 0 : static_cast<hsize_t>(head), 0};
  const hsize_t count[3] = {1, head < 0 ? dims[1] : 1, dims[2]};
  std::vector<float> values(count[1] * count[2]);
  SpaceHandle file(check(H5Dget_space(dataset), where, "cannot read dataspace"));
  SpaceHandle memory(check(H5Screate_simple(3, count, nullptr), where, "cannot create dataspace"));
  if (H5Sselect_hyperslab(file, H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
      (!values.empty() && H5Dread(dataset, H5T_NATIVE_FLOAT, memory, file, H5P_DEFAULT, values.data()) < 0))
    fail(where, "cannot read stat " + quote(stat) + " (" + hdf5Detail() + ")");
  return values;
}

int64_t CaptureFile::mapLevels(const std::string& run, const std::string& hook, int64_t head) const {
  quietHdf5();
  GroupHandle group = openGroup(*m_impl->state, m_impl->headPath(run, hook, head));
  int64_t levels = 0;
  while (pathExists(group, "level_" + std::to_string(levels))) ++levels;
  return levels;
}

std::vector<float> CaptureFile::readMapTile(const std::string& run, const std::string& hook, int64_t head,
                                            int64_t level, int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
  quietHdf5();
  const std::string& where = m_impl->state->path;
  const std::string path = m_impl->headPath(run, hook, head) + "/level_" + std::to_string(level);
  DatasetHandle dataset = m_impl->dataset(
      path, "map " + quote(hook) + " head " + std::to_string(head) + " has no level " + std::to_string(level) +
                " (it has " + std::to_string(mapLevels(run, hook, head)) + ")");
  std::vector<hsize_t> dims = datasetDims(dataset, where);
  if (dims.size() != 2) fail(where, path + " is not two-dimensional");
  r0 = std::clamp<int64_t>(r0, 0, dims[0]), r1 = std::clamp<int64_t>(r1, r0, dims[0]);
  c0 = std::clamp<int64_t>(c0, 0, dims[1]), c1 = std::clamp<int64_t>(c1, c0, dims[1]);
  if (r0 == r1 || c0 == c1) return {};
  const hsize_t start[2] = {static_cast<hsize_t>(r0), static_cast<hsize_t>(c0)};
  const hsize_t count[2] = {static_cast<hsize_t>(r1 - r0), static_cast<hsize_t>(c1 - c0)};
  std::vector<uint16_t> bits(count[0] * count[1]);
  SpaceHandle file(check(H5Dget_space(dataset), where, "cannot read dataspace"));
  SpaceHandle memory(check(H5Screate_simple(2, count, nullptr), where, "cannot create dataspace"));
  if (H5Sselect_hyperslab(file, H5S_SELECT_SET, start, nullptr, count, nullptr) < 0)
    fail(where, "cannot select in " + path);
  std::vector<float> values(bits.size());
  // Read our own fp16 as bits and convert here: HDF5's soft float conversion is exact but slow. Other types
  // (a map rewritten by another tool) go through HDF5's conversion.
  TypeHandle stored(check(H5Dget_type(dataset), where, "cannot read type of " + path));
  const bool ours = H5Tequal(stored, m_impl->state->half) > 0;
  if (ours ? H5Dread(dataset, m_impl->state->half, memory, file, H5P_DEFAULT, bits.data()) < 0
           : H5Dread(dataset, H5T_NATIVE_FLOAT, memory, file, H5P_DEFAULT, values.data()) < 0)
    fail(where, "cannot read " + path + " (" + hdf5Detail() + ")");
  if (ours) std::transform(bits.begin(), bits.end(), values.begin(), halfToFloat);
  return values;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing.

struct RunWriter::Impl {
  std::shared_ptr<FileState> state;  // first: released last, after every dataset below is closed
  std::string where;                 // "<file>: run '<name>'"
  RunSpec spec;
  GroupHandle group;
  std::map<std::string, DatasetHandle> stats;
  std::map<std::pair<std::string, int64_t>, std::unique_ptr<MapWriter>> maps;
  bool finished = false;

  void checkOpen() const {
    if (finished) fail(where, "already finished");
  }
};

RunWriter::RunWriter(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
RunWriter::RunWriter(RunWriter&&) noexcept = default;

RunWriter::~RunWriter() {
  // An abandoned run keeps what was written and stays incomplete, like one whose writer was killed.
  if (m_impl && !m_impl->finished) try {
      flush();
    } catch (const StoreError&) {
    }
}

void RunWriter::writeStat(const std::string& stat, int64_t layer, int64_t q0, int64_t q1, const float* values) {
  quietHdf5();
  Impl& impl = *m_impl;
  impl.checkOpen();
  auto it = impl.stats.find(stat);
  if (it == impl.stats.end()) fail(impl.where, "no stat " + quote(stat) + " in this run");
  if (layer < 0 || layer >= impl.spec.n_layer || q0 < 0 || q1 > impl.spec.n_tokens || q0 > q1)
    fail(impl.where, "stat " + quote(stat) + ": layer " + std::to_string(layer) + " queries [" + std::to_string(q0) +
                         ", " + std::to_string(q1) + ") out of range");
  if (q0 == q1) return;
  const hsize_t start[3] = {static_cast<hsize_t>(layer), 0, static_cast<hsize_t>(q0)};
  const hsize_t count[3] = {1, static_cast<hsize_t>(impl.spec.n_head), static_cast<hsize_t>(q1 - q0)};
  SpaceHandle file(check(H5Dget_space(it->second), impl.where, "cannot get dataspace"));
  SpaceHandle memory(check(H5Screate_simple(3, count, nullptr), impl.where, "cannot create dataspace"));
  if (H5Sselect_hyperslab(file, H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
      H5Dwrite(it->second, H5T_NATIVE_FLOAT, memory, file, H5P_DEFAULT, values) < 0)
    fail(impl.where, "cannot write stat " + quote(stat) + " (" + hdf5Detail() + ")");
}

void RunWriter::writeMapBlock(const std::string& hook, int64_t head, int64_t q0, int64_t q1, int64_t k0, int64_t k1,
                              const float* values) {
  quietHdf5();
  m_impl->checkOpen();
  auto it = m_impl->maps.find({hook, head});
  if (it == m_impl->maps.end())
    fail(m_impl->where, "no map of hook " + quote(hook) + " head " + std::to_string(head) + " in this run");
  it->second->write(q0, q1, k0, k1, values);
}

void RunWriter::flush() {
  quietHdf5();
  m_impl->checkOpen();
  for (auto& [key, map] : m_impl->maps) map->flush();
  m_impl->state->flush();
}

void RunWriter::finish() {
  quietHdf5();
  Impl& impl = *m_impl;
  impl.checkOpen();
  for (auto& [key, map] : impl.maps) map->finish();
  impl.state->flush();
  impl.state->sync();
  // Only now, with every byte of the run on disk, may the run claim to be complete.
  writeIntAttr(impl.group, "complete", 1, impl.where);
  impl.state->flush();
  impl.state->sync();
  impl.finished = true;
}

RunWriter CaptureFile::beginRun(const RunSpec& spec) {
  quietHdf5();
  const std::shared_ptr<FileState>& state = m_impl->state;
  const std::string& path = state->path;
  if (!state->writable) fail(path, "opened read-only; cannot add run " + quote(spec.name));
  checkName(path, "run", spec.name);
  auto impl = std::make_unique<RunWriter::Impl>();
  impl->state = state;
  impl->where = path + ": run " + quote(spec.name);
  impl->spec = spec;
  const std::string& where = impl->where;
  if (spec.n_layer <= 0 || spec.n_head <= 0 || spec.n_tokens <= 0 || spec.n_tokens > state->n_tokens)
    fail(where, "needs n_layer, n_head > 0 and 0 < n_tokens <= " + std::to_string(state->n_tokens));
  for (const auto& [begin, end] : spec.targets)
    if (begin < 0 || begin > end || end > spec.n_tokens) fail(where, "target range out of bounds");
  std::set<std::string> seen;
  for (const std::string& stat : spec.stats) {
    checkName(where, "stat", stat);
    if (!seen.insert(stat).second) fail(where, "stat " + quote(stat) + " requested twice");
  }
  seen.clear();
  for (const MapRequest& map : spec.maps) {
    checkName(where, "hook", map.hook);
    if (!seen.insert(map.hook).second) fail(where, "hook " + quote(map.hook) + " requested twice");
    if (map.layer < 0 || map.layer >= spec.n_layer) fail(where, "map " + quote(map.hook) + ": layer out of range");
    for (int64_t head : map.heads)
      if (head < 0 || head >= spec.n_head || std::count(map.heads.begin(), map.heads.end(), head) > 1)
        fail(where, "map " + quote(map.hook) + ": head " + std::to_string(head) + " out of range or repeated");
  }
  if (pathExists(state->file, "runs/" + spec.name)) {
    bool complete = false;
    try {
      complete = run(spec.name).complete;
    } catch (const StoreError&) {
    }
    fail(path, "run " + quote(spec.name) + " already exists" +
                   (complete ? "" : " (incomplete: an interrupted capture); choose another run name"));
  }

  // Build the whole run unreachable from the file's root, flush it, and only then link it (see the top).
  impl->group = GroupHandle(check(H5Gcreate_anon(state->file, H5P_DEFAULT, H5P_DEFAULT), where, "cannot create run"));
  hid_t group = impl->group;
  writeStringAttr(group, "normalizer", spec.normalizer, where);
  writeIntAttr(group, "complete", 0, where);
  writeIntAttr(group, "n_layer", spec.n_layer, where);
  writeIntAttr(group, "n_head", spec.n_head, where);
  writeIntAttr(group, "n_tokens", spec.n_tokens, where);
  writeStringAttr(group, "created", utcNow(), where);
  writeIntAttr(group, "topk", spec.topk, where);
  std::vector<int64_t> targets;
  for (const auto& [begin, end] : spec.targets) targets.insert(targets.end(), {begin, end});
  writeInt64ArrayAttr(group, "targets", targets, spec.targets.size(), 2, where);
  if (spec.model) writeModelAttrs(createGroup(group, "model", where), *spec.model, where);

  GroupHandle stats = createGroup(group, "stats", where);
  const hsize_t dims[3] = {static_cast<hsize_t>(spec.n_layer), static_cast<hsize_t>(spec.n_head),
                           static_cast<hsize_t>(spec.n_tokens)};
  const hsize_t chunk[3] = {1, 1, static_cast<hsize_t>(std::min(spec.n_tokens, kStatChunk))};
  SpaceHandle space(check(H5Screate_simple(3, dims, nullptr), where, "cannot create dataspace"));
  PlistHandle dcpl(check(H5Pcreate(H5P_DATASET_CREATE), where, "cannot create property list"));
  const float nan = std::numeric_limits<float>::quiet_NaN();  // unwritten positions read as NaN
  if (H5Pset_chunk(dcpl, 3, chunk) < 0 || H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan) < 0)
    fail(where, "cannot set up stat storage");
  // Writes cover [n_head, block] of one layer: keep one chunk per head cached so blocks merge in memory.
  PlistHandle dapl(check(H5Pcreate(H5P_DATASET_ACCESS), where, "cannot create property list"));
  const size_t cache_bytes = std::max<size_t>(1 << 20, 2 * dims[1] * chunk[2] * sizeof(float));
  if (H5Pset_chunk_cache(dapl, 4099, cache_bytes, 1.0) < 0) fail(where, "cannot set chunk cache");
  for (const std::string& stat : spec.stats)
    impl->stats.emplace(stat, DatasetHandle(check(H5Dcreate2(stats, stat.c_str(), H5T_IEEE_F32LE, space,
                                                             H5P_DEFAULT, dcpl, dapl),
                                                  where, "cannot create stat " + quote(stat))));

  GroupHandle maps = createGroup(group, "maps", where);
  for (const MapRequest& map : spec.maps) {
    GroupHandle hook = createGroup(maps, map.hook, where);
    writeIntAttr(hook, "layer", map.layer, where);
    const bool scores = map.hook.size() >= 11 && map.hook.compare(map.hook.size() - 11, 11, "hook_scores") == 0;
    for (int64_t head : map.heads) {
      GroupHandle head_group = createGroup(hook, "head_" + std::to_string(head), where);
      impl->maps.emplace(std::make_pair(map.hook, head),
                         std::make_unique<MapWriter>(head_group, state->half, spec.n_tokens,
                                                     scores ? kHalfMinusInf : kHalfZero,
                                                     where + " map " + quote(map.hook) + " head " + std::to_string(head)));
    }
  }
  state->flush();
  GroupHandle runs = openGroup(*state, "runs");
  if (H5Olink(group, runs, spec.name.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
    fail(where, "cannot link run (" + hdf5Detail() + ")");
  state->flush();
  return RunWriter(std::move(impl));
}

// ---------------------------------------------------------------------------------------------------------------

std::string hashFiles(const std::vector<std::string>& paths) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(XXH3_createState(), XXH3_freeState);
  if (!hash || XXH3_64bits_reset(hash.get()) != XXH_OK) throw StoreError("hashFiles: cannot start hash");
  std::vector<char> buffer(1 << 20);
  for (const std::string& path : paths) {
    std::unique_ptr<FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!file) fail(path, std::string("cannot read: ") + std::strerror(errno));
    size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0)
      XXH3_64bits_update(hash.get(), buffer.data(), n);
    if (std::ferror(file.get())) fail(path, std::string("cannot read: ") + std::strerror(errno));
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(XXH3_64bits_digest(hash.get())));
  return hex;
}

}  // namespace attnscope
