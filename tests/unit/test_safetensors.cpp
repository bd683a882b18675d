// Safetensors reader and writer: round trips, sharded checkpoints, one test per kind of malformed file, and a
// seeded mutation loop showing that damaged files only ever produce CheckpointError.

#include "attnscope/safetensors.h"

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace attnscope {
namespace {

namespace fs = std::filesystem;

std::vector<char> readBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const fs::path& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Builds a file from raw parts so that tests can craft any malformed header; `length` overrides the prefix.
std::vector<char> rawFile(const std::string& header, std::size_t data_bytes, uint64_t length) {
  std::vector<char> bytes(8);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(length >> (8 * i));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.resize(bytes.size() + data_bytes, '\x5a');
  return bytes;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("attnscope_st_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  /// Writes `header` behind a correct length prefix, followed by `data_bytes` bytes of data.
  std::string writeRaw(const std::string& header, std::size_t data_bytes = 0,
                       const std::string& name = "bad") {
    return writeRawLength(header, data_bytes, header.size(), name);
  }
  std::string writeRawLength(const std::string& header, std::size_t data_bytes, uint64_t length,
                             const std::string& name = "bad") {
    fs::path path = dir / (name + ".safetensors");
    writeBytes(path, rawFile(header, data_bytes, length));
    return path.string();
  }

  /// Returns the one-line error opening `path` gives, failing the test if it opens or throws anything else.
  static std::string openError(const std::string& path) {
    try {
      SafetensorsFile file(path);
    } catch (const CheckpointError& e) {
      std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << "error must be one line: " << message;
      return message;
    } catch (const std::exception& e) {
      ADD_FAILURE() << path << ": expected CheckpointError, got: " << e.what();
      return "";
    }
    ADD_FAILURE() << path << ": opened without error";
    return "";
  }

  /// Expects opening `path` to fail with an error naming the file and containing every one of `words`.
  static void expectError(const std::string& path, std::initializer_list<const char*> words) {
    std::string message = openError(path);
    EXPECT_NE(message.find(path), std::string::npos) << "error does not name the file: " << message;
    for (const char* word : words)
      EXPECT_NE(message.find(word), std::string::npos) << "error lacks '" << word << "': " << message;
  }

  static std::string checkpointError(const fs::path& model_dir) {
    try {
      Checkpoint::open(model_dir.string());
    } catch (const CheckpointError& e) {
      std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << "error must be one line: " << message;
      return message;
    }
    return "opened without error";
  }

  /// Writes a small valid shard holding one F32 tensor of 2 values per name.
  void writeShard(const std::string& file, const std::vector<std::string>& names) {
    static const float values[2] = {1.5f, -2.0f};
    std::vector<TensorToWrite> tensors;
    for (const std::string& name : names) tensors.push_back({name, DType::F32, {2}, values, sizeof values});
    writeSafetensors((dir / file).string(), tensors);
  }
  void writeIndex(const std::string& weight_map) {
    std::ofstream(dir / "model.safetensors.index.json")
        << R"({"metadata": {"total_size": 24}, "weight_map": )" << weight_map << "}";
  }

  fs::path dir;
};

TEST_F(SafetensorsTest, DtypeNamesAndSizes) {
  const DType all[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                       DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};
  const char* names[] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"};
  const std::size_t sizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};
  for (int i = 0; i < 10; ++i) {
    EXPECT_STREQ(dtypeName(all[i]), names[i]);
    EXPECT_EQ(dtypeSize(all[i]), sizes[i]) << names[i];
    // Every dtype must also survive a write and read.
    const int64_t zeros[2] = {0, 0};
    std::string path = (dir / (std::string(names[i]) + ".safetensors")).string();
    writeSafetensors(path, {{"t", all[i], {2}, zeros, 2 * sizes[i]}});
    EXPECT_EQ(SafetensorsFile(path).at("t").dtype, all[i]) << names[i];
  }
}

TEST_F(SafetensorsTest, RoundTrip) {
  const float f32[6] = {0.f, 1.f, -2.5f, 3.25f, 1e-20f, -0.f};
  const uint16_t f16[4] = {0x3c00, 0xc000, 0x7c00, 0x0001};   // 1, -2, +inf, smallest subnormal
  const uint16_t bf16[4] = {0x3f80, 0x4049, 0xff80, 0x7fc0};  // 1, ~3.14, -inf, NaN
  const int64_t i64[3] = {INT64_MIN, -1, INT64_MAX};
  const std::string path = (dir / "model.safetensors").string();
  writeSafetensors(path,
                   {{"w.f32", DType::F32, {2, 3}, f32, sizeof f32},
                    {"w.f16", DType::F16, {4}, f16, sizeof f16},
                    {"w.bf16", DType::BF16, {2, 2}, bf16, sizeof bf16},
                    {"w.i64", DType::I64, {3}, i64, sizeof i64},
                    {"w.empty", DType::F32, {0, 5}, nullptr, 0},
                    {"w.scalar", DType::F32, {}, f32 + 2, 4}},
                   {{"format", "pt"}, {"note", "round trip"}});
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  const std::vector<char> bytes = readBytes(path);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);  // the test machine is little-endian like the format
  EXPECT_EQ((8 + header_len) % 8, 0u) << "data region must start 8-byte aligned";

  SafetensorsFile file(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"note", "round trip"}}));
  ASSERT_EQ(file.tensors().size(), 6u);
  auto check = [&](const char* name, DType dtype, std::vector<int64_t> shape, const void* data,
                   std::size_t n) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(file.contains(name));
    const TensorView& view = file.at(name);
    EXPECT_EQ(view.name, name);
    EXPECT_EQ(view.file, path);
    EXPECT_EQ(view.dtype, dtype);
    EXPECT_EQ(view.shape, shape);
    EXPECT_EQ(view.nbytes, n);
    EXPECT_EQ(static_cast<std::size_t>(view.numel()) * dtypeSize(dtype), n);
    if (n) {
      EXPECT_EQ(std::memcmp(view.data, data, n), 0);
    }
  };
  check("w.f32", DType::F32, {2, 3}, f32, sizeof f32);
  check("w.f16", DType::F16, {4}, f16, sizeof f16);
  check("w.bf16", DType::BF16, {2, 2}, bf16, sizeof bf16);
  check("w.i64", DType::I64, {3}, i64, sizeof i64);
  check("w.empty", DType::F32, {0, 5}, nullptr, 0);
  check("w.scalar", DType::F32, {}, f32 + 2, 4);
  EXPECT_EQ(file.at("w.empty").numel(), 0);
  EXPECT_EQ(file.at("w.scalar").numel(), 1);

  // Values read back through the view, not just bytes: the writer copies data in the order given.
  const auto* floats = reinterpret_cast<const float*>(file.at("w.f32").data);
  EXPECT_EQ(floats[3], 3.25f);
  EXPECT_EQ(reinterpret_cast<const uint16_t*>(file.at("w.bf16").data)[1], 0x4049);
  EXPECT_EQ(reinterpret_cast<const int64_t*>(file.at("w.i64").data)[0], INT64_MIN);

  Checkpoint checkpoint = Checkpoint::open(dir.string());
  EXPECT_EQ(checkpoint.files(), std::vector<std::string>{path});
  EXPECT_EQ(checkpoint.tensors().size(), 6u);
  EXPECT_EQ(reinterpret_cast<const float*>(checkpoint.at("w.f32").data)[2], -2.5f);
}

TEST_F(SafetensorsTest, EmptyFileWithoutMetadata) {
  const std::string path = (dir / "empty.safetensors").string();
  writeSafetensors(path, {});
  SafetensorsFile file(path);
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_TRUE(file.metadata().empty());
}

TEST_F(SafetensorsTest, WriteRejectsWrongByteCountAndKeepsOldFile) {
  const float values[3] = {1, 2, 3};
  const std::string path = (dir / "w.safetensors").string();
  writeSafetensors(path, {{"a", DType::F32, {3}, values, sizeof values}});
  const std::vector<char> before = readBytes(path);
  EXPECT_THROW(writeSafetensors(path, {{"a", DType::F32, {4}, values, sizeof values}}),
               std::invalid_argument);
  EXPECT_THROW(writeSafetensors(path, {{"a", DType::F16, {3}, values, sizeof values}}),
               std::invalid_argument);
  EXPECT_THROW(writeSafetensors(path, {{"a", DType::F32, {-3}, values, sizeof values}}),
               std::invalid_argument);
  EXPECT_EQ(readBytes(path), before);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST_F(SafetensorsTest, WriteIntoMissingDirectoryFails) {
  const float value = 1;
  EXPECT_THROW(
      writeSafetensors((dir / "nowhere" / "x.safetensors").string(), {{"a", DType::F32, {1}, &value, 4}}),
      CheckpointError);
}

TEST_F(SafetensorsTest, AtNamesTensorAndFile) {
  const float value = 1;
  const std::string path = (dir / "model.safetensors").string();
  writeSafetensors(path, {{"a", DType::F32, {1}, &value, 4}});
  SafetensorsFile file(path);
  try {
    file.at("nope");
    FAIL() << "missing tensor found";
  } catch (const CheckpointError& e) {
    EXPECT_EQ(std::string(e.what()), "no tensor 'nope' in " + path);
  }
  EXPECT_THROW(Checkpoint::open(dir.string()).at("nope"), CheckpointError);
}

TEST_F(SafetensorsTest, ShardedCheckpoint) {
  writeShard("model-00001-of-00002.safetensors", {"a", "b"});
  writeShard("model-00002-of-00002.safetensors", {"c", "extra"});  // "extra" is not in the index
  writeIndex(R"({"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                 "c": "model-00002-of-00002.safetensors"})");
  Checkpoint checkpoint = Checkpoint::open(dir.string());
  EXPECT_EQ(checkpoint.files().size(), 2u);
  ASSERT_EQ(checkpoint.tensors().size(), 4u);
  EXPECT_TRUE(checkpoint.contains("extra"));
  EXPECT_EQ(fs::path(checkpoint.at("c").file).filename(), "model-00002-of-00002.safetensors");
  EXPECT_EQ(reinterpret_cast<const float*>(checkpoint.at("b").data)[1], -2.0f);
  try {
    checkpoint.at("missing");
    FAIL() << "missing tensor found";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor 'missing' in "), std::string::npos) << e.what();
  }
}

TEST_F(SafetensorsTest, ShardLacksMappedTensor) {
  writeShard("s1.safetensors", {"a"});
  writeIndex(R"({"a": "s1.safetensors", "b": "s1.safetensors"})");
  std::string error = checkpointError(dir);
  EXPECT_NE(error.find("tensor 'b' is mapped to shard 's1.safetensors', which does not contain it"),
            std::string::npos)
      << error;
}

TEST_F(SafetensorsTest, TensorInTwoShards) {
  writeShard("s1.safetensors", {"a"});
  writeShard("s2.safetensors", {"a", "b"});
  writeIndex(R"({"a": "s1.safetensors", "b": "s2.safetensors"})");
  std::string error = checkpointError(dir);
  EXPECT_NE(error.find("tensor 'a' appears in both shard 's1.safetensors' and shard 's2.safetensors'"),
            std::string::npos)
      << error;
}

TEST_F(SafetensorsTest, ShardNameLeavesDirectory) {
  writeShard("s1.safetensors", {"a"});
  for (const char* shard : {"../s1.safetensors", "sub/s1.safetensors", "/etc/passwd", ".."}) {
    writeIndex(std::string(R"({"a": ")") + shard + "\"}");
    std::string error = checkpointError(dir);
    EXPECT_NE(error.find("not a plain file name"), std::string::npos) << error;
  }
}

TEST_F(SafetensorsTest, ShardMissing) {
  writeIndex(R"({"a": "gone.safetensors"})");
  std::string error = checkpointError(dir);
  EXPECT_NE(error.find("shard 'gone.safetensors' does not exist"), std::string::npos) << error;
}

TEST_F(SafetensorsTest, BadIndex) {
  std::ofstream(dir / "model.safetensors.index.json") << "{not json";
  EXPECT_NE(checkpointError(dir).find("model.safetensors.index.json is not valid JSON ("), std::string::npos);
  writeIndex("[1, 2]");
  EXPECT_NE(checkpointError(dir).find("no \"weight_map\" object"), std::string::npos);
  writeIndex("{}");
  EXPECT_NE(checkpointError(dir).find("weight_map lists no tensors"), std::string::npos);
  writeIndex(R"({"a": 7})");
  EXPECT_NE(checkpointError(dir).find("weight_map entry 'a' is not a string"), std::string::npos);
}

TEST_F(SafetensorsTest, CheckpointDirectoryErrors) {
  EXPECT_EQ(checkpointError(dir), dir.string() + ": no model.safetensors or model.safetensors.index.json");
  EXPECT_NE(checkpointError(dir / "absent").find("No such file or directory"), std::string::npos);
  std::ofstream(dir / "plain") << "x";
  EXPECT_NE(checkpointError(dir / "plain").find("is not a directory"), std::string::npos);
  writeShard("model.safetensors", {"a"});
  EXPECT_EQ(Checkpoint::open(dir.string()).tensors().size(), 1u);
}

// One test per kind of bad file. The data region holds 8 bytes unless a test says otherwise.
const char* kGood = R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";

TEST_F(SafetensorsTest, GoodRawFileOpens) {
  SafetensorsFile file(writeRaw(kGood, 8));
  EXPECT_EQ(file.at("t").nbytes, 8u);
}

TEST_F(SafetensorsTest, MissingFile) {
  expectError((dir / "absent.safetensors").string(), {"No such file"});
}

TEST_F(SafetensorsTest, EmptyFile) {
  writeBytes(dir / "e.safetensors", {});
  expectError((dir / "e.safetensors").string(), {"file is empty"});
}

TEST_F(SafetensorsTest, Directory) {
  expectError(dir.string(), {"is a directory"});
}

TEST_F(SafetensorsTest, ShorterThanEightBytes) {
  writeBytes(dir / "s.safetensors", {'\x02', 0, 0});
  expectError((dir / "s.safetensors").string(), {"only 3 bytes", "8-byte header length"});
}

TEST_F(SafetensorsTest, HeaderLengthBeyondFile) {
  expectError(writeRawLength(kGood, 8, std::string(kGood).size() + 9),
              {"header length", "exceeds the file size"});
}

TEST_F(SafetensorsTest, AbsurdHeaderLength) {
  expectError(writeRawLength(kGood, 8, UINT64_MAX), {"header length 18446744073709551615", "limit"});
  expectError(writeRawLength(kGood, 8, 200'000'000), {"header length 200000000", "limit"});
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  expectError(writeRaw("{\"t\": {\"dtype\": \"F32\"", 8), {"header is not valid JSON"});
  expectError(writeRaw("", 8), {"header is not valid JSON"});
  expectError(writeRaw(std::string("{}\0\0", 4)), {"header is not valid JSON"});
}

TEST_F(SafetensorsTest, HeaderNotObject) {
  expectError(writeRaw("[1, 2, 3]"), {"header is not a JSON object"});
}

TEST_F(SafetensorsTest, EntryNotObject) {
  expectError(writeRaw(R"({"h.0.w": [1, 2]})"), {"tensor 'h.0.w'", "entry is not a JSON object"});
}

TEST_F(SafetensorsTest, EntryMissingField) {
  expectError(writeRaw(R"({"t": {"shape": [2], "data_offsets": [0, 8]}})", 8),
              {"tensor 't'", "missing dtype"});
  expectError(writeRaw(R"({"t": {"dtype": "F32", "data_offsets": [0, 8]}})", 8),
              {"tensor 't'", "missing shape"});
  expectError(writeRaw(R"({"t": {"dtype": "F32", "shape": [2]}})", 8),
              {"tensor 't'", "missing data_offsets"});
}

TEST_F(SafetensorsTest, UnknownDtype) {
  expectError(writeRaw(R"({"t": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}})", 8),
              {"tensor 't'", "unknown dtype 'F8_E4M3'"});
  expectError(writeRaw(R"({"t": {"dtype": "f32", "shape": [2], "data_offsets": [0, 8]}})", 8),
              {"unknown dtype 'f32'"});
  expectError(writeRaw(R"({"t": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})", 8),
              {"dtype is not a string"});
}

TEST_F(SafetensorsTest, NegativeOrNonIntegerDim) {
  expectError(writeRaw(R"({"t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8),
              {"tensor 't'", "negative or non-integer dim"});
  expectError(writeRaw(R"({"t": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})", 8),
              {"negative or non-integer dim"});
  expectError(writeRaw(R"({"t": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})", 8),
              {"shape is not an array"});
}

TEST_F(SafetensorsTest, BadDataOffsets) {
  for (const char* offsets : {"[0]", "[0, 8, 8]", "[-1, 8]", "[8, 0]", "[0.0, 8]", "\"0-8\"", "[0, \"8\"]"}) {
    expectError(
        writeRaw(std::string(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": )") + offsets + "}}", 8),
        {"tensor 't'", "are not two non-negative integers"});
  }
}

TEST_F(SafetensorsTest, OffsetsBeyondData) {
  const std::string path = writeRaw(
      R"({"h.0.attn.c_attn.weight": {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]}})", 256);
  EXPECT_EQ(openError(path),
            path + ": tensor 'h.0.attn.c_attn.weight': data_offsets [0, 400] exceed the data size 256");
  expectError(
      writeRaw(R"({"t": {"dtype": "U8", "shape": [1], "data_offsets": [18446744073709551615, 0]}})", 8),
      {"not two non-negative integers"});
}

TEST_F(SafetensorsTest, ByteCountDisagreesWithShape) {
  expectError(writeRaw(R"({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8),
              {"tensor 't'", "hold 8 bytes but shape [3] of F32 needs 12"});
  // A shape whose element count overflows 64 bits must not wrap around to a small, matching size.
  expectError(
      writeRaw(R"({"t": {"dtype": "F32", "shape": [4611686018427387904, 4, 2], "data_offsets": [0, 8]}})", 8),
      {"tensor 't'", "needs more"});
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  expectError(writeRaw(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                           "b": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}})",
                       8),
              {"tensors 'a' and 'b' have overlapping data_offsets"});
  // A range inside a long earlier one overlaps even when the range right before it does not.
  expectError(writeRaw(R"({"big": {"dtype": "U8", "shape": [16], "data_offsets": [0, 16]},
                           "x": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]},
                           "y": {"dtype": "U8", "shape": [2], "data_offsets": [4, 6]}})",
                       16),
              {"'big' and 'x'"});
  // Adjacent ranges and empty tensors are fine.
  SafetensorsFile file(writeRaw(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                                    "z": {"dtype": "F32", "shape": [0], "data_offsets": [2, 2]},
                                    "b": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}})",
                                8, "good"));
  EXPECT_EQ(file.tensors().size(), 3u);
}

TEST_F(SafetensorsTest, BadMetadata) {
  expectError(writeRaw(R"({"__metadata__": ["pt"]})"), {"__metadata__ is not a JSON object"});
  expectError(writeRaw(R"({"__metadata__": {"format": 1}})"),
              {"__metadata__ value 'format' is not a string"});
}

TEST_F(SafetensorsTest, DuplicateTensorName) {
  expectError(writeRaw(R"({"t": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                           "t": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}})",
                       8),
              {"header lists 't' twice"});
}

TEST_F(SafetensorsTest, ControlCharactersStayOnOneLine) {
  std::string message =
      openError(writeRaw("{\"a\\nb\": {\"dtype\": \"X\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1));
  EXPECT_NE(message.find("tensor 'a\\x0Ab'"), std::string::npos) << message;
}

// Seeded damage to a valid file: opening must either succeed with in-bounds views or throw CheckpointError.
TEST_F(SafetensorsTest, MutatedFilesNeverCrash) {
  const float f32[6] = {1, 2, 3, 4, 5, 6};
  const int64_t i64[2] = {7, 8};
  const std::string good = (dir / "good.safetensors").string();
  writeSafetensors(good,
                   {{"a", DType::F32, {2, 3}, f32, sizeof f32}, {"b", DType::I64, {2}, i64, sizeof i64}},
                   {{"format", "pt"}});
  const std::vector<char> original = readBytes(good);
  uint64_t header_len = 0;
  std::memcpy(&header_len, original.data(), 8);
  const fs::path path = dir / "mutant.safetensors";
  std::mt19937_64 rng(20240607);
  int opened = 0, rejected = 0;
  for (int round = 0; round < 240; ++round) {
    std::vector<char> bytes = original;
    switch (round % 4) {
      case 0:  // truncate
        bytes.resize(rng() % bytes.size());
        break;
      case 1:  // flip bytes inside the JSON header
        for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n; ++i)
          bytes[8 + rng() % header_len] ^= static_cast<char>(1 + rng() % 255);
        break;
      case 2: {  // set the header length to something near the real one, or anything at all
        uint64_t length = rng() % 2 ? header_len - 8 + rng() % 24 : rng() >> (rng() % 64);
        for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(length >> (8 * i));
        break;
      }
      case 3:  // replace a header byte with a JSON-significant character
        bytes[8 + rng() % header_len] = "{}[],:\"0-9e. "[rng() % 13];
        break;
    }
    writeBytes(path, bytes);
    try {
      SafetensorsFile file(path.string());
      // mmap'd bytes are invisible to sanitizers, so check each view against an independent reading of the
      // file: its bytes must be exactly those at 8 + N + begin, which also proves they lie inside the file.
      uint64_t length = 0;
      std::memcpy(&length, bytes.data(), 8);
      auto header =
          nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(length));
      for (const auto& [name, view] : file.tensors()) {
        const uint64_t begin = header.at(name).at("data_offsets").at(0).get<uint64_t>();
        ASSERT_LE(8 + length + begin + view.nbytes, bytes.size()) << "round " << round << ": " << name;
        EXPECT_EQ(std::memcmp(view.data, bytes.data() + 8 + length + begin, view.nbytes), 0) << name;
      }
      ++opened;
    } catch (const CheckpointError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "round " << round << ": not a CheckpointError: " << e.what();
    } catch (...) {
      ADD_FAILURE() << "round " << round << ": unknown exception";
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(opened, 0);  // some mutations (e.g. a changed metadata value) stay valid
}

}  // namespace
}  // namespace attnscope
