// Sweep files that lie or are cut short: truncated files, foreign files, attributes beyond the bounds,
// datasets of the wrong shape or type, sizes the file cannot hold, records that contradict their cell. Each
// is a valid sweep edited here with the HDF5 C API, and each gives a one-line StoreError naming the file:
// never a crash, never an allocation of what the file claims.

#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "attnscope/sweep_file.h"
#include "hdf5_edit_support.h"
#include "sweep_test_support.h"

namespace attnscope {
namespace {

using namespace test;
namespace fs = std::filesystem;

/// The error of opening path and reading every record, which must be one line.
std::string readError(const std::string& path) {
  const std::string error = errorOf([&] { allRecords(*SweepReader::open(path)); });
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  return error;
}

class MalformedSweep : public ::testing::Test {
 protected:
  void SetUp() override { writeSweep(path(), makeSweepHeader()); }
  const std::string& path() const { return m_path.str(); }
  void expectRefused(const std::string& expected) { EXPECT_EQ(readError(path()), path() + ": " + expected); }

 private:
  TempPath m_path{"sweep.h5"};
};

TEST_F(MalformedSweep, ValidSweepReads) {
  EXPECT_EQ(allRecords(*SweepReader::open(path())).size(), 24u);
  EXPECT_EQ(readError(path()), "(no StoreError)");
}

TEST_F(MalformedSweep, TruncatedFiles) {
  const auto size = fs::file_size(path());
  for (double share : {0.0, 0.01, 0.1, 0.5, 0.9, 0.999}) {
    SCOPED_TRACE(share);
    TempPath cut("cut.h5");
    fs::copy_file(path(), cut.str());
    fs::resize_file(cut.str(), static_cast<uintmax_t>(static_cast<double>(size) * share));
    const std::string error = readError(cut.str());
    EXPECT_EQ(error.rfind(cut.str() + ": ", 0), 0u) << error;
    EXPECT_FALSE(isSweepFile(cut.str()) && error == "(no StoreError)");
  }
}

TEST_F(MalformedSweep, ForeignFiles) {
  TempPath text("text.h5"), capture("capture.h5");
  std::ofstream(text.str()) << "not HDF5\n";
  EXPECT_EQ(readError(text.str()), text.str() + ": not an HDF5 file (not an attnscope sweep)");
  CaptureTokens tokens{{1, 2, 3}, {}};
  CaptureFile::create(capture.str(), kModel, tokens).reset();
  EXPECT_FALSE(isSweepFile(capture.str()));
  EXPECT_EQ(readError(capture.str()),
            capture.str() + ": not an attnscope sweep file (no kind = 'attnscope sweep' attribute)");
  const std::string dir = fs::path(path()).parent_path().string();
  EXPECT_EQ(readError(dir), dir + ": is a directory, not a sweep file");
  EXPECT_EQ(readError(path() + ".none"), path() + ".none: no such file");
  EXPECT_TRUE(isSweepFile(path()));
  EXPECT_EQ(errorOf([&] { CaptureFile::open(path()); }),
            path() + ": is an 'attnscope sweep' file, not a capture");
}

TEST_F(MalformedSweep, SchemaFromTheFuture) {
  editFile(path(), [](hid_t file) { setIntAttr(file, ".", "schema_version", 2); });
  expectRefused("sweep schema version 2 is newer than this attnscope reads (1); update attnscope");
}

TEST_F(MalformedSweep, NRecordsBeyondTheRows) {
  editFile(path(), [](hid_t file) { setIntAttr(file, "normalizers/1", "n_records", int64_t{1} << 40); });
  expectRefused("/normalizers/1: n_records 1099511627776 is outside [0, 12], the cells of shard 0/1");
}

TEST_F(MalformedSweep, HugeGridDeclared) {
  editFile(path(), [](hid_t file) { setIntAttr(file, "grid", "prompts_per_cell", int64_t{1} << 40); });
  expectRefused("prompts_per_cell 1099511627776 makes more than 1048576 cells or none");
}

TEST_F(MalformedSweep, ModelShapeBeyondTheBounds) {
  editFile(path(), [](hid_t file) { setIntAttr(file, "model", "n_head", 100000); });
  expectRefused("model shape n_layer 2, n_head 100000 is outside the bounds");
}

TEST_F(MalformedSweep, DatasetOfTheWrongShape) {
  editFile(path(), [](hid_t file) {
    H5Ldelete(file, "normalizers/0/stat_sums", H5P_DEFAULT);
    addDataset(file, "normalizers/0/stat_sums", {12, 2, 2, 3, 10});
  });
  expectRefused(
      "/normalizers/0: dataset '/normalizers/0/stat_sums' is [12, 2, 2, 3, 10], not the "
      "[12, 2, 2, 3, 11] its header says");
}

TEST_F(MalformedSweep, DatasetOfTheWrongType) {
  editFile(path(), [](hid_t file) {
    H5Ldelete(file, "normalizers/0/answer", H5P_DEFAULT);
    addDataset(file, "normalizers/0/answer", {12}, H5T_STD_I32LE);
  });
  expectRefused("/normalizers/0: dataset '/normalizers/0/answer' has the wrong type class");
}

// A header and datasets that agree on sizes the file cannot hold: 64 layers × 1024 heads of needle scores
// per record (chunked, never written) in a file of a few hundred kilobytes.
TEST_F(MalformedSweep, SizesTheFileCannotHold) {
  editFile(path(), [](hid_t file) {
    setIntAttr(file, "model", "n_layer", 64);
    setIntAttr(file, "model", "n_head", 1024);
    for (const char* group : {"normalizers/0", "normalizers/1"}) {
      const std::string g = group;
      for (const char* name : {"needle_scores", "stat_sums", "stat_counts"})
        H5Ldelete(file, (g + "/" + name).c_str(), H5P_DEFAULT);
      addDataset(file, g + "/needle_scores", {12, 64, 1024});
      addDataset(file, g + "/stat_sums", {12, 2, 64, 1024, 11});
      addDataset(file, g + "/stat_counts", {12, 64, 11}, H5T_STD_I32LE);
    }
  });
  const std::string error = readError(path());
  EXPECT_EQ(
      error.rfind(path() + ": /normalizers/0: dataset '/normalizers/0/needle_scores' declares more data "
                           "than the file's ",
                  0),
      0u)
      << error;
}

TEST_F(MalformedSweep, SoftLinkInsteadOfADataset) {
  editFile(path(), [](hid_t file) {
    H5Ldelete(file, "normalizers/0/cell", H5P_DEFAULT);
    H5Lcreate_soft("/normalizers/1/cell", file, "normalizers/0/cell", H5P_DEFAULT, H5P_DEFAULT);
  });
  expectRefused(
      "/normalizers/0: 'normalizers/0/cell' is a soft link; captures are read through hard links only");
}

/// Overwrites one int64 value of a column.
void setCell(hid_t file, const char* dataset_path, hsize_t row, int64_t value) {
  hid_t dataset = H5Dopen2(file, dataset_path, H5P_DEFAULT);
  hid_t space = H5Dget_space(dataset);
  const hsize_t count = 1;
  H5Sselect_hyperslab(space, H5S_SELECT_SET, &row, nullptr, &count, nullptr);
  hid_t memory = H5Screate_simple(1, &count, nullptr);
  EXPECT_GE(H5Dwrite(dataset, H5T_NATIVE_INT64, memory, space, H5P_DEFAULT, &value), 0);
  H5Sclose(memory);
  H5Sclose(space);
  H5Dclose(dataset);
}

TEST_F(MalformedSweep, RecordsThatContradictTheirCell) {
  editFile(path(), [](hid_t file) { setCell(file, "normalizers/0/cell", 3, 999); });
  expectRefused("/normalizers/0: record of cell 999: the cell is outside the grid's 12 cells");
  editFile(path(), [](hid_t file) { setCell(file, "normalizers/0/cell", 3, 4); });
  expectRefused("/normalizers/0: record of cell 4: its seed is not the cell's (sweepCellSeed)");
  editFile(path(), [](hid_t file) {
    setCell(file, "normalizers/0/cell", 3, 3);
    setCell(file, "normalizers/1/prompt_index", 5, 7);
  });
  expectRefused("/normalizers/1: record of cell 5: its prompt index is not the cell's");
  editFile(path(), [](hid_t file) { setCell(file, "normalizers/1/prompt_index", 5, 1); });
  EXPECT_EQ(readError(path()), "(no StoreError)");  // restored: the edits themselves did no harm
}

}  // namespace
}  // namespace attnscope
