// Sweep files: records round-trip bit for bit, resume continues the same sweep and refuses another, a writer
// killed before any of its file calls leaves every earlier record (a torn append is ignored), and merging
// shards gives, record for record, the unsharded file (or refuses, naming what differs).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <numeric>

#include "attnscope/sweep_file.h"
#include "file_call_faults.h"  // g_file_calls, g_die_at
#include "sweep_test_support.h"

namespace attnscope {
namespace {

using namespace test;
namespace fs = std::filesystem;

std::vector<int64_t> allCells(const SweepGrid& grid) {
  std::vector<int64_t> cells(static_cast<size_t>(grid.cellCount()));
  std::iota(cells.begin(), cells.end(), 0);
  return cells;
}

TEST(Sweep, CellsSeedsShardsAndBins) {
  const SweepHeader header = makeSweepHeader();
  const SweepGrid& grid = header.grid;
  ASSERT_EQ(grid.cellCount(), 12);
  const SweepCell cell = sweepCell(grid, 11);
  EXPECT_EQ(cell.length_index, 1);
  EXPECT_EQ(cell.depth_index, 2);
  EXPECT_EQ(cell.prompt_index, 1);
  EXPECT_THROW(sweepCell(grid, 12), std::invalid_argument);
  // A cell's seed depends on its length and depth values, not their places in the grid.
  SweepGrid more = grid;
  more.lengths = {8, 16, 40};
  more.depths = {0.0, 0.25, 0.5, 1.0};
  EXPECT_EQ(sweepCellSeed(more, {0, 2, 3, 1}), sweepCellSeed(grid, cell));
  EXPECT_NE(sweepCellSeed(grid, sweepCell(grid, 10)), sweepCellSeed(grid, cell));
  SweepGrid other_seed = grid;
  other_seed.seed = 1;
  EXPECT_NE(sweepCellSeed(other_seed, cell), sweepCellSeed(grid, cell));

  EXPECT_EQ(parseSweepShard("2/3").k, 2);
  EXPECT_EQ(parseSweepShard("2/3").n, 3);
  for (const char* bad : {"3/3", "1", "-1/3", "a/3", "1/0", "1/", "/3", "1/3/4"}) {
    try {
      parseSweepShard(bad);
      ADD_FAILURE() << bad << " parsed";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("invalid shard '" + std::string(bad) + "'"), std::string::npos);
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
  std::vector<int64_t> joined;
  for (int64_t k = 0; k < 5; ++k)
    for (int64_t c : shardCells(grid, {k, 5})) joined.push_back(c);
  std::sort(joined.begin(), joined.end());
  EXPECT_EQ(joined, allCells(grid));
  EXPECT_EQ(shardCells(grid, {1, 5}), (std::vector<int64_t>{1, 6, 11}));

  EXPECT_EQ(sweepBinOf(1, 1), 0);
  EXPECT_EQ(sweepBinOf(2, 1), 1);
  EXPECT_EQ(sweepBinOf(1023, 1), 9);
  EXPECT_EQ(sweepBinOf(1024, 1), 10);
  EXPECT_EQ(sweepBinOf(8, 3), 9);  // exact powers of two start their bin
  EXPECT_EQ(sweepBinOf(7, 3), 8);
  EXPECT_EQ(sweepBinCount(1024, 1), 11);
  EXPECT_EQ(sweepBinCount(40, 2), 11);  // log2(40) = 5.32: bins 0..10
  EXPECT_EQ(sweepRecordShape(grid, 2, 3).stat_sums, 2 * 2 * 3 * 11);
}

TEST(SweepFile, RoundTripIsBitExact) {
  for (SweepMode mode : {SweepMode::Needle, SweepMode::Documents}) {
    SCOPED_TRACE(sweepModeName(mode));
    TempPath path("round.h5");
    const SweepHeader header = makeSweepHeader(mode);
    writeSweep(path.str(), header);
    ASSERT_TRUE(isSweepFile(path.str()));
    auto reader = SweepReader::open(path.str());
    EXPECT_EQ(sweepMismatch(reader->header(), header), "");
    EXPECT_EQ(reader->header().grid.haystack, header.grid.haystack);
    EXPECT_EQ(reader->header().model.checkpoint.path, header.model.checkpoint.path);
    EXPECT_EQ(reader->header().shard.n, 1);
    EXPECT_EQ(reader->count(1), header.grid.cellCount());
    EXPECT_TRUE(sameRecords(allRecords(*reader), expectedRecords(header, allCells(header.grid))));
    EXPECT_THROW(reader->records(2), StoreError);
  }
}

// More array tasks than cells (a Slurm array of 16 over 12 cells): a shard with no cells is a valid, empty
// file.
TEST(SweepFile, ShardWithoutCells) {
  TempPath empty("empty.h5"), merged("merged.h5");
  SweepHeader header = makeSweepHeader(SweepMode::Needle, {13, 16});
  writeSweep(empty.str(), header);
  auto reader = SweepReader::open(empty.str());
  EXPECT_EQ(reader->count(0), 0);
  EXPECT_TRUE(reader->records(1).empty());
  const SweepMergeReport report = mergeSweeps(merged.str(), {empty.str()});
  EXPECT_EQ(report.n_records, 0);
  EXPECT_EQ(report.missing.size(), 12u);
}

TEST(SweepFile, ReaderOrdersRecordsByCell) {
  TempPath path("order.h5");
  const SweepHeader header = makeSweepHeader();
  auto writer = SweepWriter::open(path.str(), header, false);
  for (int64_t cell = header.grid.cellCount() - 1; cell >= 0; cell -= 2) {
    writer->append(makeSweepRecord(header, cell, 1));
    writer->append(makeSweepRecord(header, cell, 0));
  }
  writer.reset();
  auto reader = SweepReader::open(path.str());
  EXPECT_TRUE(sameRecords(allRecords(*reader), expectedRecords(header, {1, 3, 5, 7, 9, 11})));
}

TEST(SweepFile, AppendRefusesRecordsThatDoNotFit) {
  TempPath path("refuse.h5");
  const SweepHeader header = makeSweepHeader(SweepMode::Needle, {1, 2});
  auto writer = SweepWriter::open(path.str(), header, false);
  writer->append(makeSweepRecord(header, 1, 0));
  const auto refused = [&](SweepRecord record, const std::string& expected) {
    EXPECT_EQ(errorOf([&] { writer->append(record); }), path.str() + ": " + expected);
  };
  refused(makeSweepRecord(header, 1, 0), "already holds the record of cell 1 under 'softmax'");
  refused(makeSweepRecord(header, 2, 0), "cell 2 is not in the file's shard 1/2");
  SweepRecord r = makeSweepRecord(header, 3, 0);
  r.stat_sums.pop_back();
  refused(r, "record of cell 3: stat_sums has 131 values, not 132");
  r = makeSweepRecord(header, 3, 0);
  r.seed ^= 1;
  refused(r, "record of cell 3: its seed is not the cell's (sweepCellSeed)");
  r = makeSweepRecord(header, 3, 0);
  r.needle_end = r.length + 1;
  refused(
      r, "record of cell 3: needle range [" + std::to_string(r.needle_begin) + ", 17) is outside the prompt");
  r = makeSweepRecord(header, 3, 5);
  refused(r, "record of cell 3: normalizer 5 is not one of the grid's");
  writer.reset();
  EXPECT_TRUE(sameRecords(allRecords(*SweepReader::open(path.str())), {makeSweepRecord(header, 1, 0)}));
}

TEST(SweepFile, ResumeContinuesTheSameSweepOnly) {
  TempPath path("resume.h5");
  const SweepHeader header = makeSweepHeader(SweepMode::Needle, {0, 2});
  {
    auto writer = SweepWriter::open(path.str(), header, false);
    for (int64_t cell : {0, 2, 4}) writer->append(makeSweepRecord(header, cell, 0));
    writer->append(makeSweepRecord(header, 0, 1));
  }
  EXPECT_EQ(errorOf([&] { SweepWriter::open(path.str(), header, false); }),
            path.str() + ": already exists; resume it (--resume) or choose another file");
  EXPECT_EQ(errorOf([&] { SweepWriter::open(path.str() + ".d/x.h5", header, false); }),
            path.str() + ".d/x.h5: cannot create: no directory '" + path.str() + ".d'");
  SweepHeader other = header;
  other.grid.lengths = {16, 48};
  EXPECT_EQ(errorOf([&] { SweepWriter::open(path.str(), other, true); }),
            path.str() + ": holds another sweep: grid lengths differ");
  other = header;
  other.model.checkpoint.weights_hash = "ffff";
  EXPECT_EQ(errorOf([&] { SweepWriter::open(path.str(), other, true); }),
            path.str() + ": holds another sweep: weights hash '00112233aabbccdd' vs 'ffff'");
  other = header;
  other.shard = {1, 2};
  EXPECT_EQ(errorOf([&] { SweepWriter::open(path.str(), other, true); }),
            path.str() + ": holds shard 0/2, not 1/2");
  other = header;
  other.grid.haystack = "/elsewhere/fortunes";  // the same text at another path is the same sweep
  auto writer = SweepWriter::open(path.str(), other, true);
  EXPECT_TRUE(writer->has(2, 0));
  EXPECT_TRUE(writer->has(0, 1));
  EXPECT_FALSE(writer->has(2, 1));
  for (int64_t cell : shardCells(header.grid, header.shard))
    for (int64_t n : {0, 1})
      if (!writer->has(cell, n)) writer->append(makeSweepRecord(header, cell, n));
  writer.reset();
  auto reader = SweepReader::open(path.str());
  EXPECT_EQ(reader->header().grid.haystack, header.grid.haystack);
  EXPECT_TRUE(
      sameRecords(allRecords(*reader), expectedRecords(header, shardCells(header.grid, header.shard))));
}

TEST(SweepFile, SecondWriterIsRefused) {
  TempPath path("locked.h5");
  const SweepHeader header = makeSweepHeader();
  auto writer = SweepWriter::open(path.str(), header, false);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // an OFD lock is per open file: a second process (or open) is refused
    const std::string error = errorOf([&] { SweepWriter::open(path.str(), header, true); });
    ::_exit(error == path.str() + ": being written by another attnscope process" ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(SweepReader::open(path.str())->count(0), 0);  // readers are not blocked
}

/// Creates a sweep file and appends every record, cell by cell, each normalizer in turn (as a sweep runs).
void writeCellByCell(const std::string& path, const SweepHeader& header) {
  auto writer = SweepWriter::open(path, header, false);
  for (int64_t cell = 0; cell < header.grid.cellCount(); ++cell)
    for (int64_t n : {0, 1}) writer->append(makeSweepRecord(header, cell, n));
}

// Every state a kill can leave: the writer dies before its k-th file call, for every k from creating the file
// to its last append. Killed while creating, it leaves no file; else the file opens, holds a prefix of the
// records bit for bit, and --resume completes it to the uninterrupted file.
TEST(SweepFile, WriterKilledBeforeEachFileCallKeepsEveryAppendedRecord) {
  SweepHeader header = makeSweepHeader(SweepMode::Documents);
  header.grid.lengths = {40};  // 2 cells × 2 normalizers: each crash point forks a writer
  const std::vector<SweepRecord> expected = expectedRecords(header, allCells(header.grid));
  long n_calls = 0;
  {
    TempPath probe("probe.h5");
    g_file_calls = 0;
    writeCellByCell(probe.str(), header);
    n_calls = g_file_calls;
  }
  ASSERT_GT(n_calls, static_cast<long>(2 * expected.size()));
  int unfinished = 0, counts_seen = 0;
  for (long k = 1; k <= n_calls; ++k) {
    SCOPED_TRACE("killed before file call " + std::to_string(k) + " of " + std::to_string(n_calls));
    TempPath path("killed.h5");
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      g_file_calls = 0;
      g_die_at = k;
      writeCellByCell(path.str(), header);
      ::_exit(3);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    for (const auto& entry : fs::directory_iterator(fs::path(path.str()).parent_path()))
      if (entry.path().string().rfind(path.str() + ".partial-", 0) == 0) fs::remove(entry.path());
    if (!fs::exists(path.str())) {
      ++unfinished;
    } else {
      std::unique_ptr<SweepReader> reader;
      try {
        reader = SweepReader::open(path.str());
      } catch (const StoreError& e) {
        FAIL() << e.what();
      }
      // Records go cell by cell, each normalizer in turn: what survives is a prefix of that order.
      std::vector<SweepRecord> survived;
      for (int64_t cell = 0; cell < header.grid.cellCount(); ++cell)
        for (int64_t n : {0, 1}) {
          const std::vector<SweepRecord> records = reader->records(n);
          auto it = std::find_if(records.begin(), records.end(),
                                 [&](const SweepRecord& r) { return r.cell == cell; });
          if (it != records.end()) survived.push_back(*it);
        }
      std::vector<SweepRecord> prefix;
      for (int64_t cell = 0; cell < header.grid.cellCount(); ++cell)
        for (int64_t n : {0, 1}) prefix.push_back(makeSweepRecord(header, cell, n));
      prefix.resize(survived.size());
      ASSERT_TRUE(sameRecords(survived, prefix));
      counts_seen += survived.empty() ? 0 : 1;
    }
    if (k % 7 != 0 && k != n_calls) continue;  // resuming every 7th state is enough to show it completes
    {
      auto writer = SweepWriter::open(path.str(), header, true);
      for (int64_t cell = 0; cell < header.grid.cellCount(); ++cell)
        for (int64_t n : {0, 1})
          if (!writer->has(cell, n)) writer->append(makeSweepRecord(header, cell, n));
    }
    EXPECT_TRUE(sameRecords(allRecords(*SweepReader::open(path.str())), expected));
  }
  std::printf("[          ] %ld crash points: %d during creation, %d with records kept\n", n_calls,
              unfinished, counts_seen);
  EXPECT_GT(counts_seen, 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Merging.

TEST(SweepMerge, ThreeShardsEqualTheUnshardedFile) {
  const SweepHeader header = makeSweepHeader();
  TempPath whole("whole.h5"), merged("merged.h5");
  writeSweep(whole.str(), header);
  std::vector<std::unique_ptr<TempPath>> shards;
  std::vector<std::string> paths;
  for (int64_t k : {2, 0, 1}) {  // any order
    shards.push_back(std::make_unique<TempPath>("shard" + std::to_string(k) + ".h5"));
    SweepHeader shard = header;
    shard.shard = {k, 3};
    writeSweep(shards.back()->str(), shard);
    paths.push_back(shards.back()->str());
  }
  const SweepMergeReport report = mergeSweeps(merged.str(), paths);
  EXPECT_EQ(report.n_records, 2 * header.grid.cellCount());
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(report.duplicated.empty());
  auto a = SweepReader::open(whole.str()), b = SweepReader::open(merged.str());
  EXPECT_EQ(sweepMismatch(a->header(), b->header()), "");
  EXPECT_EQ(b->header().shard.k, 0);
  EXPECT_EQ(b->header().shard.n, 1);
  EXPECT_TRUE(sameRecords(allRecords(*b), allRecords(*a)));
  EXPECT_TRUE(sameRecords(allRecords(*b), expectedRecords(header, allCells(header.grid))));
  EXPECT_EQ(errorOf([&] { mergeSweeps(merged.str(), paths); }),
            merged.str() + ": already exists; resume it (--resume) or choose another file");
}

TEST(SweepMerge, ReportsMissingAndDuplicatedCells) {
  const SweepHeader header = makeSweepHeader();
  TempPath s0("s0.h5"), s0_again("s0b.h5"), partial("partial.h5"), merged("merged.h5");
  SweepHeader shard0 = header;
  shard0.shard = {0, 2};
  writeSweep(s0.str(), shard0);
  writeSweep(s0_again.str(), shard0);
  SweepHeader shard1 = header;
  shard1.shard = {1, 2};
  {
    auto writer = SweepWriter::open(partial.str(), shard1, false);
    for (int64_t cell : {1, 3, 5, 7, 9}) writer->append(makeSweepRecord(header, cell, 0));
    for (int64_t cell : {1, 3, 5, 7, 11}) writer->append(makeSweepRecord(header, cell, 1));
  }
  const SweepMergeReport report = mergeSweeps(merged.str(), {s0.str(), partial.str(), s0_again.str()});
  EXPECT_EQ(report.n_records, 6 + 6 + 5 + 5);
  EXPECT_EQ(report.missing, (std::vector<int64_t>{9, 11}));
  EXPECT_EQ(report.duplicated, (std::vector<int64_t>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(SweepReader::open(merged.str())->count(0), 11);
}

TEST(SweepMerge, RefusesShardsThatDisagree) {
  const SweepHeader header = makeSweepHeader();
  TempPath a("a.h5"), merged("merged.h5");
  writeSweep(a.str(), header);
  const auto refusal = [&](SweepHeader other) {
    TempPath b("b.h5");
    other.shard = {0, 1};
    writeSweep(b.str(), other);
    const std::string error = errorOf([&] { mergeSweeps(merged.str(), {a.str(), b.str()}); });
    EXPECT_FALSE(fs::exists(merged.str()));
    return error.substr(0, b.str().size() + 2) == b.str() + ": " ? error.substr(b.str().size() + 2) : error;
  };
  const std::string prefix = "cannot be merged with " + a.str() + ": ";
  SweepHeader other = header;
  other.model.checkpoint.weights_hash = "0000000000000000";
  EXPECT_EQ(refusal(other), prefix + "weights hash '00112233aabbccdd' vs '0000000000000000'");
  other = header;
  other.model.checkpoint.config_json = R"({"n_layer": 3})";
  EXPECT_EQ(refusal(other), prefix + "model config (config.json) differs");
  other = header;
  other.grid.normalizers = {"softmax", "logn:L=8"};
  EXPECT_EQ(refusal(other), prefix + "normalizers differ");
  other = header;
  other.grid.depths = {0.0, 0.5, 0.75};
  EXPECT_EQ(refusal(other), prefix + "grid depths differ");
  other = header;
  other.grid.seed = 5;
  EXPECT_EQ(refusal(other), prefix + "grid seed differs");

  // Same sweep, but one cell's record differs between two files that hold it.
  TempPath c("c.h5");
  {
    auto writer = SweepWriter::open(c.str(), header, false);
    SweepRecord r = makeSweepRecord(header, 4, 1);
    r.generated += "!";
    writer->append(r);
  }
  EXPECT_EQ(errorOf([&] {
              mergeSweeps(merged.str(), {a.str(), c.str()});
            }),
            c.str() + ": the record of cell 4 under 'ssmax:s=0.3' differs from the one in " + a.str());
  EXPECT_FALSE(fs::exists(merged.str()));
}

// The files tests/cli/test_sweep_cli.sh merges with attnscope-cli and reads with h5py (the README snippet),
// written into $ATTNSCOPE_SWEEP_SAMPLES (the sweep_samples fixture) or else a temporary directory: the
// unsharded sweep whole.h5, its shards shard0..2.h5 (K/3), and other.h5, shard 0/3 of other weights.
TEST(SweepSamples, ShardsOfOneSweepAndOneOfAnother) {
  const char* env = std::getenv("ATTNSCOPE_SWEEP_SAMPLES");
  TempPath temporary("samples");
  const fs::path dir = env ? fs::path(env) : fs::path(temporary.str());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const SweepHeader header = makeSweepHeader();
  writeSweep((dir / "whole.h5").string(), header);
  for (int64_t k = 0; k < 3; ++k) {
    SweepHeader shard = header;
    shard.shard = {k, 3};
    writeSweep((dir / ("shard" + std::to_string(k) + ".h5")).string(), shard);
  }
  SweepHeader other = header;
  other.shard = {0, 3};
  other.model.checkpoint.weights_hash = "ffffffffffffffff";
  writeSweep((dir / "other.h5").string(), other);
  int64_t n_records = 0;
  for (const char* name : {"shard0.h5", "shard1.h5", "shard2.h5"})
    n_records += static_cast<int64_t>(allRecords(*SweepReader::open((dir / name).string())).size());
  EXPECT_EQ(n_records, 2 * header.grid.cellCount());
  EXPECT_EQ(allRecords(*SweepReader::open((dir / "whole.h5").string())).size(), 24u);
  if (!env) fs::remove_all(dir);
}

}  // namespace
}  // namespace attnscope
