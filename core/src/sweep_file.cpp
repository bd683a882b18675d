// Sweep files: the schema (README "Sweep files"), the header's attributes and their checks, the normalizer
// groups' datasets, and what resuming and merging compare. Built on the capture store's HDF5 helpers.
//
// Crash safety. Every dataset of a normalizer group is contiguous and allocated, at its final size (one row
// per cell of the shard), when the file is created, so appending a record changes no index and no extent: it
// writes raw rows into space the file already owns and new strings into the global heap, flushes, and only
// then raises the group's n_records attribute and flushes again. A writer killed before that last write
// leaves the old n_records, and the torn row beyond it is never read (and is overwritten on --resume). As in
// capture files, writers disable metadata-cache evictions, so metadata reaches the file only in those
// flushes.

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <set>

#include "attnscope/untrusted_text.h"
#include "sweep_file_internal.h"

namespace attnscope {

using namespace store;

namespace sweep {

hsize_t SweepColumn::rowValues() const {
  hsize_t n = 1;
  for (hsize_t d : row) n *= d;
  return n;
}

SweepSchema makeSweepSchema(const SweepHeader& header) {
  SweepSchema schema;
  const SweepModel& model = header.model;
  schema.shape = sweepRecordShape(header.grid, model.n_layer, model.n_head);
  schema.rows = static_cast<int64_t>(shardCells(header.grid, header.shard).size());
  const auto u = [](int64_t n) { return static_cast<hsize_t>(n); };
  const hsize_t n_layer = u(model.n_layer), n_head = u(model.n_head), n_bins = u(schema.shape.n_bins);
  const hsize_t n_stats = header.grid.stats.size(), n_buckets = u(schema.shape.loss);
  const hsize_t needle_layers = schema.shape.needle_scores > 0 ? n_layer : 0;
  schema.columns = {
      {"cell", H5T_STD_I64LE, H5T_NATIVE_INT64, H5T_INTEGER, {}},
      {"length", H5T_STD_I64LE, H5T_NATIVE_INT64, H5T_INTEGER, {}},
      {"depth", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, H5T_FLOAT, {}},
      {"seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, H5T_INTEGER, {}},
      {"prompt_index", H5T_STD_I64LE, H5T_NATIVE_INT64, H5T_INTEGER, {}},
      {"needle", H5T_STD_I64LE, H5T_NATIVE_INT64, H5T_INTEGER, {2}},
      {"answer", schema.utf8, schema.utf8, H5T_STRING, {}},
      {"generated", schema.utf8, schema.utf8, H5T_STRING, {}},
      {"correct", H5T_STD_U8LE, H5T_NATIVE_UINT8, H5T_INTEGER, {}},
      {"digit_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, H5T_FLOAT, {}},
      {"needle_scores", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, H5T_FLOAT, {needle_layers, n_head}},
      {"stat_sums", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, H5T_FLOAT, {n_stats, n_layer, n_head, n_bins}},
      {"stat_counts", H5T_STD_I32LE, H5T_NATIVE_INT32, H5T_INTEGER, {n_layer, n_bins}},
      {"loss_sums", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, H5T_FLOAT, {n_buckets}},
      {"loss_counts", H5T_STD_I64LE, H5T_NATIVE_INT64, H5T_INTEGER, {n_buckets}},
  };
  return schema;
}

namespace {

[[noreturn]] void problem(bool refusing, const std::string& where, const std::string& what) {
  if (refusing) refuse(where, what);
  fail(where, what);
}

template <typename T>
bool unique(std::vector<T> values) {
  std::sort(values.begin(), values.end());
  return std::adjacent_find(values.begin(), values.end()) == values.end();
}

}  // namespace

void checkSweepHeader(const SweepHeader& header, const std::string& where, bool refusing) {
  const SweepGrid& grid = header.grid;
  const auto bad = [&](const std::string& what) { problem(refusing, where, what); };
  const auto count = [&](const char* what, size_t n, int64_t lo, int64_t hi) {
    if (static_cast<int64_t>(n) < lo || static_cast<int64_t>(n) > hi)
      bad("the grid has " + std::to_string(n) + " " + what + ", outside [" + std::to_string(lo) + ", " +
          std::to_string(hi) + "]");
  };
  count("normalizers", grid.normalizers.size(), 1, kMaxSweepNormalizers);
  count("lengths", grid.lengths.size(), 1, kMaxSweepAxis);
  count("depths", grid.depths.size(), 1, kMaxSweepAxis);
  count("statistics", grid.stats.size(), 0, kMaxSweepStats);
  count("loss edges", grid.loss_edges.size(), 0, kMaxSweepLossEdges);
  const auto names = [&](const std::vector<std::string>& list, const std::string& what) {
    for (const std::string& name : list)
      if (name.empty() || static_cast<int64_t>(name.size()) > kMaxSweepTextBytes)
        bad("a " + what + " is empty or longer than " + std::to_string(kMaxSweepTextBytes) + " bytes");
    if (!unique(list)) bad("the grid names a " + what + " twice");
  };
  names(grid.normalizers, "normalizer");
  names(grid.stats, "statistic");
  for (int64_t length : grid.lengths)
    if (length < 1 || length > kMaxCaptureTokens)
      bad("length " + std::to_string(length) + " is outside [1, " + std::to_string(kMaxCaptureTokens) + "]");
  if (!unique(grid.lengths)) bad("the grid names a length twice");
  for (double depth : grid.depths)
    if (!(depth >= 0 && depth <= 1)) bad("a depth is outside [0, 1]");
  if (!unique(grid.depths)) bad("the grid names a depth twice");
  if (grid.loss_edges.size() == 1) bad("one loss edge makes no bucket");
  for (size_t i = 0; i < grid.loss_edges.size(); ++i)
    if (grid.loss_edges[i] < 0 || (i > 0 && grid.loss_edges[i] <= grid.loss_edges[i - 1]))
      bad("loss edges must be non-negative and increasing");
  if (grid.prompts_per_cell < 1 || grid.prompts_per_cell > kMaxSweepCells ||
      grid.cellCount() > kMaxSweepCells)
    bad("prompts_per_cell " + std::to_string(grid.prompts_per_cell) + " makes more than " +
        std::to_string(kMaxSweepCells) + " cells or none");
  if (grid.bins_per_octave < 1 || grid.bins_per_octave > kMaxSweepBinsPerOctave)
    bad("bins_per_octave " + std::to_string(grid.bins_per_octave) + " is outside [1, " +
        std::to_string(kMaxSweepBinsPerOctave) + "]");
  if (!(grid.distractors >= 0 && std::isfinite(grid.distractors))) bad("distractors must be a rate >= 0");
  if (grid.answer_tokens < 0 || grid.answer_tokens > kMaxSweepTextBytes)
    bad("answer_tokens " + std::to_string(grid.answer_tokens) + " is out of range");
  const SweepModel& model = header.model;
  if (model.n_layer < 1 || model.n_layer > kMaxCaptureLayers || model.n_head < 1 ||
      model.n_head > kMaxCaptureHeads || model.n_layer * model.n_head > kMaxCaptureLayerHeads)
    bad("model shape n_layer " + std::to_string(model.n_layer) + ", n_head " + std::to_string(model.n_head) +
        " is outside the bounds");
  if (header.shard.n < 1 || header.shard.k < 0 || header.shard.k >= header.shard.n)
    bad("shard " + std::to_string(header.shard.k) + "/" + std::to_string(header.shard.n) + " is invalid");
  const SweepRecordShape shape = sweepRecordShape(grid, model.n_layer, model.n_head);
  const int64_t rows = (grid.cellCount() - header.shard.k + header.shard.n - 1) / header.shard.n;
  if (shape.stat_sums > kMaxSweepRecordValues || shape.stat_sums * rows > kMaxSweepGroupValues)
    bad("binned statistics of " + std::to_string(shape.stat_sums) + " values a record exceed the bounds");
}

namespace {

/// No modification times in object headers: the same sweep makes the same bytes.
PlistHandle untimed(hid_t plist_class, const std::string& where) {
  PlistHandle plist(check(H5Pcreate(plist_class), where, "cannot create property list"));
  if (H5Pset_obj_track_times(plist, false) < 0) fail(where, "cannot switch off object times");
  return plist;
}

GroupHandle createGroup(hid_t loc, const std::string& name, const std::string& where) {
  PlistHandle gcpl = untimed(H5P_GROUP_CREATE, where);
  return GroupHandle(check(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), where,
                           "cannot create group " + name));
}

void createColumn(hid_t group, const SweepColumn& column, int64_t rows, const std::string& where) {
  std::vector<hsize_t> dims = {static_cast<hsize_t>(rows)};
  dims.insert(dims.end(), column.row.begin(), column.row.end());
  SpaceHandle space(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), where,
                          "cannot create dataspace"));
  PlistHandle dcpl = untimed(H5P_DATASET_CREATE, where);
  // Allocated now, so no append changes the file's structure; numbers are not pre-filled (rows beyond
  // n_records are never read), strings are (HDF5 needs a fill value for variable-length types).
  if (H5Pset_layout(dcpl, H5D_CONTIGUOUS) < 0 || H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0 ||
      (column.type_class != H5T_STRING && H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0))
    fail(where, std::string("cannot set up dataset ") + column.name);
  DatasetHandle dataset(
      check(H5Dcreate2(group, column.name, column.file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), where,
            std::string("cannot create dataset ") + column.name + " of " + dimsText(dims)));
}

void writeModel(hid_t file, const SweepModel& model, const std::string& where) {
  GroupHandle group = createGroup(file, "model", where);
  writeStringAttr(group, "config_json", model.checkpoint.config_json, where);
  writeStringAttr(group, "path", model.checkpoint.path, where);
  writeStringAttr(group, "weights_hash", model.checkpoint.weights_hash, where);
  writeIntAttr(group, "n_layer", model.n_layer, where);
  writeIntAttr(group, "n_head", model.n_head, where);
  writeStringAttr(group, "tokenizer", model.tokenizer, where);
}

void writeGrid(hid_t file, const SweepGrid& grid, const std::string& where) {
  GroupHandle group = createGroup(file, "grid", where);
  writeStringAttr(group, "mode", sweepModeName(grid.mode), where);
  writeStringListAttr(group, "normalizers", grid.normalizers, where);
  writeInt64ListAttr(group, "lengths", grid.lengths, where);
  writeDoubleListAttr(group, "depths", grid.depths, where);
  writeIntAttr(group, "prompts_per_cell", grid.prompts_per_cell, where);
  writeUint64Attr(group, "seed", grid.seed, where);
  writeDoubleAttr(group, "distractors", grid.distractors, where);
  writeIntAttr(group, "answer_tokens", grid.answer_tokens, where);
  writeStringAttr(group, "haystack", grid.haystack, where);
  writeStringAttr(group, "haystack_hash", grid.haystack_hash, where);
  writeIntAttr(group, "bins_per_octave", grid.bins_per_octave, where);
  writeStringListAttr(group, "stats", grid.stats, where);
  writeInt64ListAttr(group, "loss_edges", grid.loss_edges, where);
}

}  // namespace

std::string normalizerGroupPath(int64_t normalizer) {
  return "normalizers/" + std::to_string(normalizer);
}

void writeSweepSkeleton(const FileState& state, const SweepHeader& header) {
  const std::string& where = state.path;
  writeStringAttr(state.file, "kind", kSweepKind, where);
  writeStringAttr(state.file, "creator", "attnscope", where);
  writeIntAttr(state.file, "shard_k", header.shard.k, where);
  writeIntAttr(state.file, "shard_n", header.shard.n, where);
  writeModel(state.file, header.model, where);
  writeGrid(state.file, header.grid, where);
  const SweepSchema schema = makeSweepSchema(header);
  GroupHandle normalizers = createGroup(state.file, "normalizers", where);
  for (size_t i = 0; i < header.grid.normalizers.size(); ++i) {
    GroupHandle group = createGroup(normalizers, std::to_string(i), where);
    writeStringAttr(group, "normalizer", header.grid.normalizers[i], where);
    writeIntAttr(group, "n_records", 0, where);
    for (const SweepColumn& column : schema.columns) createColumn(group, column, schema.rows, where);
  }
  state.flush();
  writeIntAttr(state.file, "schema_version", kSweepSchemaVersion, where);
  state.flush();
  state.sync();
}

namespace {

SweepModel readModel(const FileState& state) {
  const std::string& where = state.path;
  if (!pathExists(state.file, "model", where)) refuse(where, "damaged sweep file: /model is missing");
  GroupHandle group = openGroup(state, "model");
  SweepModel model;
  model.checkpoint = readModelAttrs(group, where);
  model.n_layer = readIntAttr(group, "n_layer", where);
  model.n_head = readIntAttr(group, "n_head", where);
  model.tokenizer = readStringAttr(group, "tokenizer", where);
  return model;
}

SweepGrid readGrid(const FileState& state) {
  const std::string& where = state.path + ": /grid";
  if (!pathExists(state.file, "grid", state.path)) refuse(state.path, "damaged sweep file: /grid is missing");
  GroupHandle group = openGroup(state, "grid");
  SweepGrid grid;
  try {
    grid.mode = parseSweepMode(readStringAttr(group, "mode", where));
  } catch (const std::invalid_argument& e) {
    refuse(where, e.what());
  }
  grid.normalizers =
      readStringListAttr(group, "normalizers", where, kMaxSweepNormalizers, kMaxSweepTextBytes);
  std::vector<hsize_t> dims;
  grid.lengths = readInt64ArrayAttr(group, "lengths", where, &dims, kMaxSweepAxis);
  if (dims.size() != 1) refuse(where, "attribute lengths is " + dimsText(dims) + ", not a list");
  grid.depths = readDoubleListAttr(group, "depths", where, kMaxSweepAxis);
  grid.prompts_per_cell = readIntAttr(group, "prompts_per_cell", where);
  grid.seed = readUint64Attr(group, "seed", where);
  grid.distractors = readDoubleAttr(group, "distractors", where);
  grid.answer_tokens = readIntAttr(group, "answer_tokens", where);
  grid.haystack = readStringAttr(group, "haystack", where);
  grid.haystack_hash = readStringAttr(group, "haystack_hash", where);
  const int64_t bins = readIntAttr(group, "bins_per_octave", where);
  if (bins < 1 || bins > kMaxSweepBinsPerOctave)
    refuse(where, "bins_per_octave " + std::to_string(bins) + " is outside [1, " +
                      std::to_string(kMaxSweepBinsPerOctave) + "]");
  grid.bins_per_octave = static_cast<int>(bins);
  grid.stats = readStringListAttr(group, "stats", where, kMaxSweepStats, kMaxSweepTextBytes);
  grid.loss_edges = readInt64ArrayAttr(group, "loss_edges", where, &dims, kMaxSweepLossEdges);
  if (dims.size() != 1) refuse(where, "attribute loss_edges is " + dimsText(dims) + ", not a list");
  return grid;
}

}  // namespace

SweepHeader openSweepFile(FileState& state) {
  openHdf5File(state, "sweep");
  if (!hasAttr(state.file, "kind") || readStringAttr(state.file, "kind", state.path) != kSweepKind)
    fail(state.path, "not an attnscope sweep file (no kind = '" + std::string(kSweepKind) + "' attribute)");
  if (!hasAttr(state.file, "schema_version"))
    fail(state.path, "an unfinished sweep file (no schema_version attribute: its creation was interrupted)");
  checkSchemaVersion(state, "sweep", kSweepSchemaVersion);
  SweepHeader header;
  header.shard.k = readIntAttr(state.file, "shard_k", state.path);
  header.shard.n = readIntAttr(state.file, "shard_n", state.path);
  header.model = readModel(state);
  header.grid = readGrid(state);
  checkSweepHeader(header, state.path, true);
  return header;
}

int64_t checkNormalizerGroup(const FileState& state, const SweepHeader& header, const SweepSchema& schema,
                             int64_t normalizer) {
  const std::string path = normalizerGroupPath(normalizer);
  const std::string where = state.path + ": /" + path;
  if (!pathExists(state.file, path, state.path))
    refuse(state.path, "damaged sweep file: /" + path + " is missing");
  GroupHandle group = openGroup(state, path);
  const std::string spec = readStringAttr(group, "normalizer", where);
  if (spec != header.grid.normalizers[static_cast<size_t>(normalizer)])
    refuse(where, "normalizer " + quoteForMessage(spec) + " is not the grid's " +
                      quoteForMessage(header.grid.normalizers[static_cast<size_t>(normalizer)]));
  const int64_t n_records = readIntAttr(group, "n_records", where);
  if (n_records < 0 || n_records > schema.rows)
    refuse(where, "n_records " + std::to_string(n_records) + " is outside [0, " +
                      std::to_string(schema.rows) + "], the cells of shard " +
                      std::to_string(header.shard.k) + "/" + std::to_string(header.shard.n));
  struct stat info = {};
  const hsize_t file_bytes = ::stat(state.path.c_str(), &info) == 0 ? static_cast<hsize_t>(info.st_size) : 0;
  for (const SweepColumn& column : schema.columns) {
    const std::string dataset_path = "/" + path + "/" + column.name;
    if (!pathExists(state.file, path + "/" + column.name, where))
      refuse(where, "dataset " + quoteForMessage(dataset_path) + " is missing");
    DatasetHandle dataset(check(H5Dopen2(group, column.name, H5P_DEFAULT), where,
                                "cannot open " + quoteForMessage(dataset_path)));
    checkStoredInFile(dataset, dataset_path, where);
    std::vector<hsize_t> expected = {static_cast<hsize_t>(schema.rows)};
    expected.insert(expected.end(), column.row.begin(), column.row.end());
    const std::vector<hsize_t> dims = datasetDims(dataset, where);
    if (dims != expected)
      refuse(where, "dataset " + quoteForMessage(dataset_path) + " is " + dimsText(dims) + ", not the " +
                        dimsText(expected) + " its header says");
    TypeHandle type(check(H5Dget_type(dataset), where, "cannot read the type of " + dataset_path));
    if (H5Tget_class(type) != column.type_class)
      refuse(where, "dataset " + quoteForMessage(dataset_path) + " has the wrong type class");
    // The records a reader allocates for are stored in the file: a header cannot claim more than it holds.
    const hsize_t value_bytes = column.type_class == H5T_STRING ? 1 : H5Tget_size(type);
    if (static_cast<hsize_t>(n_records) * column.rowValues() * value_bytes > file_bytes)
      refuse(where, "dataset " + quoteForMessage(dataset_path) + " declares more data than the file's " +
                        std::to_string(file_bytes) + " bytes");
  }
  return n_records;
}

}  // namespace sweep

using namespace sweep;

std::string sweepMismatch(const SweepHeader& a, const SweepHeader& b) {
  const SweepModel &ma = a.model, &mb = b.model;
  if (ma.checkpoint.weights_hash != mb.checkpoint.weights_hash)
    return "weights hash " + quoteForMessage(ma.checkpoint.weights_hash) + " vs " +
           quoteForMessage(mb.checkpoint.weights_hash);
  if (ma.checkpoint.config_json != mb.checkpoint.config_json) return "model config (config.json) differs";
  if (ma.n_layer != mb.n_layer || ma.n_head != mb.n_head) return "model shape (n_layer, n_head) differs";
  if (ma.tokenizer != mb.tokenizer)
    return "tokenizer " + quoteForMessage(ma.tokenizer) + " vs " + quoteForMessage(mb.tokenizer);
  const SweepGrid &ga = a.grid, &gb = b.grid;
  if (ga.normalizers != gb.normalizers) return "normalizers differ";
  if (ga.mode != gb.mode)
    return std::string("mode ") + sweepModeName(ga.mode) + " vs " + sweepModeName(gb.mode);
  if (ga.lengths != gb.lengths) return "grid lengths differ";
  if (ga.depths != gb.depths) return "grid depths differ";
  if (ga.prompts_per_cell != gb.prompts_per_cell) return "grid prompts per cell differ";
  if (ga.seed != gb.seed) return "grid seed differs";
  if (ga.distractors != gb.distractors) return "grid distractor rate differs";
  if (ga.answer_tokens != gb.answer_tokens) return "grid answer tokens differ";
  // Where the haystack lies may differ between machines; its content may not.
  if (ga.haystack_hash != gb.haystack_hash) return "haystack text (its hash) differs";
  if (ga.bins_per_octave != gb.bins_per_octave) return "grid bins per octave differ";
  if (ga.stats != gb.stats) return "binned statistics differ";
  if (ga.loss_edges != gb.loss_edges) return "loss buckets differ";
  return "";
}

bool isSweepFile(const std::string& path) {
  quietHdf5();
  struct stat info = {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode) || info.st_size == 0) return false;
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  try {
    PlistHandle fapl = fileAccess(false, path);
    const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
    if (id < 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    FileHandle file(id);
    return hasAttr(file, "kind") && readStringAttr(file, "kind", path) == kSweepKind;
  } catch (const StoreError&) {
    return false;
  }
}

}  // namespace attnscope
