// Bad checkpoints and configs at the model level: each gets a one-line error naming what is wrong, and a good
// checkpoint round-trips through saveModel/loadModel with identical logits.

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "attnscope/model.h"
#include "attnscope/safetensors.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

const char* kLlama = R"({"model_type": "llama", "vocab_size": 40, "hidden_size": 16, "intermediate_size": 24,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64})";

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("attnscope_ckpt_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    torch::manual_seed(1);
    model = std::make_unique<Model>(parseConfig(kLlama));
    saveModel(*model, dir.string());
  }
  void TearDown() override { fs::remove_all(dir); }

  /// Rewrites model.safetensors from the model's parameters after `edit` changed the list.
  void rewrite(const std::function<void(std::vector<TensorToWrite>&)>& edit) {
    std::vector<TensorToWrite> tensors;
    for (const auto& item : model->module().named_parameters()) {
      keep.push_back(item.value().detach().contiguous());
      tensors.push_back({item.key(), DType::F32, keep.back().sizes().vec(), keep.back().data_ptr(),
                         static_cast<std::size_t>(keep.back().numel()) * 4});
    }
    edit(tensors);
    writeSafetensors((dir / "model.safetensors").string(), tensors);
  }

  void editConfig(const std::function<void(nlohmann::json&)>& edit) {
    auto config = nlohmann::json::parse(std::ifstream(dir / "config.json"));
    edit(config);
    std::ofstream(dir / "config.json") << config.dump();
  }

  std::string loadError() {
    try {
      loadModel(dir.string());
    } catch (const std::exception& e) {
      std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << "error must be one line: " << message;
      return message;
    }
    return "loaded without error";
  }

  fs::path dir;
  std::unique_ptr<Model> model;
  std::vector<torch::Tensor> keep;
};

TEST_F(CheckpointTest, RoundTripGivesIdenticalLogits) {
  auto loaded = loadModel(dir.string());
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 40, {1, 12}, torch::kInt64);
  EXPECT_TRUE(
      torch::equal(model->forward(ids, LogitPositions::all()), loaded->forward(ids, LogitPositions::all())));
}

TEST_F(CheckpointTest, MissingTensor) {
  rewrite([](auto& t) { t.erase(t.begin() + 3); });
  EXPECT_NE(loadError().find("missing tensor 'model.layers.0"), std::string::npos) << loadError();
}

TEST_F(CheckpointTest, UnexpectedTensor) {
  static float extra[4] = {1, 2, 3, 4};
  rewrite([](auto& t) { t.push_back({"model.layers.0.mystery", DType::F32, {4}, extra, sizeof extra}); });
  EXPECT_NE(loadError().find("unexpected tensor 'model.layers.0.mystery'"), std::string::npos) << loadError();
}

TEST_F(CheckpointTest, ShapeDisagreesWithConfig) {
  editConfig([](auto& c) { c["intermediate_size"] = 32; });
  std::string error = loadError();
  EXPECT_NE(error.find("mlp.gate_proj.weight' has shape [24, 16] but config.json implies [32, 16]"),
            std::string::npos)
      << error;
}

TEST_F(CheckpointTest, DtypeDisagreesWithConfig) {
  editConfig([](auto& c) { c["torch_dtype"] = "bfloat16"; });
  EXPECT_NE(loadError().find("is F32 but config.json says torch_dtype bfloat16"), std::string::npos)
      << loadError();
}

TEST_F(CheckpointTest, IntegerWeights) {
  static int64_t ints[16 * 40];
  rewrite([](auto& t) {
    for (auto& item : t)
      if (item.name == "model.embed_tokens.weight")
        item = {item.name, DType::I64, {40, 16}, ints, sizeof ints};
  });
  EXPECT_NE(loadError().find("has dtype I64; weights must be F32, F16 or BF16"), std::string::npos)
      << loadError();
}

TEST_F(CheckpointTest, SsmaxConfigWithoutTensors) {
  editConfig([](auto& c) { c["attention_normalizer"] = "ssmax"; });
  EXPECT_NE(loadError().find("missing tensor 'model.layers.0.self_attn.ssmax_s' (config.json says"),
            std::string::npos)
      << loadError();
}

TEST_F(CheckpointTest, ConfigErrors) {
  editConfig([](auto& c) { c["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 2.0}}; });
  EXPECT_NE(loadError().find("rope_scaling type 'longrope' is not supported"), std::string::npos);
  editConfig([](auto& c) { c["model_type"] = "bert"; });
  EXPECT_NE(loadError().find("model_type 'bert' is not supported"), std::string::npos);
  editConfig([](auto& c) {
    c.erase("vocab_size");
    c["model_type"] = "llama";
  });
  EXPECT_NE(loadError().find("missing key 'vocab_size'"), std::string::npos);
  std::ofstream(dir / "config.json") << "{not json";
  EXPECT_NE(loadError().find("config.json is not valid JSON ("), std::string::npos);
  fs::remove(dir / "config.json");
  EXPECT_NE(loadError().find("cannot open"), std::string::npos);
}

TEST_F(CheckpointTest, NoWeights) {
  fs::remove(dir / "model.safetensors");
  EXPECT_NE(loadError().find("no model.safetensors"), std::string::npos) << loadError();
}

TEST_F(CheckpointTest, TokenIdsOutsideVocabulary) {
  torch::NoGradGuard no_grad;
  try {
    model->forward(torch::tensor({1, 2, 40}, torch::kInt64).view({1, 3}), LogitPositions::all());
    FAIL() << "out-of-range id accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("token id 40 is outside the vocabulary"), std::string::npos);
  }
}

}  // namespace
}  // namespace attnscope
