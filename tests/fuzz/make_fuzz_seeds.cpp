// Writes the fuzzers' seed corpora (tests/fuzz/corpus/<harness>/) and fixed inputs (tests/fuzz/data/) with
// the project's own writers, so every seed is a valid file of today's format. Run by hand after a format
// change:
//   build-fuzz/tests/fuzz/make_fuzz_seeds tests/fuzz
// The tokenizer files start from the tiny fixtures the unit tests use (tests/unit/tokenizer_fixtures.h).

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attnscope/safetensors.h"
#include "attnscope/store.h"
#include "attnscope/sweep_file.h"
#include "attnscope/text_input.h"
#include "tokenizer_fixtures.h"  // tests/unit

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace attnscope;
using namespace attnscope::test;

namespace {

const std::string kSep = "#SEP";  // tests/fuzz/fuzz_support.h kSeparator

void writeFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out.flush()) throw std::runtime_error(path.string() + ": cannot write");
}

/// A safetensors file's bytes, written by writeSafetensors.
std::string safetensorsBytes(const fs::path& scratch, const std::vector<TensorToWrite>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  const fs::path path = scratch / "tmp.safetensors";
  writeSafetensors(path.string(), tensors, metadata);
  return readFile(path);
}

/// Llama 3 style: a Split regex then ByteLevel without its own regex, digits isolated; with_nfc adds Qwen2's
/// NFC normalizer (which makes the tokenizer lossy: decode gives the NFC form back).
json llama3StyleJson(bool with_nfc) {
  json j = byteLevelJson(false);
  if (with_nfc) j["normalizer"] = {{"type", "NFC"}};
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"},
                           {"pattern",
                            {{"Regex",
                              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                              "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                              "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                          {{"type", "Digits"}, {"individual_digits", true}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  j["model"]["ignore_merges"] = true;
  return j;
}

/// Mistral-style Metaspace pre-tokenizer and decoder over the byte-fallback vocabulary.
json metaspaceJson() {
  json j = byteFallbackJson();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {
      {"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}, {"split", false}};
  j["decoder"] = {
      {"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}, {"split", false}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}}}}}},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
  return j;
}

std::string gpt2MergesText() {
  std::string merges = "#version: 0.2\n";
  for (const auto& m : kMerges) merges += m + "\n";
  return merges;
}

void writeSafetensorsSeeds(const fs::path& out, const fs::path& scratch) {
  const float f32[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
  const uint16_t half[4] = {0x3C00, 0xC000, 0x0000, 0x7BFF};
  const int64_t i64[2] = {-1, 1LL << 40};
  const int32_t i32[3] = {7, -8, 9};
  const int16_t i16[2] = {-3, 4};
  const uint8_t u8[5] = {0, 1, 2, 254, 255};
  const double f64[1] = {3.25};
  const fs::path dir = out / "corpus" / "fuzz_safetensors";
  writeFile(dir / "single", safetensorsBytes(scratch,
                                             {{"model.embed.weight", DType::F32, {2, 3}, f32, sizeof f32},
                                              {"model.norm.weight", DType::BF16, {4}, half, sizeof half}},
                                             {{"format", "pt"}}));
  writeFile(dir / "dtypes", safetensorsBytes(scratch, {{"f16", DType::F16, {2, 2}, half, sizeof half},
                                                       {"f64", DType::F64, {}, f64, sizeof f64},
                                                       {"i64", DType::I64, {2}, i64, sizeof i64},
                                                       {"i32", DType::I32, {3, 1}, i32, sizeof i32},
                                                       {"i16", DType::I16, {2}, i16, sizeof i16},
                                                       {"i8", DType::I8, {5}, u8, sizeof u8},
                                                       {"u8", DType::U8, {1, 5}, u8, sizeof u8},
                                                       {"bool", DType::BOOL, {2}, u8, 2},
                                                       {"empty", DType::F32, {0, 3}, f32, 0}}));
  // Two shards and the index naming them (the harness writes part 2 as model-00001.safetensors).
  const std::string shard_a = safetensorsBytes(scratch, {{"a.weight", DType::F32, {6}, f32, sizeof f32}});
  const std::string shard_b = safetensorsBytes(scratch, {{"b.weight", DType::I32, {3}, i32, sizeof i32}});
  const json index = {
      {"metadata", {{"total_size", 36}}},
      {"weight_map", {{"a.weight", "model.safetensors"}, {"b.weight", "model-00001.safetensors"}}}};
  writeFile(dir / "sharded", shard_a + kSep + index.dump(2) + kSep + shard_b);
}

void writeConfigSeeds(const fs::path& out, const fs::path& source) {
  const fs::path dir = out / "corpus" / "fuzz_config";
  writeFile(dir / "tiny-llama-random", readFile(source / "samples/tiny-llama-random/config.json"));
  writeFile(dir / "bytes-ssmax", readFile(source / "samples/bytes-ssmax/config.json"));
  writeFile(dir / "gpt2", json{{"model_type", "gpt2"},
                               {"vocab_size", 50257},
                               {"n_embd", 768},
                               {"n_layer", 12},
                               {"n_head", 12},
                               {"n_positions", 1024},
                               {"n_inner", nullptr},
                               {"activation_function", "gelu_new"},
                               {"layer_norm_epsilon", 1e-5},
                               {"tie_word_embeddings", true}}
                              .dump(2));
  writeFile(dir / "llama3-rope", json{{"model_type", "llama"},
                                      {"vocab_size", 128256},
                                      {"hidden_size", 64},
                                      {"num_hidden_layers", 2},
                                      {"num_attention_heads", 4},
                                      {"num_key_value_heads", 2},
                                      {"intermediate_size", 128},
                                      {"max_position_embeddings", 8192},
                                      {"rope_theta", 500000.0},
                                      {"rope_scaling",
                                       {{"rope_type", "llama3"},
                                        {"factor", 8.0},
                                        {"low_freq_factor", 1.0},
                                        {"high_freq_factor", 4.0},
                                        {"original_max_position_embeddings", 8192}}},
                                      {"head_dim", 16},
                                      {"torch_dtype", "bfloat16"}}
                                     .dump(2));
  writeFile(
      dir / "qwen2-window",
      json{{"model_type", "qwen2"},
           {"vocab_size", 151936},
           {"hidden_size", 64},
           {"num_hidden_layers", 4},
           {"num_attention_heads", 4},
           {"num_key_value_heads", 1},
           {"intermediate_size", 96},
           {"use_sliding_window", true},
           {"sliding_window", 4096},
           {"max_window_layers", 2},
           {"rope_scaling", {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}}},
           {"attention_normalizer", "ssmax"},
           {"ssmax_bias", true}}
          .dump(2));
  writeFile(dir / "gpt_neox", json{{"model_type", "gpt_neox"},
                                   {"vocab_size", 50304},
                                   {"hidden_size", 64},
                                   {"num_hidden_layers", 2},
                                   {"num_attention_heads", 4},
                                   {"intermediate_size", 256},
                                   {"rotary_pct", 0.25},
                                   {"rotary_emb_base", 10000},
                                   {"use_parallel_residual", false},
                                   {"hidden_act", "gelu"},
                                   {"rope_scaling", {{"type", "dynamic"}, {"factor", 2.0}}}}
                                  .dump(2));
  writeFile(dir / "phi3-longrope", json{{"model_type", "phi3"},
                                        {"vocab_size", 32064},
                                        {"hidden_size", 64},
                                        {"num_hidden_layers", 2},
                                        {"num_attention_heads", 4},
                                        {"num_key_value_heads", 2},
                                        {"intermediate_size", 96},
                                        {"max_position_embeddings", 131072},
                                        {"original_max_position_embeddings", 4096},
                                        {"partial_rotary_factor", 0.75},
                                        {"sliding_window", 262144},
                                        {"rope_scaling",
                                         {{"type", "su"},
                                          {"short_factor", {1.0, 1.02, 1.05, 1.1, 1.2, 1.3}},
                                          {"long_factor", {1.0, 1.5, 2.5, 4.0, 8.0, 16.0}}}}}
                                       .dump(2));
  writeFile(dir / "mistral", json{{"model_type", "mistral"},
                                  {"vocab_size", 32000},
                                  {"hidden_size", 64},
                                  {"num_hidden_layers", 1},
                                  {"num_attention_heads", 2},
                                  {"intermediate_size", 96},
                                  {"sliding_window", 4096},
                                  {"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}}}
                                 .dump());
}

void writeTokenizerSeeds(const fs::path& out) {
  const std::string text = "hello world, h\xC3\xA9llo 123 <|bos|> abc \xF0\x9F\x98\x80";
  const fs::path json_dir = out / "corpus" / "fuzz_tokenizer_json";
  writeFile(json_dir / "bytelevel", byteLevelJson(true).dump() + kSep + "<|user|>   hello world");
  writeFile(json_dir / "llama3-style", llama3StyleJson(true).dump() + kSep + text);
  writeFile(json_dir / "bytefallback", byteFallbackJson().dump() + kSep + " ab bc\xC3\xA9" + kSep +
                                           R"({"add_bos_token": true, "bos_token": "<s>"})");
  writeFile(json_dir / "metaspace", metaspaceJson().dump() + kSep + "a b  c");

  json vocab = byteLevelVocab();
  vocab["<|endoftext|>"] = 262;
  writeFile(out / "corpus" / "fuzz_gpt2_files" / "tiny", vocab.dump() + kSep + gpt2MergesText());
  writeFile(out / "data" / "gpt2-tiny" / "vocab.json", vocab.dump());
  writeFile(out / "data" / "gpt2-tiny" / "merges.txt", gpt2MergesText());
  writeFile(out / "data" / "bytelevel-tokenizer.json", llama3StyleJson(false).dump());
  writeFile(out / "data" / "bytefallback-tokenizer.json", byteFallbackJson().dump());

  const fs::path encode_dir = out / "corpus" / "fuzz_encode";
  writeFile(encode_dir / "ascii", "Hello world, hello again.\n\tIt's 2025: 3 heads x 1024 keys!");
  writeFile(encode_dir / "unicode",
            "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87 \xCC\x81");
  writeFile(encode_dir / "special", "<|bos|>hello<|endoftext|> <s> </s>  \r\n\r\n   ");
}

/// Small captures: one run of one layer and head with its map (the smallest valid file, fast to mutate), and
/// two runs of two layers and heads with statistics, targets and maps.
void writeCaptureSeeds(const fs::path& out, const fs::path& scratch) {
  const fs::path dir = out / "corpus" / "fuzz_capture";
  fs::create_directories(dir);
  struct Shape {
    const char* name;
    int64_t T, n_runs, n_layer, n_head;
    std::vector<std::string> stats;
  };
  const std::vector<Shape> shapes = {
      {"one-run-T4", 4, 1, 1, 1, {"max_prob", "n_keys"}},
      {"two-runs-T20", 20, 2, 2, 2, {"max_prob", "entropy", "target_mass", "n_keys"}}};
  for (const Shape& shape : shapes) {
    const int64_t T = shape.T;
    const fs::path path = scratch / "seed.h5";
    fs::remove(path);
    CaptureTokens tokens;
    for (int64_t t = 0; t < T; ++t) {
      tokens.ids.push_back(t * 7 % 50);
      tokens.text.push_back("t" + std::to_string(t));
    }
    auto file =
        CaptureFile::create(path.string(), {R"({"model_type": "llama"})", "/models/tiny", "abc123"}, tokens);
    for (int64_t r = 0; r < shape.n_runs; ++r) {
      RunSpec spec;
      spec.name = r == 0 ? "softmax" : "ssmax";
      spec.normalizer = r == 0 ? "softmax" : "ssmax:s=0.5";
      spec.n_layer = shape.n_layer;
      spec.n_head = shape.n_head;
      spec.n_tokens = T;
      spec.stats = shape.stats;  // curves bin by n_keys
      const int64_t last = shape.n_layer - 1;
      spec.maps = {{"blocks." + std::to_string(last) + ".attn.hook_pattern", last, {}}};
      for (int64_t h = 0; h < shape.n_head; ++h) spec.maps[0].heads.push_back(h);
      spec.topk = 2;
      spec.targets = {{1, 3}};
      RunWriter writer = file->beginRun(spec);
      const auto H = static_cast<std::size_t>(shape.n_head);
      std::vector<float> stat(H * T), n_keys(H * T);
      for (std::size_t i = 0; i < stat.size(); ++i) {
        stat[i] = 1.0f / static_cast<float>(1 + i % T);
        n_keys[i] = static_cast<float>(1 + i % T);
      }
      for (const auto& name : spec.stats)
        for (int64_t layer = 0; layer < shape.n_layer; ++layer)
          writer.writeStat(name, layer, 0, T, name == "n_keys" ? n_keys.data() : stat.data());
      std::vector<float> map(static_cast<std::size_t>(T * T), 0.f);
      for (int64_t q = 0; q < T; ++q)
        for (int64_t k = 0; k <= q; ++k)
          map[static_cast<std::size_t>(q * T + k)] = 1.0f / static_cast<float>(q + 1);
      for (int64_t head : spec.maps[0].heads)
        writer.writeMapBlock(spec.maps[0].hook, head, 0, T, 0, T, map.data());
      writer.finish();
    }
    file.reset();
    writeFile(dir / shape.name, readFile(path));
  }
}

}  // namespace

/// Small sweep files: a needle sweep (2 depths, a binned statistic) and a documents sweep (loss buckets),
/// each of a 1-layer, 2-head model, every record written.
void writeSweepSeeds(const fs::path& out, const fs::path& scratch) {
  const fs::path dir = out / "corpus" / "fuzz_sweep";
  fs::create_directories(dir);
  for (SweepMode mode : {SweepMode::Needle, SweepMode::Documents}) {
    SweepHeader header;
    header.grid.mode = mode;
    header.grid.normalizers = {"softmax"};
    header.grid.lengths = {8};
    header.grid.depths = mode == SweepMode::Needle ? std::vector<double>{0.0, 1.0} : std::vector<double>{0.0};
    header.grid.prompts_per_cell = 2;
    header.grid.stats = {"max_prob"};
    if (mode == SweepMode::Documents) header.grid.loss_edges = {0, 4, 8};
    header.model = {{R"({"model_type": "llama"})", "/models/tiny", "abc123"}, 1, 2, "bytes"};
    const SweepRecordShape shape = sweepRecordShape(header.grid, 1, 2);
    const fs::path path = scratch / "seed.h5";
    fs::remove(path);
    {
      auto writer = SweepWriter::open(path.string(), header, false);
      for (int64_t cell = 0; cell < header.grid.cellCount(); ++cell) {
        const SweepCell c = sweepCell(header.grid, cell);
        SweepRecord r;
        r.cell = cell;
        r.length = 8;
        r.depth = header.grid.depths[static_cast<size_t>(c.depth_index)];
        r.seed = sweepCellSeed(header.grid, c);
        r.prompt_index = c.prompt_index;
        if (mode == SweepMode::Needle)
          r.needle_begin = 2, r.needle_end = 5, r.answer = "42", r.generated = "4x";
        r.digit_accuracy = 0.5;
        r.needle_scores.assign(static_cast<size_t>(shape.needle_scores), 0.25f);
        r.stat_sums.assign(static_cast<size_t>(shape.stat_sums), 0.5f);
        r.stat_counts.assign(static_cast<size_t>(shape.stat_counts), 1);
        r.loss_sums.assign(static_cast<size_t>(shape.loss), 2.0);
        r.loss_counts.assign(static_cast<size_t>(shape.loss), 4);
        writer->append(r);
      }
    }
    fs::copy_file(path, dir / (std::string(sweepModeName(mode)) + ".h5"),
                  fs::copy_options::overwrite_existing);
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds <source>/tests/fuzz\n");
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path source = out / ".." / "..";
  const fs::path scratch = fs::temp_directory_path() / "attnscope-fuzz-seeds";
  fs::create_directories(scratch);
  writeSafetensorsSeeds(out, scratch);
  writeConfigSeeds(out, source);
  writeTokenizerSeeds(out);
  writeCaptureSeeds(out, scratch);
  writeSweepSeeds(out, scratch);
  fs::remove_all(scratch);
  std::printf("seeds written under %s\n", out.c_str());
  return 0;
}
