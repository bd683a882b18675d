// Writing captures: the HDF5 layout of attnscope/store.h, written so that a writer killed at any moment
// leaves every earlier run intact.
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

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <set>

#include "attnscope/hook_names.h"
#include "store_internal.h"

namespace attnscope {

using namespace store;

namespace {

constexpr int64_t kStatChunk = 4096;
// /runs keeps its links in its own object header, sized up front for this many runs: linking a run then
// rewrites that one block in place. (An old-style group would also rewrite its B-tree node and name heap,
// and a kill between those writes, caught by the test, hides every run.)
constexpr unsigned kRunsInHeader = 64, kRunNameLength = 32;

/// Rejects names that cannot be one HDF5 link name.
void checkName(const std::string& where, const char* what, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    fail(where, std::string("invalid ") + what + " name " + quoteForMessage(name));
}

/// Replaces invalid UTF-8 with U+FFFD and NUL with U+2400, so h5py can decode every display string.
std::string sanitizeUtf8(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8CharLength(text, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    if (text[i] == '\0')
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

GroupHandle createGroup(hid_t loc, const std::string& name, const std::string& where,
                        hid_t gcpl = H5P_DEFAULT) {
  return GroupHandle(check(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), where,
                           "cannot create group " + name));
}

/// The attributes of a model group: /model, or /runs/<run>/model for a run of other weights.
void writeModelAttrs(hid_t group, const CaptureModel& model, const std::string& where) {
  writeStringAttr(group, "config_json", model.config_json, where);
  writeStringAttr(group, "path", model.path, where);
  writeStringAttr(group, "weights_hash", model.weights_hash, where);
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
    DatasetHandle ids(
        check(H5Dcreate2(group, "ids", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), where,
              "cannot create /tokens/ids"));
    if (H5Dwrite(ids, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, tokens.ids.data()) < 0)
      fail(where, "cannot write /tokens/ids (" + hdf5Detail() + ")");
    std::vector<std::string> text(tokens.ids.size());
    for (size_t i = 0; i < tokens.text.size(); ++i) text[i] = sanitizeUtf8(tokens.text[i]);
    std::vector<const char*> pointers;
    for (const std::string& t : text) pointers.push_back(t.c_str());
    TypeHandle type = makeUtf8StringType();
    DatasetHandle dataset(check(H5Dcreate2(group, "text", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                where, "cannot create /tokens/text"));
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

std::unique_ptr<CaptureFile> CaptureFile::create(const std::string& path, const CaptureModel& model,
                                                 const CaptureTokens& tokens, bool other_weights) {
  quietHdf5();
  if (tokens.ids.empty()) fail(path, "a capture needs at least one token");
  if (static_cast<int64_t>(tokens.ids.size()) > kMaxCaptureTokens)
    fail(path, std::to_string(tokens.ids.size()) + " tokens exceed the capture bound of " +
                   std::to_string(kMaxCaptureTokens));
  if (!tokens.text.empty() && tokens.text.size() != tokens.ids.size())
    fail(path, std::to_string(tokens.text.size()) + " token texts for " + std::to_string(tokens.ids.size()) +
                   " ids");
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

void RunWriter::writeStat(const std::string& stat, int64_t layer, int64_t q0, int64_t q1,
                          const float* values) {
  quietHdf5();
  Impl& impl = *m_impl;
  impl.checkOpen();
  auto it = impl.stats.find(stat);
  if (it == impl.stats.end()) fail(impl.where, "no stat " + quoteForMessage(stat) + " in this run");
  if (layer < 0 || layer >= impl.spec.n_layer || q0 < 0 || q1 > impl.spec.n_tokens || q0 > q1)
    fail(impl.where, "stat " + quoteForMessage(stat) + ": layer " + std::to_string(layer) + " queries [" +
                         std::to_string(q0) + ", " + std::to_string(q1) + ") out of range");
  if (q0 == q1) return;
  const hsize_t start[3] = {static_cast<hsize_t>(layer), 0, static_cast<hsize_t>(q0)};
  const hsize_t count[3] = {1, static_cast<hsize_t>(impl.spec.n_head), static_cast<hsize_t>(q1 - q0)};
  SpaceHandle file(check(H5Dget_space(it->second), impl.where, "cannot get dataspace"));
  SpaceHandle memory(check(H5Screate_simple(3, count, nullptr), impl.where, "cannot create dataspace"));
  if (H5Sselect_hyperslab(file, H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
      H5Dwrite(it->second, H5T_NATIVE_FLOAT, memory, file, H5P_DEFAULT, values) < 0)
    fail(impl.where, "cannot write stat " + quoteForMessage(stat) + " (" + hdf5Detail() + ")");
}

void RunWriter::writeMapBlock(const std::string& hook, int64_t head, int64_t q0, int64_t q1, int64_t k0,
                              int64_t k1, const float* values) {
  quietHdf5();
  m_impl->checkOpen();
  auto it = m_impl->maps.find({hook, head});
  if (it == m_impl->maps.end())
    fail(m_impl->where,
         "no map of hook " + quoteForMessage(hook) + " head " + std::to_string(head) + " in this run");
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
  if (!state->writable) fail(path, "opened read-only; cannot add run " + quoteForMessage(spec.name));
  checkName(path, "run", spec.name);
  auto impl = std::make_unique<RunWriter::Impl>();
  impl->state = state;
  impl->where = path + ": run " + quoteForMessage(spec.name);
  impl->spec = spec;
  const std::string& where = impl->where;
  if (spec.n_layer <= 0 || spec.n_head <= 0 || spec.n_tokens <= 0 || spec.n_tokens > state->n_tokens)
    fail(where, "needs n_layer, n_head > 0 and 0 < n_tokens <= " + std::to_string(state->n_tokens));
  // The reader's bounds (attnscope/store.h): never write a run that a reader would refuse.
  if (spec.n_layer > kMaxCaptureLayers || spec.n_head > kMaxCaptureHeads ||
      spec.n_layer * spec.n_head > kMaxCaptureLayerHeads ||
      spec.n_head * spec.n_tokens > kMaxStatLayerValues ||
      static_cast<int64_t>(spec.targets.size()) > kMaxTargetRanges)
    fail(where, "n_layer " + std::to_string(spec.n_layer) + ", n_head " + std::to_string(spec.n_head) +
                    ", n_tokens " + std::to_string(spec.n_tokens) + " or " +
                    std::to_string(spec.targets.size()) + " target ranges exceed the capture bounds");
  for (const auto& [begin, end] : spec.targets)
    if (begin < 0 || begin > end || end > spec.n_tokens) fail(where, "target range out of bounds");
  std::set<std::string> seen;
  for (const std::string& stat : spec.stats) {
    checkName(where, "stat", stat);
    if (!seen.insert(stat).second) fail(where, "stat " + quoteForMessage(stat) + " requested twice");
  }
  seen.clear();
  for (const MapRequest& map : spec.maps) {
    checkName(where, "hook", map.hook);
    if (!seen.insert(map.hook).second) fail(where, "hook " + quoteForMessage(map.hook) + " requested twice");
    if (map.layer < 0 || map.layer >= spec.n_layer)
      fail(where, "map " + quoteForMessage(map.hook) + ": layer out of range");
    for (int64_t head : map.heads)
      if (head < 0 || head >= spec.n_head || std::count(map.heads.begin(), map.heads.end(), head) > 1)
        fail(where, "map " + quoteForMessage(map.hook) + ": head " + std::to_string(head) +
                        " out of range or repeated");
  }
  if (pathExists(state->file, "runs/" + spec.name, path)) {
    bool complete = false;
    try {
      complete = run(spec.name).complete;
    } catch (const StoreError&) {
    }
    fail(path, "run " + quoteForMessage(spec.name) + " already exists" +
                   (complete ? "" : " (incomplete: an interrupted capture); choose another run name"));
  }

  // Build the whole run unreachable from the file's root, flush it, and only then link it (see the top).
  impl->group =
      GroupHandle(check(H5Gcreate_anon(state->file, H5P_DEFAULT, H5P_DEFAULT), where, "cannot create run"));
  hid_t group = impl->group;
  writeStringAttr(group, "normalizer", spec.normalizer, where);
  if (!spec.compute_dtype.empty()) writeStringAttr(group, "compute_dtype", spec.compute_dtype, where);
  writeIntAttr(group, "complete", 0, where);
  writeIntAttr(group, "n_layer", spec.n_layer, where);
  writeIntAttr(group, "n_head", spec.n_head, where);
  writeIntAttr(group, "n_tokens", spec.n_tokens, where);
  writeStringAttr(group, "created", utcNow(), where);
  writeIntAttr(group, "topk", spec.topk, where);
  if (spec.local_window > 0) writeIntAttr(group, "local_window", spec.local_window, where);
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
    impl->stats.emplace(
        stat,
        DatasetHandle(check(H5Dcreate2(stats, stat.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, dapl),
                            where, "cannot create stat " + quoteForMessage(stat))));

  GroupHandle maps = createGroup(group, "maps", where);
  for (const MapRequest& map : spec.maps) {
    GroupHandle hook = createGroup(maps, map.hook, where);
    writeIntAttr(hook, "layer", map.layer, where);
    const bool scores = isScoresHook(map.hook);
    for (int64_t head : map.heads) {
      GroupHandle head_group = createGroup(hook, "head_" + std::to_string(head), where);
      impl->maps.emplace(std::make_pair(map.hook, head),
                         std::make_unique<MapWriter>(
                             head_group, state->half, spec.n_tokens, scores ? kHalfMinusInf : kHalfZero,
                             where + " map " + quoteForMessage(map.hook) + " head " + std::to_string(head)));
    }
  }
  state->flush();
  GroupHandle runs = openGroup(*state, "runs");
  if (H5Olink(group, runs, spec.name.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
    fail(where, "cannot link run (" + hdf5Detail() + ")");
  state->flush();
  return RunWriter(std::move(impl));
}

}  // namespace attnscope
