// Capture files: what the reader (store_reader.cpp) and the writer (store_writer.cpp) share — opening the
// file and checking its root, the write lock — and the weights hash. Text from the file is quoted in
// messages with quoteForMessage (attnscope/untrusted_text.h).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "store_internal.h"

namespace attnscope {

namespace store {

WriteLock::~WriteLock() {
  if (m_fd >= 0) ::close(m_fd);
}

WriteLock WriteLock::acquire(const std::string& path, bool create, bool* created) {
  WriteLock lock;
  *created = false;
  lock.m_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (lock.m_fd < 0 && errno == ENOENT && create) {
    lock.m_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL, 0644);
    *created = lock.m_fd >= 0;
    if (lock.m_fd < 0 && errno == EEXIST) lock.m_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (lock.m_fd < 0)
    fail(path,
         errno == ENOENT ? "no such file" : std::string("cannot open for writing: ") + std::strerror(errno));
  struct flock range = {};
  range.l_type = F_WRLCK;
  range.l_whence = SEEK_SET;
  if (::fcntl(lock.m_fd, F_OFD_SETLK, &range) < 0 && (errno == EAGAIN || errno == EACCES))
    fail(path, "being written by another attnscope process");
  // Other errors mean the file system has no locks (ENOLCK, EINVAL): go on unprotected, like HDF5 does.
  return lock;
}

void FileState::flush() const {
  if (H5Fflush(file, H5F_SCOPE_LOCAL) < 0) fail(path, "cannot flush (" + hdf5Detail() + ")");
}

void FileState::sync() const {
  if (lock.fd() >= 0 && ::fsync(lock.fd()) < 0)
    fail(path, std::string("cannot sync: ") + std::strerror(errno));
}

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

GroupHandle openGroup(const FileState& state, const std::string& path) {
  return GroupHandle(
      check(H5Gopen2(state.file, path.c_str(), H5P_DEFAULT), state.path, "cannot open " + path));
}

void openHdf5File(FileState& state, const std::string& kind) {
  struct stat info = {};
  if (::stat(state.path.c_str(), &info) != 0)
    fail(state.path, errno == ENOENT ? "no such file" : std::string("cannot open: ") + std::strerror(errno));
  if (S_ISDIR(info.st_mode)) fail(state.path, "is a directory, not a " + kind + " file");
  htri_t is_hdf5 = H5Fis_hdf5(state.path.c_str());
  if (is_hdf5 <= 0 || info.st_size == 0) {
    H5Eclear2(H5E_DEFAULT);
    fail(state.path, "not an HDF5 file (not an attnscope " + kind + ")");
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
}

void checkSchemaVersion(const FileState& state, const std::string& kind, int64_t supported) {
  const int64_t version = readIntAttr(state.file, "schema_version", state.path);
  if (version > supported)
    fail(state.path, kind + " schema version " + std::to_string(version) +
                         " is newer than this attnscope reads (" + std::to_string(supported) +
                         "); update attnscope");
  if (version < 1) fail(state.path, "invalid " + kind + " schema version " + std::to_string(version));
}

void openCapture(FileState& state) {
  openHdf5File(state, "capture");
  // Captures have no kind attribute; other attnscope files (sweep files) name theirs.
  if (hasAttr(state.file, "kind"))
    fail(state.path,
         "is an " + quoteForMessage(readStringAttr(state.file, "kind", state.path)) + " file, not a capture");
  if (!hasAttr(state.file, "schema_version"))
    fail(state.path, "not an attnscope capture (no schema_version attribute)");
  checkSchemaVersion(state, "capture", kCaptureSchemaVersion);
  if (!pathExists(state.file, "tokens/ids", state.path) || !pathExists(state.file, "runs", state.path) ||
      !pathExists(state.file, "model", state.path))
    fail(state.path, "damaged capture: /tokens/ids, /model or /runs is missing");
  DatasetHandle ids(
      check(H5Dopen2(state.file, "tokens/ids", H5P_DEFAULT), state.path, "cannot open /tokens/ids"));
  std::vector<hsize_t> dims = datasetDims(ids, state.path);
  checkStoredInFile(ids, "/tokens/ids", state.path);
  if (dims.size() != 1) refuse(state.path, "dataset /tokens/ids is " + dimsText(dims) + ", not [T]");
  // Every later size is checked against T, so T itself is bounded first.
  if (dims[0] == 0 || dims[0] > static_cast<hsize_t>(kMaxCaptureTokens))
    refuse(state.path, "dataset /tokens/ids holds " + std::to_string(dims[0]) + " tokens, outside [1, " +
                           std::to_string(kMaxCaptureTokens) + "]");
  state.n_tokens = static_cast<int64_t>(dims[0]);
}

std::vector<int64_t> readTokenIds(const FileState& state) {
  DatasetHandle ids(
      check(H5Dopen2(state.file, "tokens/ids", H5P_DEFAULT), state.path, "cannot open /tokens/ids"));
  std::vector<int64_t> values(static_cast<size_t>(state.n_tokens));
  if (!values.empty() && H5Dread(ids, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    fail(state.path, "cannot read /tokens/ids (" + hdf5Detail() + ")");
  return values;
}

CaptureModel readModelAttrs(hid_t group, const std::string& where) {
  return {readStringAttr(group, "config_json", where), readStringAttr(group, "path", where),
          readStringAttr(group, "weights_hash", where)};
}

}  // namespace store

using namespace store;

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
