// Capture files: round trips, the streamed pyramid against a direct max-pool, fill values, tile bounds,
// foreign and newer files, the Python reference reader and the weights hash. Crash safety and locking:
// test_store_safety.cpp; files that lie: test_store_malformed.cpp.

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "attnscope/store.h"
#include "store_test_support.h"

namespace attnscope {
namespace {

using namespace test;

/// Decodes IEEE half bits the slow, obvious way.
float halfBitsToFloat(uint16_t h) {
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v = e == 0 ? std::ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(1024 + m, e - 25);
  return static_cast<float>(h & 0x8000 ? -v : v);
}

// ---------------------------------------------------------------------------------------------------------------

TEST(Store, Fp16IsExactRoundToNearestEven) {
  TempPath path("fp16.h5");
  const int64_t n = 256;  // 65536 cells: every half bit pattern once
  std::vector<float> all(n * n), ties(n * n), above(n * n);
  for (int i = 0; i < 65536; ++i) all[i] = halfBitsToFloat(static_cast<uint16_t>(i));
  // Midpoints between neighbouring halves (ties: must go to the even one) and just above them.
  for (int i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float a = halfBitsToFloat(h),
                b = halfBitsToFloat(static_cast<uint16_t>((h & 0x8000) | ((h & 0x7fff) + 1)));
    const bool finite = (h & 0x7fff) < 0x7bff;
    ties[i] = finite ? static_cast<float>((static_cast<double>(a) + b) / 2) : a;
    above[i] = finite ? std::nextafter(ties[i], std::signbit(a) ? -kInf : kInf) : a;
  }
  ties[0x7bff] = 65520.0f, ties[0xfbff] = -65520.0f;   // the tie above the largest half goes to infinity
  above[0x7bff] = 65519.996f, above[0xfbff] = 1e-30f;  // just below the tie; far below the smallest subnormal
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    RunWriter writer = file->beginRun(makeSpec("r", n, {{kPattern0, 0, {0, 1, 2}}}));
    writer.writeMapBlock(kPattern0, 0, 0, n, 0, n, all.data());
    writer.writeMapBlock(kPattern0, 1, 0, n, 0, n, ties.data());
    writer.writeMapBlock(kPattern0, 2, 0, n, 0, n, above.data());
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  ASSERT_EQ(file->mapLevels("r", kPattern0, 0), 1);
  EXPECT_TRUE(sameFloats(readLevel(*file, "r", kPattern0, 0, 0), all));  // includes -0, subnormals, inf, NaN
  for (float& v : ties) v = roundToHalf(v);
  for (float& v : above) v = roundToHalf(v);
  EXPECT_TRUE(sameFloats(readLevel(*file, "r", kPattern0, 1, 0), ties));
  EXPECT_TRUE(sameFloats(readLevel(*file, "r", kPattern0, 2, 0), above));
  EXPECT_EQ(roundToHalf(65520.0f), kInf);
  EXPECT_EQ(roundToHalf(std::ldexp(1.0f, -25)), 0.0f);
}

TEST(Store, RoundTripsTokensModelAndStats) {
  TempPath path("roundtrip.h5");
  const int64_t n = 50;
  CaptureTokens tokens = makeTokens(n);
  tokens.text[4] = std::string("bad\xff utf8\0nul", 13);  // stored sanitized: h5py must be able to decode it
  RunSpec spec = makeSpec("softmax", n, {{kPattern0, 0, {1, 3}}, {kScores1, 1, {0}}});
  {
    auto file = CaptureFile::create(path.str(), kModel, tokens);
    RunWriter writer = file->beginRun(spec);
    writeStats(writer, spec, 0, 16);
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  EXPECT_EQ(file->path(), path.str());
  EXPECT_EQ(file->nTokens(), n);
  CaptureModel model = file->model();
  EXPECT_EQ(model.config_json, kModel.config_json);
  EXPECT_EQ(model.path, kModel.path);
  EXPECT_EQ(model.weights_hash, kModel.weights_hash);
  CaptureTokens read = file->tokens();
  EXPECT_EQ(read.ids, tokens.ids);
  ASSERT_EQ(read.text.size(), tokens.text.size());
  for (int64_t i = 0; i < n; ++i) {
    if (i != 4) {
      EXPECT_EQ(read.text[i], tokens.text[i]);
    }
  }
  EXPECT_EQ(read.text[4], "bad\xef\xbf\xbd utf8\xe2\x90\x80nul");

  RunInfo info = file->run("softmax");
  EXPECT_TRUE(info.complete);
  EXPECT_EQ(info.normalizer, "softmax");
  EXPECT_EQ(info.n_layer, 2);
  EXPECT_EQ(info.n_head, 4);
  EXPECT_EQ(info.n_tokens, n);
  EXPECT_EQ(info.topk, 3);
  EXPECT_EQ(info.targets, spec.targets);
  EXPECT_EQ(info.stats, (std::vector<std::string>{"entropy", "max_prob"}));  // name order
  ASSERT_EQ(info.maps.size(), 2u);
  EXPECT_EQ(info.maps[0].hook, kPattern0);
  EXPECT_EQ(info.maps[0].layer, 0);
  EXPECT_EQ(info.maps[0].heads, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(info.maps[1].hook, kScores1);
  EXPECT_EQ(info.maps[1].layer, 1);
  ASSERT_EQ(info.created.size(), 20u);
  EXPECT_EQ(info.created.back(), 'Z');
  expectStats(*file, spec, 0);
  std::vector<float> head2 = file->readStat("softmax", "entropy", 1, 2);
  ASSERT_EQ(head2.size(), static_cast<size_t>(n));
  EXPECT_EQ(head2[7], statValue(0, 1, 1, 2, 7));
  // Maps never written read as their fill value.
  EXPECT_TRUE(sameFloats(file->readMapTile("softmax", kPattern0, 3, 0, 0, 2, 0, 2), {0, 0, 0, 0}));
  EXPECT_TRUE(sameFloats(file->readMapTile("softmax", kScores1, 0, 0, 0, 1, 0, 2), {-kInf, -kInf}));
}

TEST(Store, UnwrittenStatsReadAsNaN) {
  TempPath path("nan.h5");
  RunSpec spec = makeSpec("r", 10);
  spec.targets.clear();
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(10));
    RunWriter writer = file->beginRun(spec);
    std::vector<float> values(4 * 3, 0.5f);
    writer.writeStat("max_prob", 1, 2, 5, values.data());
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  std::vector<float> row = file->readStat("r", "max_prob", 1, 3);
  for (int64_t q = 0; q < 10; ++q) EXPECT_EQ(std::isnan(row[q]), q < 2 || q >= 5) << q;
  EXPECT_TRUE(file->run("r").targets.empty());
}

TEST(Store, StreamedPyramidEqualsDirectMaxPool) {
  TempPath path("pyramid.h5");
  const int64_t n = 600;
  std::vector<float> pattern = causalMap(n, false, 1), scores = causalMap(n, true, 2);
  // Rows 301..314 of the score map (two 7-row blocks) are never written: they must read as -inf.
  for (int64_t q = 301; q < 315; ++q)
    for (int64_t k = 0; k < n; ++k) scores[q * n + k] = -kInf;
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    RunWriter writer = file->beginRun(makeSpec("r", n, {{kPattern0, 0, {2}}, {kScores1, 1, {0}}}));
    writeCausal(writer, kPattern0, 2, pattern, n, 7);
    // The score map arrives in 7-row blocks split into two key ranges, like key-tiled attention.
    for (int64_t q0 = 0; q0 < n; q0 += 7) {
      const int64_t q1 = std::min(n, q0 + 7), split = q1 / 2;
      if (q0 == 301 || q0 == 308) continue;
      for (auto [k0, k1] : {std::pair<int64_t, int64_t>{0, split}, {split, q1}}) {
        std::vector<float> values;
        for (int64_t q = q0; q < q1; ++q)
          values.insert(values.end(), &scores[q * n + k0], &scores[q * n + k1]);
        writer.writeMapBlock(kScores1, 0, q0, q1, k0, k1, values.data());
      }
      if (q0 % 70 == 0) writer.flush();  // partial bands written early must be rewritten correctly later
    }
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  for (auto [hook, head, map] :
       {std::tuple<std::string, int64_t, const std::vector<float>*>{kPattern0, 2, &pattern},
        {kScores1, 0, &scores}}) {
    SCOPED_TRACE(hook);
    ASSERT_EQ(file->mapLevels("r", hook, head), 3);  // sides 600, 300, 150
    std::vector<float> level0 = readLevel(*file, "r", hook, head, 0);
    ASSERT_EQ(level0.size(), static_cast<size_t>(n * n));
    for (size_t i = 0; i < level0.size(); ++i) {  // within fp16 rounding of the input...
      const float x = (*map)[i];
      if (std::isfinite(x)) {
        ASSERT_LE(std::fabs(level0[i] - x), std::ldexp(std::fabs(x), -11) + 3e-8f) << i;
      }
    }
    EXPECT_TRUE(sameFloats(level0, maxPool(*map, n, 0)));  // ...and exactly its round-to-nearest-even
    EXPECT_TRUE(sameFloats(readLevel(*file, "r", hook, head, 1), maxPool(*map, n, 1)));
    EXPECT_TRUE(sameFloats(readLevel(*file, "r", hook, head, 2), maxPool(*map, n, 2)));
    // A tile at odd offsets equals the same cells of the whole level.
    std::vector<float> tile = file->readMapTile("r", hook, head, 1, 33, 77, 250, 300), expected;
    std::vector<float> level1 = readLevel(*file, "r", hook, head, 1);
    for (int64_t r = 33; r < 77; ++r)
      for (int64_t c = 250; c < 300; ++c) expected.push_back(level1[r * 300 + c]);
    EXPECT_TRUE(sameFloats(tile, expected));
  }
  EXPECT_EQ(readLevel(*file, "r", kPattern0, 2, 0)[5 * n + 599], 0.0f);    // above the diagonal: fill 0
  EXPECT_EQ(readLevel(*file, "r", kScores1, 0, 0)[5 * n + 599], -kInf);    // scores fill -inf
  EXPECT_EQ(readLevel(*file, "r", kScores1, 0, 2)[77 * 150 + 10], -kInf);  // rows 308..311: never written
}

TEST(Store, TwoRunsInOneFileAndAppendChecks) {
  TempPath path("tworuns.h5");
  const int64_t n = 300;
  std::vector<float> map_a = causalMap(n, false, 3), map_b = causalMap(n, false, 4);
  RunSpec a = makeSpec("softmax", n, {{kPattern0, 0, {0}}}), b = makeSpec("ssmax", n, {{kPattern0, 0, {0}}});
  b.normalizer = "ssmax:s=0.45";
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    RunWriter writer = file->beginRun(a);
    writeStats(writer, a, 1, 64);
    writeCausal(writer, kPattern0, 0, map_a, n, 64);
    writer.finish();
  }
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));  // existing file: appends
    RunWriter writer = file->beginRun(b);
    writeStats(writer, b, 2, 100);
    writeCausal(writer, kPattern0, 0, map_b, n, 100);
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  std::vector<RunInfo> runs = file->runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].name, "softmax");
  EXPECT_EQ(runs[1].name, "ssmax");
  EXPECT_EQ(runs[1].normalizer, "ssmax:s=0.45");
  EXPECT_TRUE(runs[0].complete && runs[1].complete);
  expectStats(*file, a, 1);
  expectStats(*file, b, 2);
  EXPECT_TRUE(sameFloats(readLevel(*file, "softmax", kPattern0, 0, 1), maxPool(map_a, n, 1)));
  EXPECT_TRUE(sameFloats(readLevel(*file, "ssmax", kPattern0, 0, 1), maxPool(map_b, n, 1)));
  file.reset();

  CaptureTokens other = makeTokens(n);
  other.ids[5] += 1;
  EXPECT_NE(errorOf([&] {
              CaptureFile::create(path.str(), kModel, other);
            }).find("holds a capture of different tokens"),
            std::string::npos);
  CaptureModel retrained = kModel;
  retrained.weights_hash = "ffff";
  EXPECT_NE(errorOf([&] {
              CaptureFile::create(path.str(), retrained, makeTokens(n));
            }).find(path.str() + ": holds a capture of different weights"),
            std::string::npos);

  // With other_weights the file takes a run of the retrained model, which records its own model; the file's
  // /model and the earlier runs stay as they were.
  {
    auto appender = CaptureFile::create(path.str(), retrained, makeTokens(n), /*other_weights=*/true);
    RunSpec c = makeSpec("retrained", n);
    c.model = retrained;
    RunWriter writer = appender->beginRun(c);
    writeStats(writer, c, 3, 64);
    writer.finish();
  }
  file = CaptureFile::open(path.str());
  EXPECT_EQ(file->model().weights_hash, kModel.weights_hash);
  EXPECT_FALSE(file->run("softmax").model.has_value());
  const RunInfo retrained_run = file->run("retrained");
  ASSERT_TRUE(retrained_run.model.has_value());
  EXPECT_EQ(retrained_run.model->weights_hash, "ffff");
  EXPECT_EQ(retrained_run.model->config_json, kModel.config_json);
  EXPECT_EQ(retrained_run.model->path, kModel.path);
  expectStats(*file, makeSpec("retrained", n), 3);
  expectStats(*file, a, 1);
}

TEST(Store, RejectsDuplicateRunAndReadOnlyWrites) {
  TempPath path("duplicate.h5");
  auto file = CaptureFile::create(path.str(), kModel, makeTokens(8));
  file->beginRun(makeSpec("a", 8)).finish();
  std::string error = errorOf([&] { file->beginRun(makeSpec("a", 8)); });
  EXPECT_NE(error.find(path.str() + ": run 'a' already exists"), std::string::npos) << error;
  EXPECT_NE(errorOf([&] { file->beginRun(makeSpec("x/y", 8)); }).find("invalid run name"), std::string::npos);
  file.reset();
  auto reader = CaptureFile::open(path.str());
  EXPECT_NE(errorOf([&] { reader->beginRun(makeSpec("b", 8)); }).find("read-only"), std::string::npos);
}

TEST(Store, AbandonedWriterLeavesIncompleteRunWithItsData) {
  TempPath path("abandoned.h5");
  const int64_t n = 200;
  std::vector<float> map = causalMap(n, false, 5);
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    RunWriter writer = file->beginRun(makeSpec("r", n, {{kPattern0, 0, {0}}}));
    writeCausal(writer, kPattern0, 0, map, n, 10);
  }  // destroyed without finish()
  auto file = CaptureFile::open(path.str());
  EXPECT_FALSE(file->run("r").complete);
  std::vector<float> level0 = readLevel(*file, "r", kPattern0, 0, 0);
  EXPECT_EQ(level0[150 * n + 3], roundToHalf(map[150 * n + 3]));
}

TEST(Store, ReadMapTileClipsAndChecksBounds) {
  TempPath path("tile.h5");
  const int64_t n = 300;
  std::vector<float> map = causalMap(n, false, 6);
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    RunWriter writer = file->beginRun(makeSpec("r", n, {{kPattern0, 0, {1}}}));
    writeCausal(writer, kPattern0, 1, map, n, 50);
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  ASSERT_EQ(file->mapLevels("r", kPattern0, 1), 2);
  EXPECT_EQ(file->readMapTile("r", kPattern0, 1, 1, 140, 500, -5, 3).size(),
            10u * 3u);  // clipped to 150 × 150
  EXPECT_TRUE(file->readMapTile("r", kPattern0, 1, 0, 300, 400, 0, 10).empty());
  EXPECT_TRUE(file->readMapTile("r", kPattern0, 1, 0, 20, 10, 0, 10).empty());
  EXPECT_EQ(file->readMapTile("r", kPattern0, 1, 0, 299, 300, 0, 1)[0], roundToHalf(map[299 * n]));
  EXPECT_NE(
      errorOf([&] { file->readMapTile("r", kPattern0, 1, 2, 0, 1, 0, 1); }).find("has no level 2 (it has 2)"),
      std::string::npos);
  EXPECT_NE(errorOf([&] { file->readMapTile("r", kPattern0, 1, -1, 0, 1, 0, 1); }).find("has no level -1"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { file->readMapTile("r", kPattern0, 0, 0, 0, 1, 0, 1); }).find("head 0"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { file->readMapTile("r", kScores1, 1, 0, 0, 1, 0, 1); }).find("has no map of hook"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { file->readMapTile("nope", kPattern0, 1, 0, 0, 1, 0, 1); }).find("no run 'nope'"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { file->readStat("r", "max_prob", 2); }).find("layer 2 out of range"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { file->readStat("r", "nope", 0); }).find("has no stat 'nope'"), std::string::npos);
}

TEST(Store, WriterChecksItsInput) {
  TempPath path("input.h5");
  auto file = CaptureFile::create(path.str(), kModel, makeTokens(200));
  RunWriter writer = file->beginRun(makeSpec("r", 200, {{kPattern0, 0, {0}}}));
  std::vector<float> values(200 * 200, 0.5f);
  writer.writeMapBlock(kPattern0, 0, 130, 140, 0, 140, values.data());
  EXPECT_NE(errorOf([&] {
              writer.writeMapBlock(kPattern0, 0, 0, 10, 0, 10, values.data());
            }).find("increasing order"),
            std::string::npos);
  EXPECT_NE(
      errorOf([&] { writer.writeMapBlock(kPattern0, 0, 190, 201, 0, 10, values.data()); }).find("outside"),
      std::string::npos);
  EXPECT_NE(
      errorOf([&] { writer.writeMapBlock(kPattern0, 1, 190, 200, 0, 10, values.data()); }).find("no map"),
      std::string::npos);
  EXPECT_NE(errorOf([&] { writer.writeStat("max_prob", 2, 0, 1, values.data()); }).find("out of range"),
            std::string::npos);
  writer.finish();
  EXPECT_NE(errorOf([&] { writer.flush(); }).find("already finished"), std::string::npos);
}

TEST(Store, RejectsForeignAndNewerFiles) {
  TempPath text("foreign.txt"), bare("bare.h5"), newer("newer.h5");
  { std::ofstream(text.str()) << "hello, not HDF5\n"; }
  std::string error = errorOf([&] { CaptureFile::open(text.str()); });
  EXPECT_EQ(error, text.str() + ": not an HDF5 file (not an attnscope capture)");
  EXPECT_NE(errorOf([&] { CaptureFile::create(text.str(), kModel, makeTokens(4)); }).find("not an HDF5 file"),
            std::string::npos);
  std::ifstream kept(text.str());
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(kept), {}), "hello, not HDF5\n");  // never clobbered
  EXPECT_NE(errorOf([&] { CaptureFile::open(text.str() + ".missing"); }).find("no such file"),
            std::string::npos);

  hid_t file = H5Fcreate(bare.str().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  H5Fclose(file);
  EXPECT_EQ(errorOf([&] { CaptureFile::open(bare.str()); }),
            bare.str() + ": not an attnscope capture (no schema_version attribute)");

  CaptureFile::create(newer.str(), kModel, makeTokens(4)).reset();
  file = H5Fopen(newer.str().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  hid_t attr = H5Aopen(file, "schema_version", H5P_DEFAULT);
  const int64_t version = kCaptureSchemaVersion + 1;
  H5Awrite(attr, H5T_NATIVE_INT64, &version);
  H5Aclose(attr);
  H5Fclose(file);
  error = errorOf([&] { CaptureFile::open(newer.str()); });
  EXPECT_NE(error.find(newer.str() + ": capture schema version 2 is newer"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------------------

TEST(Store, PythonReferenceReaderReadsCapture) {
  const char* source = std::getenv("ATTNSCOPE_SOURCE_DIR");
  if (!source) GTEST_SKIP() << "ATTNSCOPE_SOURCE_DIR is not set (ctest sets it)";
  if (!hasH5py()) GTEST_SKIP() << "/usr/bin/python3 has no h5py";
  TempPath path("reference.h5");
  const int64_t n = 600;
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    for (const std::string name : {"softmax", "ssmax"}) {
      RunSpec spec = makeSpec(name, n, {{kPattern0, 0, {0}}});
      RunWriter writer = file->beginRun(spec);
      writeStats(writer, spec, 0, 128);
      writeCausal(writer, kPattern0, 0, causalMap(n, false, 1), n, 128);
      writer.finish();
    }
  }
  int status = 0;
  std::string output = runCommand(
      "/usr/bin/python3 " + std::string(source) + "/tests/reference/read_capture.py " + path.str(), &status);
  EXPECT_EQ(status, 0) << output;
  for (const char* expected :
       {"run softmax:", "run ssmax:", "complete 1", "stat max_prob (2, 4, 600) float32",
        "level_2 (150, 150) float16", "mean max_prob, last layer:"})
    EXPECT_NE(output.find(expected), std::string::npos) << expected << " not in:\n" << output;
}

TEST(Store, HashFilesIsStreamingXxh3OverConcatenatedBytes) {
  TempPath empty("empty.bin"), one("one.bin"), two("two.bin"), both("both.bin");
  { std::ofstream(empty.str()); }
  { std::ofstream(one.str()) << "attention"; }
  { std::ofstream(two.str()) << std::string(3 << 20, 'x'); }  // larger than one read buffer
  { std::ofstream(both.str()) << "attention" << std::string(3 << 20, 'x'); }
  EXPECT_EQ(hashFiles({empty.str()}), "2d06800538d394c2");  // XXH3_64bits of no bytes
  EXPECT_EQ(hashFiles({one.str(), two.str()}), hashFiles({both.str()}));
  EXPECT_NE(hashFiles({one.str()}), hashFiles({two.str()}));
  EXPECT_EQ(hashFiles({one.str()}).size(), 16u);
  EXPECT_NE(errorOf([&] { hashFiles({one.str() + ".missing"}); }).find(one.str() + ".missing: cannot read"),
            std::string::npos);
}

}  // namespace
}  // namespace attnscope
