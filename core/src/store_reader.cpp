// Reading captures. The file is not trusted: a run's n_layer, n_head and n_tokens are checked against the
// bounds of attnscope/store.h and against the shape of every dataset in the run before anything is read, and
// every read checks again what it touches before it allocates (a file may change between two reads).

#include <algorithm>
#include <cstring>

#include "attnscope/hook_names.h"
#include "store_internal.h"

namespace attnscope {

using namespace store;

namespace store {

RunShape readRunShape(hid_t run_group, int64_t file_tokens, const std::string& where) {
  const auto bounded = [&](const char* name, int64_t bound, const char* what) {
    const int64_t value = readIntAttr(run_group, name, where);
    if (value < 1 || value > bound)
      refuse(where, std::string("attribute ") + name + " = " + std::to_string(value) + " is outside [1, " +
                        std::to_string(bound) + "]" + what);
    return value;
  };
  RunShape shape;
  shape.n_layer = bounded("n_layer", kMaxCaptureLayers, "");
  shape.n_head = bounded("n_head", kMaxCaptureHeads, "");
  shape.n_tokens = bounded("n_tokens", file_tokens, " (the file's /tokens/ids)");
  if (shape.n_layer * shape.n_head > kMaxCaptureLayerHeads)
    refuse(where, "n_layer x n_head = " + std::to_string(shape.n_layer * shape.n_head) +
                      " exceeds the bound " + std::to_string(kMaxCaptureLayerHeads));
  if (shape.n_head * shape.n_tokens > kMaxStatLayerValues)
    refuse(where, "n_head x n_tokens = " + std::to_string(shape.n_head * shape.n_tokens) +
                      " exceeds the bound " + std::to_string(kMaxStatLayerValues));
  return shape;
}

namespace {

void checkFloatInFile(hid_t dataset, const std::string& path, const std::string& where) {
  checkStoredInFile(dataset, path, where);
  TypeHandle type(check(H5Dget_type(dataset), where, "cannot read the type of " + quoteForMessage(path)));
  if (H5Tget_class(type) != H5T_FLOAT)
    refuse(where, "dataset " + quoteForMessage(path) + " is not floating point");
}

}  // namespace

void checkStatDataset(hid_t dataset, const RunShape& shape, const std::string& path,
                      const std::string& where) {
  const std::vector<hsize_t> dims = datasetDims(dataset, where);
  const std::vector<hsize_t> expected = {static_cast<hsize_t>(shape.n_layer),
                                         static_cast<hsize_t>(shape.n_head),
                                         static_cast<hsize_t>(shape.n_tokens)};
  if (dims != expected)
    refuse(where, "dataset " + quoteForMessage(path) + " is " + dimsText(dims) +
                      " but the run's n_layer, n_head, n_tokens say " + dimsText(expected));
  checkFloatInFile(dataset, path, where);
}

void checkLevelDataset(hid_t dataset, int64_t n_tokens, int64_t level, const std::string& path,
                       const std::string& where) {
  const std::vector<hsize_t> dims = datasetDims(dataset, where);
  const hsize_t side = static_cast<hsize_t>(levelSide(n_tokens, level));
  if (dims != std::vector<hsize_t>{side, side})
    refuse(where, "dataset " + quoteForMessage(path) + " is " + dimsText(dims) + " but level " +
                      std::to_string(level) + " of the run's n_tokens = " + std::to_string(n_tokens) +
                      " is " + dimsText({side, side}));
  checkFloatInFile(dataset, path, where);
}

}  // namespace store

DatasetHandle CaptureFile::Impl::dataset(const std::string& path, const std::string& missing) const {
  if (!pathExists(state->file, path, state->path)) fail(state->path, missing);
  return DatasetHandle(
      check(H5Dopen2(state->file, path.c_str(), H5P_DEFAULT), state->path, "cannot open " + path));
}

std::string CaptureFile::Impl::runPath(const std::string& run) const {
  if (run.empty() || run.find('/') != std::string::npos ||
      !pathExists(state->file, "runs/" + run, state->path))
    fail(state->path, "no run " + quoteForMessage(run));
  return "runs/" + run;
}

std::string CaptureFile::Impl::runWhere(const std::string& run) const {
  return state->path + ": run " + quoteForMessage(run);
}

std::string CaptureFile::Impl::headPath(const std::string& run, const std::string& hook, int64_t head) const {
  const std::string maps = runPath(run) + "/maps/" + hook;
  if (hook.empty() || hook.find('/') != std::string::npos || !pathExists(state->file, maps, state->path))
    fail(state->path, "run " + quoteForMessage(run) + " has no map of hook " + quoteForMessage(hook));
  const std::string path = maps + "/head_" + std::to_string(head);
  if (!pathExists(state->file, path, state->path))
    fail(state->path, "run " + quoteForMessage(run) + " has no map of hook " + quoteForMessage(hook) +
                          " head " + std::to_string(head));
  return path;
}

RunShape CaptureFile::Impl::runShape(const std::string& run) const {
  return readRunShape(openGroup(*state, runPath(run)), state->n_tokens, runWhere(run));
}

CaptureTokens CaptureFile::tokens() const {
  quietHdf5();
  const FileState& state = *m_impl->state;
  CaptureTokens tokens{readTokenIds(state), {}};
  if (!pathExists(state.file, "tokens/text", state.path)) return tokens;
  DatasetHandle dataset = m_impl->dataset("tokens/text", "no /tokens/text");
  TypeHandle type(check(H5Dget_type(dataset), state.path, "cannot read /tokens/text"));
  const std::vector<hsize_t> dims = datasetDims(dataset, state.path);
  checkStoredInFile(dataset, "/tokens/text", state.path);
  if (H5Tget_class(type) != H5T_STRING || dims != std::vector<hsize_t>{hsize_t(state.n_tokens)})
    refuse(state.path, "dataset /tokens/text is " + dimsText(dims) + ", not [" +
                           std::to_string(state.n_tokens) + "] strings like /tokens/ids");
  if (H5Tis_variable_str(type) > 0) {
    TypeHandle memory = makeUtf8StringType();
    std::vector<char*> pointers(static_cast<size_t>(state.n_tokens), nullptr);
    const bool read = H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) >= 0;
    const std::string problem = read ? std::string() : hdf5Detail();
    if (read)
      for (char* p : pointers) tokens.text.emplace_back(p ? p : "");
    // A failed read may have allocated some strings already: reclaim them either way.
    SpaceHandle space(check(H5Dget_space(dataset), state.path, "cannot read /tokens/text"));
    H5Dvlen_reclaim(memory, space, H5P_DEFAULT, pointers.data());
    if (!read) fail(state.path, "cannot read /tokens/text (" + problem + ")");
  } else {
    const size_t size = H5Tget_size(type);
    if (size == 0 || size > static_cast<size_t>(kMaxTokenTextBytes / state.n_tokens))
      refuse(state.path, "dataset /tokens/text declares " + std::to_string(size) + "-byte strings; " +
                             std::to_string(state.n_tokens) + " of them exceed the bound of " +
                             std::to_string(kMaxTokenTextBytes) + " bytes");
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

namespace {

/// Opens dataset name in loc; something else there (a group, a named type) is a lie about the layout.
DatasetHandle openDataset(hid_t loc, const std::string& name, const std::string& path,
                          const std::string& where) {
  const hid_t id = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  if (id < 0) refuse(where, quoteForMessage(path) + " is not a dataset (" + hdf5Detail() + ")");
  return DatasetHandle(id);
}

GroupHandle openGroupIn(hid_t loc, const std::string& name, const std::string& path,
                        const std::string& where) {
  const hid_t id = H5Gopen2(loc, name.c_str(), H5P_DEFAULT);
  if (id < 0) refuse(where, quoteForMessage(path) + " is not a group (" + hdf5Detail() + ")");
  return GroupHandle(id);
}

/// The head of a "head_<h>" group name, or -1 when the name is not exactly that.
int64_t parseHeadName(const std::string& name) {
  if (name.size() <= 5 || name.size() > 15 || name.compare(0, 5, "head_") != 0) return -1;
  if (!std::all_of(name.begin() + 5, name.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  return std::stoll(name.substr(5));
}

}  // namespace

RunInfo CaptureFile::Impl::runInfo(const std::string& name) const {
  const std::string where = runWhere(name);
  const std::string path = runPath(name);
  GroupHandle group = openGroup(*state, path);
  RunInfo info;
  info.name = name;
  info.normalizer = readStringAttr(group, "normalizer", where);
  info.created = readStringAttr(group, "created", where);
  if (hasAttr(group, "compute_dtype")) info.compute_dtype = readStringAttr(group, "compute_dtype", where);
  info.complete = readIntAttr(group, "complete", where) != 0;
  const RunShape shape = readRunShape(group, state->n_tokens, where);
  info.n_layer = shape.n_layer;
  info.n_head = shape.n_head;
  info.n_tokens = shape.n_tokens;
  info.topk = readIntAttr(group, "topk", where);
  if (hasAttr(group, "local_window")) info.local_window = readIntAttr(group, "local_window", where);
  std::vector<hsize_t> dims;
  std::vector<int64_t> targets = readInt64ArrayAttr(group, "targets", where, &dims, 2 * kMaxTargetRanges);
  if (!targets.empty() && (dims.size() != 2 || dims[1] != 2))
    refuse(where, "attribute targets is " + dimsText(dims) + ", not [n, 2]");
  for (size_t i = 0; i + 1 < targets.size(); i += 2) {
    if (targets[i] < 0 || targets[i] > targets[i + 1] || targets[i + 1] > shape.n_tokens)
      refuse(where, "target range [" + std::to_string(targets[i]) + ", " + std::to_string(targets[i + 1]) +
                        ") is outside the run's " + std::to_string(shape.n_tokens) + " tokens");
    info.targets.emplace_back(targets[i], targets[i + 1]);
  }
  if (pathExists(group, "model", where))
    info.model = readModelAttrs(openGroup(*state, path + "/model"), where);

  if (pathExists(group, "stats", where)) {
    GroupHandle stats = openGroup(*state, path + "/stats");
    for (const std::string& stat : linkNames(stats, where)) {
      pathExists(state->file, path + "/stats/" + stat, where);  // refuses soft and external links
      DatasetHandle dataset = openDataset(stats, stat, "/" + path + "/stats/" + stat, where);
      checkStatDataset(dataset, shape, "/" + path + "/stats/" + stat, where);
      info.stats.push_back(stat);
    }
  }
  if (!pathExists(group, "maps", where)) return info;
  GroupHandle maps = openGroup(*state, path + "/maps");
  const int64_t n_levels = pyramidLevels(shape.n_tokens);
  for (const std::string& hook : linkNames(maps, where)) {
    pathExists(state->file, path + "/maps/" + hook, where);
    GroupHandle hook_group = openGroupIn(maps, hook, "/" + path + "/maps/" + hook, where);
    MapRequest map;
    map.hook = hook;
    if (hasAttr(hook_group, "layer"))
      map.layer = readIntAttr(hook_group, "layer", where);
    else if (const auto layer = hookLayer(hook))
      map.layer = *layer;  // files from other writers: the hook's name says it
    if (map.layer < 0 || map.layer >= shape.n_layer)
      refuse(where, "map " + quoteForMessage(hook) + " is of layer " + std::to_string(map.layer) +
                        ", outside the run's " + std::to_string(shape.n_layer) + " layers");
    for (const std::string& head_name : linkNames(hook_group, where)) {
      if (head_name.rfind("head_", 0) != 0) continue;  // not ours: never read
      const int64_t head = parseHeadName(head_name);
      if (head < 0 || head >= shape.n_head)
        refuse(where, "map " + quoteForMessage(hook) + " has group " + quoteForMessage(head_name) +
                          ", not head_<h> for one of the run's " + std::to_string(shape.n_head) + " heads");
      const std::string head_path = path + "/maps/" + hook + "/" + head_name;
      pathExists(state->file, head_path, where);
      GroupHandle head_group = openGroupIn(state->file, head_path, "/" + head_path, where);
      int64_t level = 0;
      for (; level <= n_levels; ++level) {
        const std::string level_name = "level_" + std::to_string(level);
        if (!pathExists(state->file, head_path + "/" + level_name, where)) break;
        if (level == n_levels)
          refuse(where, "map " + quoteForMessage("/" + head_path) + " has more than the " +
                            std::to_string(n_levels) + " pyramid levels of " +
                            std::to_string(shape.n_tokens) + " tokens");
        DatasetHandle dataset =
            openDataset(head_group, level_name, "/" + head_path + "/" + level_name, where);
        checkLevelDataset(dataset, shape.n_tokens, level, "/" + head_path + "/" + level_name, where);
      }
      if (level == 0) refuse(where, "map " + quoteForMessage("/" + head_path) + " has no level_0");
      map.heads.push_back(head);
    }
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
    } catch (const RefusedCapture&) {
      throw;  // a run that contradicts itself is a lie, not an interrupted write
    } catch (const StoreError&) {
      // A run whose metadata cannot be read is listed as incomplete (its readers then fail with that error).
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

std::vector<float> CaptureFile::readStat(const std::string& run, const std::string& stat,
                                         int64_t layer) const {
  return readStat(run, stat, layer, -1);
}

std::vector<float> CaptureFile::readStat(const std::string& run, const std::string& stat, int64_t layer,
                                         int64_t head) const {
  quietHdf5();
  const std::string where = m_impl->runWhere(run);
  const RunShape shape = m_impl->runShape(run);
  const std::string path = m_impl->runPath(run) + "/stats/" + stat;
  if (stat.empty() || stat.find('/') != std::string::npos)
    fail(where, "has no stat " + quoteForMessage(stat));
  DatasetHandle dataset =
      m_impl->dataset(path, "run " + quoteForMessage(run) + " has no stat " + quoteForMessage(stat));
  // Checked here too: the size below comes from the (bounded) attributes only once the dataset agrees.
  checkStatDataset(dataset, shape, "/" + path, where);
  if (layer < 0 || layer >= shape.n_layer)
    fail(where, "layer " + std::to_string(layer) + " out of range for stat " + quoteForMessage(stat));
  if (head >= shape.n_head)
    fail(where, "head " + std::to_string(head) + " out of range for stat " + quoteForMessage(stat));
  const hsize_t start[3] = {static_cast<hsize_t>(layer), head < 0 ? 0 : static_cast<hsize_t>(head), 0};
  const hsize_t count[3] = {1, head < 0 ? static_cast<hsize_t>(shape.n_head) : 1,
                            static_cast<hsize_t>(shape.n_tokens)};
  std::vector<float> values(count[1] * count[2]);
  SpaceHandle file(check(H5Dget_space(dataset), where, "cannot read dataspace"));
  SpaceHandle memory(check(H5Screate_simple(3, count, nullptr), where, "cannot create dataspace"));
  if (H5Sselect_hyperslab(file, H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
      (!values.empty() && H5Dread(dataset, H5T_NATIVE_FLOAT, memory, file, H5P_DEFAULT, values.data()) < 0))
    fail(where, "cannot read stat " + quoteForMessage(stat) + " (" + hdf5Detail() + ")");
  return values;
}

int64_t CaptureFile::mapLevels(const std::string& run, const std::string& hook, int64_t head) const {
  quietHdf5();
  const int64_t n_levels = pyramidLevels(m_impl->runShape(run).n_tokens);
  GroupHandle group = openGroup(*m_impl->state, m_impl->headPath(run, hook, head));
  int64_t levels = 0;
  while (levels < n_levels && pathExists(group, "level_" + std::to_string(levels), m_impl->state->path))
    ++levels;
  return levels;
}

std::vector<float> CaptureFile::readMapTile(const std::string& run, const std::string& hook, int64_t head,
                                            int64_t level, int64_t r0, int64_t r1, int64_t c0,
                                            int64_t c1) const {
  quietHdf5();
  const std::string where = m_impl->runWhere(run);
  const RunShape shape = m_impl->runShape(run);
  const std::string path = m_impl->headPath(run, hook, head) + "/level_" + std::to_string(level);
  const std::string missing = "map " + quoteForMessage(hook) + " head " + std::to_string(head) +
                              " has no level " + std::to_string(level) + " (it has " +
                              std::to_string(mapLevels(run, hook, head)) + ")";
  if (level < 0 || level >= pyramidLevels(shape.n_tokens)) fail(m_impl->state->path, missing);
  DatasetHandle dataset = m_impl->dataset(path, missing);
  checkLevelDataset(dataset, shape.n_tokens, level, "/" + path, where);
  const int64_t side = levelSide(shape.n_tokens, level);
  r0 = std::clamp<int64_t>(r0, 0, side), r1 = std::clamp<int64_t>(r1, r0, side);
  c0 = std::clamp<int64_t>(c0, 0, side), c1 = std::clamp<int64_t>(c1, c0, side);
  if (r0 == r1 || c0 == c1) return {};
  if ((r1 - r0) > kMaxMapTileCells / (c1 - c0))
    fail(where, "a tile of " + std::to_string(r1 - r0) + " x " + std::to_string(c1 - c0) +
                    " cells exceeds the bound " + std::to_string(kMaxMapTileCells) +
                    "; read a coarser level or smaller tiles");
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

}  // namespace attnscope
