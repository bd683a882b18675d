// Reading sweep files. Nothing in the file is trusted: the header is checked against the bounds of
// sweep_file.h, every dataset's shape against the header and its size against the file's, and every record
// against its cell (seed, depth, prompt index), before and after anything is allocated.

#include <algorithm>
#include <cmath>

#include "attnscope/untrusted_text.h"
#include "sweep_file_internal.h"

namespace attnscope {

using namespace store;

namespace sweep {

void checkRecord(const SweepHeader& header, const SweepRecordShape& shape, const SweepRecord& record,
                 const std::string& where, bool refusing) {
  const SweepGrid& grid = header.grid;
  const std::string what = "record of cell " + std::to_string(record.cell);
  const auto bad = [&](const std::string& problem) {
    if (refusing) refuse(where, what + ": " + problem);
    fail(where, what + ": " + problem);
  };
  if (record.cell < 0 || record.cell >= grid.cellCount())
    bad("the cell is outside the grid's " + std::to_string(grid.cellCount()) + " cells");
  if (record.normalizer < 0 || record.normalizer >= static_cast<int64_t>(grid.normalizers.size()))
    bad("normalizer " + std::to_string(record.normalizer) + " is not one of the grid's");
  const SweepCell cell = sweepCell(grid, record.cell);
  if (record.seed != sweepCellSeed(grid, cell)) bad("its seed is not the cell's (sweepCellSeed)");
  if (record.prompt_index != cell.prompt_index) bad("its prompt index is not the cell's");
  if (!(record.depth == grid.depths[static_cast<size_t>(cell.depth_index)]))
    bad("its depth is not the cell's");
  if (record.length < 1 || record.length > kMaxCaptureTokens)
    bad("length " + std::to_string(record.length) + " is outside [1, " + std::to_string(kMaxCaptureTokens) +
        "]");
  if (record.needle_begin < 0 || record.needle_begin > record.needle_end || record.needle_end > record.length)
    bad("needle range [" + std::to_string(record.needle_begin) + ", " + std::to_string(record.needle_end) +
        ") is outside the prompt");
  if (static_cast<int64_t>(record.answer.size()) > kMaxSweepTextBytes ||
      static_cast<int64_t>(record.generated.size()) > kMaxSweepTextBytes)
    bad("its answer or generated text exceeds " + std::to_string(kMaxSweepTextBytes) + " bytes");
  const auto size = [&](const char* name, size_t actual, int64_t expected) {
    if (static_cast<int64_t>(actual) != expected)
      bad(std::string(name) + " has " + std::to_string(actual) + " values, not " + std::to_string(expected));
  };
  size("needle_scores", record.needle_scores.size(), shape.needle_scores);
  size("stat_sums", record.stat_sums.size(), shape.stat_sums);
  size("stat_counts", record.stat_counts.size(), shape.stat_counts);
  size("loss_sums", record.loss_sums.size(), shape.loss);
  size("loss_counts", record.loss_counts.size(), shape.loss);
}

namespace {

/// Reads the first n_rows rows of a column into data (n_rows × column.rowValues() values of its memory type).
void readRows(hid_t dataset, const SweepColumn& column, int64_t n_rows, void* data,
              const std::string& where) {
  if (n_rows == 0 || column.rowValues() == 0) return;
  std::vector<hsize_t> dims = datasetDims(dataset, where), start(dims.size(), 0);
  dims[0] = static_cast<hsize_t>(n_rows);
  SpaceHandle file(check(H5Dget_space(dataset), where, "cannot get dataspace"));
  SpaceHandle memory(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), where,
                           "cannot create dataspace"));
  if (H5Sselect_hyperslab(file, H5S_SELECT_SET, start.data(), nullptr, dims.data(), nullptr) < 0 ||
      H5Dread(dataset, column.memory_type, memory, file, H5P_DEFAULT, data) < 0)
    refuse(where, std::string("cannot read ") + column.name + " (" + hdf5Detail() + ")");
}

DatasetHandle openColumn(hid_t group, const SweepColumn& column, const std::string& where) {
  return DatasetHandle(
      check(H5Dopen2(group, column.name, H5P_DEFAULT), where, std::string("cannot open ") + column.name));
}

template <typename T>
std::vector<T> readColumn(hid_t group, const SweepColumn& column, int64_t n_rows, const std::string& where) {
  DatasetHandle dataset = openColumn(group, column, where);
  std::vector<T> values(static_cast<size_t>(n_rows) * column.rowValues());
  readRows(dataset, column, n_rows, values.data(), where);
  return values;
}

std::vector<std::string> readTextColumn(hid_t group, const SweepColumn& column, int64_t n_rows,
                                        const std::string& where) {
  DatasetHandle dataset = openColumn(group, column, where);
  std::vector<std::string> texts;
  if (n_rows == 0) return texts;
  TypeHandle stored(
      check(H5Dget_type(dataset), where, std::string("cannot read the type of ") + column.name));
  if (H5Tis_variable_str(stored) <= 0)
    refuse(where, std::string(column.name) + " is not variable-length text");
  std::vector<char*> pointers(static_cast<size_t>(n_rows), nullptr);
  const hsize_t count = static_cast<hsize_t>(n_rows);
  SpaceHandle memory(check(H5Screate_simple(1, &count, nullptr), where, "cannot create dataspace"));
  bool read = true;
  try {
    readRows(dataset, column, n_rows, pointers.data(), where);
  } catch (const StoreError&) {
    read = false;
  }
  size_t longest = 0;
  for (char* p : pointers) {
    const size_t size = p ? strnlen(p, static_cast<size_t>(kMaxSweepTextBytes) + 1) : 0;
    longest = std::max(longest, size);
    if (read && size <= static_cast<size_t>(kMaxSweepTextBytes)) texts.emplace_back(p ? p : "");
  }
  // A failed read may have allocated some strings already: reclaim them either way.
  H5Dvlen_reclaim(column.memory_type, memory, H5P_DEFAULT, pointers.data());
  if (!read) refuse(where, std::string("cannot read ") + column.name);
  if (longest > static_cast<size_t>(kMaxSweepTextBytes))
    refuse(where, std::string(column.name) + " holds a text longer than " +
                      std::to_string(kMaxSweepTextBytes) + " bytes");
  return texts;
}

template <typename T>
std::vector<T> rowOf(const std::vector<T>& values, const SweepColumn& column, int64_t row) {
  const size_t n = column.rowValues();
  return std::vector<T>(values.begin() + static_cast<std::ptrdiff_t>(row * n),
                        values.begin() + static_cast<std::ptrdiff_t>((row + 1) * n));
}

}  // namespace

std::vector<SweepRecord> readNormalizerRecords(const FileState& state, const SweepHeader& header,
                                               const SweepSchema& schema, int64_t normalizer,
                                               int64_t n_records) {
  const std::string path = normalizerGroupPath(normalizer);
  const std::string where = state.path + ": /" + path;
  GroupHandle group = openGroup(state, path);
  const std::vector<SweepColumn>& c = schema.columns;
  const auto cell = readColumn<int64_t>(group, c[kCell], n_records, where);
  const auto length = readColumn<int64_t>(group, c[kLength], n_records, where);
  const auto depth = readColumn<double>(group, c[kDepth], n_records, where);
  const auto seed = readColumn<uint64_t>(group, c[kSeed], n_records, where);
  const auto prompt_index = readColumn<int64_t>(group, c[kPromptIndex], n_records, where);
  const auto needle = readColumn<int64_t>(group, c[kNeedle], n_records, where);
  const auto answer = readTextColumn(group, c[kAnswer], n_records, where);
  const auto generated = readTextColumn(group, c[kGenerated], n_records, where);
  const auto correct = readColumn<uint8_t>(group, c[kCorrect], n_records, where);
  const auto digit_accuracy = readColumn<double>(group, c[kDigitAccuracy], n_records, where);
  const auto needle_scores = readColumn<float>(group, c[kNeedleScores], n_records, where);
  const auto stat_sums = readColumn<float>(group, c[kStatSums], n_records, where);
  const auto stat_counts = readColumn<int32_t>(group, c[kStatCounts], n_records, where);
  const auto loss_sums = readColumn<double>(group, c[kLossSums], n_records, where);
  const auto loss_counts = readColumn<int64_t>(group, c[kLossCounts], n_records, where);
  std::vector<SweepRecord> records(static_cast<size_t>(n_records));
  std::vector<uint8_t> seen(static_cast<size_t>(header.grid.cellCount()), 0);
  for (int64_t row = 0; row < n_records; ++row) {
    const size_t i = static_cast<size_t>(row);
    SweepRecord& r = records[i];
    r.cell = cell[i];
    r.normalizer = normalizer;
    r.length = length[i];
    r.depth = depth[i];
    r.seed = seed[i];
    r.prompt_index = prompt_index[i];
    r.needle_begin = needle[2 * i];
    r.needle_end = needle[2 * i + 1];
    r.answer = answer[i];
    r.generated = generated[i];
    if (correct[i] > 1) refuse(where, "row " + std::to_string(row) + ": correct is neither 0 nor 1");
    r.correct = correct[i] == 1;
    r.digit_accuracy = digit_accuracy[i];
    r.needle_scores = rowOf(needle_scores, c[kNeedleScores], row);
    r.stat_sums = rowOf(stat_sums, c[kStatSums], row);
    r.stat_counts = rowOf(stat_counts, c[kStatCounts], row);
    r.loss_sums = rowOf(loss_sums, c[kLossSums], row);
    r.loss_counts = rowOf(loss_counts, c[kLossCounts], row);
    checkRecord(header, schema.shape, r, where, true);
    if (r.cell % header.shard.n != header.shard.k)
      refuse(where, "row " + std::to_string(row) + " holds cell " + std::to_string(r.cell) +
                        ", which is not in the file's shard");
    if (seen[static_cast<size_t>(r.cell)]++)
      refuse(where, "cell " + std::to_string(r.cell) + " has two records");
  }
  return records;
}

namespace {

class FileReader final : public SweepReader {
 public:
  explicit FileReader(std::shared_ptr<FileState> state) : m_state(std::move(state)) {
    m_header = openSweepFile(*m_state);
    m_schema = std::make_unique<SweepSchema>(makeSweepSchema(m_header));
    for (size_t i = 0; i < m_header.grid.normalizers.size(); ++i)
      m_counts.push_back(checkNormalizerGroup(*m_state, m_header, *m_schema, static_cast<int64_t>(i)));
  }
  const std::string& path() const override { return m_state->path; }
  const SweepHeader& header() const override { return m_header; }
  int64_t count(int64_t normalizer) const override { return m_counts.at(checkedIndex(normalizer)); }

  std::vector<SweepRecord> records(int64_t normalizer) const override {
    quietHdf5();
    const size_t i = checkedIndex(normalizer);
    std::vector<SweepRecord> records =
        readNormalizerRecords(*m_state, m_header, *m_schema, normalizer, m_counts[i]);
    std::sort(records.begin(), records.end(),
              [](const SweepRecord& a, const SweepRecord& b) { return a.cell < b.cell; });
    return records;
  }

 private:
  size_t checkedIndex(int64_t normalizer) const {
    if (normalizer < 0 || normalizer >= static_cast<int64_t>(m_counts.size()))
      fail(m_state->path, "no normalizer " + std::to_string(normalizer) + " (the sweep has " +
                              std::to_string(m_counts.size()) + ")");
    return static_cast<size_t>(normalizer);
  }

  std::shared_ptr<FileState> m_state;
  SweepHeader m_header;
  std::unique_ptr<SweepSchema> m_schema;  // holds an HDF5 type: built once the file is open
  std::vector<int64_t> m_counts;          // n_records per normalizer
};

}  // namespace

}  // namespace sweep

SweepReader::~SweepReader() = default;

std::unique_ptr<SweepReader> SweepReader::open(const std::string& path) {
  quietHdf5();
  auto state = std::make_shared<FileState>();
  state->path = path;
  return std::make_unique<sweep::FileReader>(state);
}

}  // namespace attnscope
