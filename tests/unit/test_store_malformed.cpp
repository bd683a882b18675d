// Captures that lie (issue 11): attributes that disagree with the stored datasets, sizes beyond the
// documented bounds, soft and external links. Each is a tiny file made here with the HDF5 C API on top of a
// valid capture, and each must give the one-line StoreError below, naming the file, the run and the dataset:
// never a crash, never an allocation of what the file claims.

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attnscope/store.h"
#include "hdf5_edit_support.h"
#include "store_test_support.h"

namespace attnscope {
namespace {

using namespace test;
constexpr int64_t kTokens = 16, kRunTokens = 12;
const std::string kHook = "blocks.0.attn.hook_pattern";
const std::string kLinksOnly = " link; captures are read through hard links only";

/// A valid capture of 16 tokens with run "r": 2 layers x 2 heads x 12 tokens, stats max_prob and n_keys, the
/// map of layer 0 head 1.
void writeCapture(const std::string& path) {
  CaptureTokens tokens;
  for (int64_t i = 0; i < kTokens; ++i) {
    tokens.ids.push_back(i);
    tokens.text.push_back("t" + std::to_string(i));
  }
  auto file = CaptureFile::create(path, {"{}", "/models/m", "0123"}, tokens);
  RunSpec spec;
  spec.name = "r";
  spec.normalizer = "softmax";
  spec.n_layer = 2, spec.n_head = 2, spec.n_tokens = kRunTokens;
  spec.stats = {"max_prob", "n_keys"};
  spec.maps = {{kHook, 0, {1}}};
  RunWriter writer = file->beginRun(spec);
  std::vector<float> values(2 * kRunTokens, 0.5f);
  for (const std::string& stat : spec.stats)
    for (int64_t layer = 0; layer < 2; ++layer) writer.writeStat(stat, layer, 0, kRunTokens, values.data());
  writer.finish();
}

/// Expects opening the capture and listing its runs to fail with exactly `expected`, in one line.
void expectRefused(const std::string& path, const std::string& expected) {
  const std::string error = errorOf([&] { CaptureFile::open(path)->runs(); });
  EXPECT_EQ(error, expected);
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

class MalformedCapture : public ::testing::Test {
 protected:
  void SetUp() override { writeCapture(m_path.str()); }
  const std::string& path() const { return m_path.str(); }
  std::string run() const { return path() + ": run 'r': "; }

 private:
  TempPath m_path{"capture.h5"};
};

TEST_F(MalformedCapture, ValidCaptureOpens) {
  auto file = CaptureFile::open(path());
  ASSERT_EQ(file->runs().size(), 1u);
  EXPECT_EQ(file->readStat("r", "max_prob", 1).size(), static_cast<size_t>(2 * kRunTokens));
}

TEST_F(MalformedCapture, NHeadAttributeBeyondTheStoredHeads) {
  editFile(path(), [](hid_t file) { setIntAttr(file, "runs/r", "n_head", 3); });
  const std::string expected =
      run() +
      "dataset '/runs/r/stats/max_prob' is [2, 2, 12] but the run's n_layer, n_head, n_tokens say [2, 3, 12]";
  expectRefused(path(), expected);
  auto file = CaptureFile::open(path());
  EXPECT_EQ(errorOf([&] { file->run("r"); }), expected);
  EXPECT_EQ(errorOf([&] { file->readStat("r", "max_prob", 0); }), expected);
}

TEST_F(MalformedCapture, NHeadAttributeBeyondTheBound) {
  editFile(path(), [](hid_t file) { setIntAttr(file, "runs/r", "n_head", 5000); });
  expectRefused(path(), run() + "attribute n_head = 5000 is outside [1, 4096]");
}

TEST_F(MalformedCapture, NTokensAttributeBeyondTheStoredTokens) {
  editFile(path(), [](hid_t file) { setIntAttr(file, "runs/r", "n_tokens", 16); });
  expectRefused(
      path(),
      run() +
          "dataset '/runs/r/stats/max_prob' is [2, 2, 12] but the run's n_layer, n_head, n_tokens say "
          "[2, 2, 16]");
}

TEST_F(MalformedCapture, NTokensAttributeBeyondTheFilesTokens) {
  editFile(path(), [](hid_t file) { setIntAttr(file, "runs/r", "n_tokens", int64_t{1} << 40); });
  expectRefused(path(),
                run() + "attribute n_tokens = 1099511627776 is outside [1, 16] (the file's /tokens/ids)");
}

TEST_F(MalformedCapture, NTokensZeroOrNegative) {
  for (int64_t n : {0, -5}) {
    editFile(path(), [n](hid_t file) { setIntAttr(file, "runs/r", "n_tokens", n); });
    expectRefused(path(), run() + "attribute n_tokens = " + std::to_string(n) +
                              " is outside [1, 16] (the file's /tokens/ids)");
  }
}

TEST_F(MalformedCapture, StatDeclaredLargerThanMemoryIsNeverAllocated) {
  editFile(path(), [](hid_t file) { addDataset(file, "runs/r/stats/huge", {2, 2, hsize_t{1} << 31}); });
  const std::string expected =
      run() +
      "dataset '/runs/r/stats/huge' is [2, 2, 2147483648] but the run's n_layer, n_head, n_tokens say "
      "[2, 2, 12]";
  expectRefused(path(), expected);
  EXPECT_EQ(errorOf([&] { CaptureFile::open(path())->readStat("r", "huge", 0); }), expected);
  // Attributes that agree with it are beyond the bounds instead.
  editFile(path(), [](hid_t file) { setIntAttr(file, "runs/r", "n_tokens", int64_t{1} << 31); });
  EXPECT_EQ(errorOf([&] { CaptureFile::open(path())->readStat("r", "huge", 0); }),
            run() + "attribute n_tokens = 2147483648 is outside [1, 16] (the file's /tokens/ids)");
}

TEST_F(MalformedCapture, StatOfWrongRank) {
  editFile(path(), [](hid_t file) { addDataset(file, "runs/r/stats/flat", {kRunTokens}); });
  expectRefused(
      path(),
      run() + "dataset '/runs/r/stats/flat' is [12] but the run's n_layer, n_head, n_tokens say [2, 2, 12]");
}

TEST_F(MalformedCapture, StatThatIsNotFloat) {
  editFile(path(), [](hid_t file) {
    addDataset(file, "runs/r/stats/ints", {2, 2, kRunTokens}, H5T_STD_I32LE);
  });
  expectRefused(path(), run() + "dataset '/runs/r/stats/ints' is not floating point");
}

TEST_F(MalformedCapture, StatThatIsAGroupRefusesTheFile) {
  editFile(path(), [](hid_t file) {
    H5Gclose(H5Gcreate2(file, "runs/r/stats/group", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  });
  const std::string error = errorOf([&] { CaptureFile::open(path())->runs(); });
  EXPECT_EQ(error.rfind(run() + "'/runs/r/stats/group' is not a dataset (", 0), 0u) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST_F(MalformedCapture, StatStoredInAnExternalFileIsNotRead) {
  editFile(path(), [](hid_t file) {
    const hsize_t dims[3] = {2, 2, kRunTokens};
    hid_t space = H5Screate_simple(3, dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ASSERT_GE(H5Pset_external(dcpl, "/etc/passwd", 0, 2 * 2 * kRunTokens * 4), 0);
    H5Dclose(H5Dcreate2(file, "runs/r/stats/outside", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    H5Pclose(dcpl);
    H5Sclose(space);
  });
  expectRefused(path(),
                run() +
                    "dataset '/runs/r/stats/outside' is stored in external files; captures are read from "
                    "their own file only");
}

TEST_F(MalformedCapture, MapLevelBeyondThePyramid) {
  editFile(path(), [](hid_t file) {
    addDataset(file, ("runs/r/maps/" + kHook + "/head_1/level_1").c_str(), {6, 6});
  });
  expectRefused(path(), run() + "map '/runs/r/maps/" + kHook +
                            "/head_1' has more than the 1 pyramid levels of 12 tokens");
}

TEST_F(MalformedCapture, MapOfHeadBeyondTheRunsHeads) {
  editFile(path(), [](hid_t file) {
    const std::string hook = "runs/r/maps/" + kHook;
    ASSERT_GE(
        H5Lmove(file, (hook + "/head_1").c_str(), file, (hook + "/head_7").c_str(), H5P_DEFAULT, H5P_DEFAULT),
        0);
  });
  expectRefused(path(),
                run() + "map '" + kHook + "' has group 'head_7', not head_<h> for one of the run's 2 heads");
}

TEST_F(MalformedCapture, ExternalLinkInRunsIsNotFollowed) {
  TempPath other("other.h5");
  writeCapture(other.str());
  editFile(path(), [&](hid_t file) {
    ASSERT_GE(H5Lcreate_external(other.str().c_str(), "/runs/r", file, "runs/ext", H5P_DEFAULT, H5P_DEFAULT),
              0);
  });
  expectRefused(path(), path() + ": 'runs/ext' is an external" + kLinksOnly);
  auto file = CaptureFile::open(path());
  EXPECT_EQ(errorOf([&] { file->run("ext"); }), path() + ": 'runs/ext' is an external" + kLinksOnly);
  EXPECT_EQ(errorOf([&] { file->readStat("ext", "max_prob", 0); }),
            path() + ": 'runs/ext' is an external" + kLinksOnly);
}

TEST_F(MalformedCapture, ExternalLinkInsideARunIsNotFollowed) {
  TempPath other("other.h5");
  writeCapture(other.str());
  editFile(path(), [&](hid_t file) {
    ASSERT_GE(H5Lcreate_external(other.str().c_str(), "/runs/r/stats/max_prob", file, "runs/r/stats/ext",
                                 H5P_DEFAULT, H5P_DEFAULT),
              0);
  });
  expectRefused(path(), run() + "'runs/r/stats/ext' is an external" + kLinksOnly);
}

TEST_F(MalformedCapture, SoftLinkIsNotFollowed) {
  editFile(path(), [](hid_t file) {
    ASSERT_GE(H5Lcreate_soft("/runs/r", file, "runs/alias", H5P_DEFAULT, H5P_DEFAULT), 0);
  });
  expectRefused(path(), path() + ": 'runs/alias' is a soft" + kLinksOnly);
}

TEST_F(MalformedCapture, NamesFromTheFileAreEscapedInMessages) {
  editFile(path(), [](hid_t file) {
    ASSERT_GE(H5Lcreate_soft("/runs/r", file, "runs/bad\x1b[2J\xff\\", H5P_DEFAULT, H5P_DEFAULT), 0);
  });
  expectRefused(path(), path() + ": 'runs/bad\\x1B[2J\\xFF\\x5C' is a soft" + kLinksOnly);
}

TEST_F(MalformedCapture, TokensBeyondTheBound) {
  editFile(path(), [](hid_t file) {
    ASSERT_GE(H5Ldelete(file, "tokens/ids", H5P_DEFAULT), 0);
    addDataset(file, "tokens/ids", {hsize_t{1} << 40}, H5T_STD_I64LE);
  });
  const std::string error = errorOf([&] { CaptureFile::open(path()); });
  EXPECT_EQ(error, path() + ": dataset /tokens/ids holds 1099511627776 tokens, outside [1, 16777216]");
}

}  // namespace
}  // namespace attnscope
