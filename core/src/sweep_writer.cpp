// Writing sweep files: creating one (or reopening it to resume) and appending records so that a writer
// killed at any moment leaves every earlier record readable (see sweep_file.cpp).

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "attnscope/untrusted_text.h"
#include "sweep_file_internal.h"

namespace attnscope {

using namespace store;

namespace sweep {

namespace {

/// Writes one row of a column; data holds column.rowValues() values of its memory type.
void writeRow(hid_t dataset, const SweepColumn& column, int64_t rows, int64_t row, const void* data,
              const std::string& where) {
  if (column.rowValues() == 0) return;
  std::vector<hsize_t> dims = {static_cast<hsize_t>(rows)}, start(column.row.size() + 1, 0);
  dims.insert(dims.end(), column.row.begin(), column.row.end());
  std::vector<hsize_t> count = dims;
  start[0] = static_cast<hsize_t>(row);
  count[0] = 1;
  const int rank = static_cast<int>(dims.size());
  SpaceHandle file(check(H5Dget_space(dataset), where, "cannot get dataspace"));
  SpaceHandle memory(check(H5Screate_simple(rank, count.data(), nullptr), where, "cannot create dataspace"));
  if (H5Sselect_hyperslab(file, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0 ||
      H5Dwrite(dataset, column.memory_type, memory, file, H5P_DEFAULT, data) < 0)
    fail(where, std::string("cannot write ") + column.name + " (" + hdf5Detail() + ")");
}

class FileWriter final : public SweepWriter {
 public:
  FileWriter(std::shared_ptr<FileState> state, SweepHeader header, bool sync_each)
      : m_state(std::move(state)),
        m_header(std::move(header)),
        m_schema(makeSweepSchema(m_header)),
        m_sync_each(sync_each) {}

  ~FileWriter() override {
    // Durable on close even when appends were not synced one by one (merging).
    try {
      m_groups.clear();
      m_state->flush();
      m_state->sync();
    } catch (const StoreError&) {
    }
  }

  /// Opens the normalizer groups; with existing records (resume), reads which cells they hold.
  void load(bool existing) {
    const size_t n_normalizers = m_header.grid.normalizers.size();
    for (size_t i = 0; i < n_normalizers; ++i) {
      Group group;
      const int64_t normalizer = static_cast<int64_t>(i);
      if (existing) group.n_records = checkNormalizerGroup(*m_state, m_header, m_schema, normalizer);
      group.handle = openGroup(*m_state, normalizerGroupPath(normalizer));
      for (const SweepColumn& column : m_schema.columns)
        group.datasets.emplace_back(check(H5Dopen2(group.handle, column.name, H5P_DEFAULT), m_state->path,
                                          std::string("cannot open ") + column.name));
      if (existing)
        for (const SweepRecord& record :
             readNormalizerRecords(*m_state, m_header, m_schema, normalizer, group.n_records))
          m_stored.emplace(record.cell, normalizer);
      m_groups.push_back(std::move(group));
    }
  }

  bool has(int64_t cell, int64_t normalizer) const override { return m_stored.count({cell, normalizer}) > 0; }

  void append(const SweepRecord& record) override {
    quietHdf5();
    const std::string& path = m_state->path;
    checkRecord(m_header, m_schema.shape, record, path, false);
    if (record.cell % m_header.shard.n != m_header.shard.k)
      fail(path, "cell " + std::to_string(record.cell) + " is not in the file's shard " +
                     std::to_string(m_header.shard.k) + "/" + std::to_string(m_header.shard.n));
    if (has(record.cell, record.normalizer))
      fail(path, "already holds the record of cell " + std::to_string(record.cell) + " under " +
                     quoteForMessage(m_header.grid.normalizers[static_cast<size_t>(record.normalizer)]));
    Group& group = m_groups[static_cast<size_t>(record.normalizer)];
    const int64_t row = group.n_records;
    const std::string where = path + ": /" + normalizerGroupPath(record.normalizer);
    const int64_t needle[2] = {record.needle_begin, record.needle_end};
    const char* answer = record.answer.c_str();
    const char* generated = record.generated.c_str();
    const uint8_t correct = record.correct ? 1 : 0;
    const void* data[kColumnCount] = {
        &record.cell,
        &record.length,
        &record.depth,
        &record.seed,
        &record.prompt_index,
        needle,
        &answer,
        &generated,
        &correct,
        &record.digit_accuracy,
        record.needle_scores.data(),
        record.stat_sums.data(),
        record.stat_counts.data(),
        record.loss_sums.data(),
        record.loss_counts.data(),
    };
    for (size_t c = 0; c < kColumnCount; ++c)
      writeRow(group.datasets[c], m_schema.columns[c], m_schema.rows, row, data[c], where);
    // The row is on disk before n_records admits it (see sweep_file.cpp).
    m_state->flush();
    if (m_sync_each) m_state->sync();
    writeIntAttr(group.handle, "n_records", row + 1, where);
    m_state->flush();
    if (m_sync_each) m_state->sync();
    group.n_records = row + 1;
    m_stored.emplace(record.cell, record.normalizer);
  }

 private:
  struct Group {
    GroupHandle handle;
    std::vector<DatasetHandle> datasets;  // [kColumnCount]
    int64_t n_records = 0;
  };

  std::shared_ptr<FileState> m_state;  // first: closed last, after every group and dataset
  SweepHeader m_header;
  SweepSchema m_schema;
  bool m_sync_each;
  std::vector<Group> m_groups;
  std::set<std::pair<int64_t, int64_t>> m_stored;  // (cell, normalizer)
};

}  // namespace

std::unique_ptr<SweepWriter> openSweepWriter(const std::string& path, const SweepHeader& header, bool resume,
                                             bool sync_each_append) {
  quietHdf5();
  checkSweepHeader(header, path, false);
  auto state = std::make_shared<FileState>();
  state->path = path;
  state->writable = true;
  struct stat info = {};
  const bool existing = ::stat(path.c_str(), &info) == 0;
  if (existing && !resume) fail(path, "already exists; resume it (--resume) or choose another file");
  if (existing) {
    bool created = false;
    state->lock = WriteLock::acquire(path, false, &created);
    const SweepHeader stored = openSweepFile(*state);
    const std::string mismatch = sweepMismatch(stored, header);
    if (!mismatch.empty()) fail(path, "holds another sweep: " + mismatch);
    if (stored.shard.k != header.shard.k || stored.shard.n != header.shard.n)
      fail(path, "holds shard " + std::to_string(stored.shard.k) + "/" + std::to_string(stored.shard.n) +
                     ", not " + std::to_string(header.shard.k) + "/" + std::to_string(header.shard.n));
  } else {
    // Built under a temporary name and linked into place whole: a writer killed while creating the file
    // leaves no file at path (only the temporary one), so --resume simply starts again.
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent))
      fail(path, "cannot create: no directory " + quoteForMessage(parent.string()));
    const std::string partial = path + ".partial-" + std::to_string(::getpid());
    bool created = false;
    state->lock = WriteLock::acquire(partial, true, &created);
    try {
      PlistHandle fapl = fileAccess(true, partial);
      state->file = FileHandle(check(H5Fcreate(partial.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), path,
                                     "cannot create HDF5 file " + partial));
      writeSweepSkeleton(*state, header);
      if (::link(partial.c_str(), path.c_str()) != 0)
        fail(path, errno == EEXIST ? "already exists; resume it (--resume) or choose another file"
                                   : std::string("cannot create: ") + std::strerror(errno));
      ::unlink(partial.c_str());
    } catch (...) {
      state->file.reset();
      ::unlink(partial.c_str());  // still locked by us: nobody else can be using it
      throw;
    }
  }
  auto writer = std::make_unique<FileWriter>(state, header, sync_each_append);
  writer->load(existing);
  return writer;
}

}  // namespace sweep

SweepWriter::~SweepWriter() = default;

std::unique_ptr<SweepWriter> SweepWriter::open(const std::string& path, const SweepHeader& header,
                                               bool resume) {
  return sweep::openSweepWriter(path, header, resume, true);
}

}  // namespace attnscope
