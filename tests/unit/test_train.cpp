// Trainer, training data and evaluation on tiny models: learning happens, saving and resuming are exact,
// a seed fixes the weights, SSMax s and b receive gradients, needle prompts are what they claim.

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "attnscope/evaluate.h"
#include "attnscope/model.h"
#include "attnscope/text_input.h"
#include "attnscope/tokenizer.h"
#include "attnscope/train.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

const char* const kWords[] = {"the",     "cat",  "sat",   "on",     "a",    "mat",    "and",
                              "dreamed", "of",   "fish",  "while",  "rain", "fell",   "over",
                              "quiet",   "town", "where", "nobody", "ever", "hurried"};

/// Fortune-style text of n_fortunes pseudo-random sentences separated by '%' lines.
std::string fortuneText(uint64_t seed, int n_fortunes) {
  std::mt19937_64 rng(seed);
  std::string text;
  for (int f = 0; f < n_fortunes; ++f) {
    std::string sentence;
    for (int w = 0; w < 8; ++w) sentence += std::string(w ? " " : "") + kWords[rng() % 20];
    sentence[0] = static_cast<char>(std::toupper(sentence[0]));
    text += sentence + ".\n%\n";
  }
  return text;
}

TrainParams tinyParams(const std::string& corpus_dir) {
  TrainParams p = defaultTrainParams();
  p.n_layer = 2;
  p.n_head = 2;
  p.d_model = 32;
  p.d_ff = 64;
  p.n_ctx = 32;
  p.batch_size = 4;
  p.n_steps = 6;
  p.warmup_steps = 2;
  p.lr = 1e-2;
  p.needle_share = 0;  // a 32-byte context cannot hold a needle prompt
  p.checkpoint_every = 0;
  p.corpus.dir = corpus_dir;
  p.corpus.held_out = {"zippy"};
  return p;
}

torch::Tensor bytesTensor(const std::string& text, int64_t rows, int64_t cols) {
  auto t = torch::empty({rows, cols}, torch::kInt64);
  for (int64_t i = 0; i < rows * cols; ++i)
    t.view({-1})[i] = static_cast<unsigned char>(text[i % text.size()]);
  return t;
}

bool sameParameters(Model& a, Model& b) {
  auto pa = a.module().named_parameters(), pb = b.module().named_parameters();
  if (pa.size() != pb.size()) return false;
  for (const auto& item : pa)
    if (!torch::equal(item.value(), pb[item.key()])) return false;
  return true;
}

class TrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root = fs::temp_directory_path() / ("attnscope_train_" + std::to_string(::getpid()));
    fs::create_directories(root / "corpus");
    std::ofstream(root / "corpus" / "alpha") << fortuneText(1, 300);
    std::ofstream(root / "corpus" / "beta") << fortuneText(2, 300);
    std::ofstream(root / "corpus" / "zippy") << fortuneText(3, 200);
    std::ofstream(root / "corpus" / "alpha.dat") << "binary index, must be skipped";
  }
  static void TearDownTestSuite() { fs::remove_all(root); }
  static std::string corpusDir() { return (root / "corpus").string(); }
  static fs::path root;
};
fs::path TrainTest::root;

TEST_F(TrainTest, CorpusSplitsByFileAndDropsSeparators) {
  TextCorpus corpus = loadCorpus({corpusDir(), {"zippy"}});
  EXPECT_EQ(corpus.train_files, (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(corpus.held_out_files, (std::vector<std::string>{"zippy"}));
  EXPECT_EQ(corpus.train_text.find("%"), std::string::npos);
  EXPECT_EQ(corpus.train_text.find("binary index"), std::string::npos);
  EXPECT_THROW(loadCorpus({corpusDir(), {"missing"}}), std::runtime_error);
  EXPECT_THROW(loadCorpus({(root / "nope").string(), {}}), std::runtime_error);
}

TEST_F(TrainTest, FewStepsLowerTheLossOnAFixedBatch) {
  Trainer trainer(tinyParams(corpusDir()));
  auto tokens = bytesTensor(fortuneText(7, 10), 4, 33);
  const double before = trainer.loss(tokens);
  EXPECT_NEAR(before, std::log(256.0), 0.3);  // random init: close to uniform over bytes
  for (int i = 0; i < 15; ++i) trainer.trainStep(tokens);
  EXPECT_EQ(trainer.step(), 15);
  EXPECT_LT(trainer.loss(tokens), 0.7 * before);
}

TEST_F(TrainTest, SavedModelReloadsWithIdenticalLogits) {
  TrainParams p = tinyParams(corpusDir());
  p.normalizer = "ssmax";
  p.ssmax_bias = true;
  Trainer trainer(p);
  auto tokens = bytesTensor(fortuneText(8, 10), 2, 33);
  trainer.trainStep(tokens);
  const std::string dir = (root / "saved").string();
  saveModel(trainer.model(), dir);
  auto loaded = loadModel(dir);
  EXPECT_TRUE(loaded->config().ssmax_learned && loaded->config().ssmax_bias);
  EXPECT_EQ(loadTokenizer(dir)->kind(), "bytes");
  loaded->setNormalizer(parseNormalizer("ssmax"));
  torch::NoGradGuard no_grad;
  auto ids = tokens.narrow(1, 0, 32);
  EXPECT_TRUE(torch::equal(trainer.model().forward(ids, LogitPositions::all()),
                           loaded->forward(ids, LogitPositions::all())));

  // Continued training starts from exactly those weights, and records where they came from.
  TrainParams next = p;
  next.init_from = dir;
  next.seed = 2;  // other initial weights, were they not replaced
  Trainer continued(next);
  EXPECT_TRUE(torch::equal(continued.model().forward(ids, LogitPositions::all()),
                           loaded->forward(ids, LogitPositions::all())));
  EXPECT_NE(trainConfigJson(next).find("\"init_from_training\""), std::string::npos);
  TrainParams wider = next;
  wider.d_ff *= 2;
  EXPECT_THROW(Trainer{wider}, std::runtime_error);  // a tensor's shape disagrees: checked, nothing copied
}

TEST_F(TrainTest, OneSeedGivesIdenticalWeights) {
  TrainParams p = tinyParams(corpusDir());
  const std::string text = loadCorpus(p.corpus).train_text;
  auto run = [&](uint64_t seed) {
    p.seed = seed;
    auto trainer = std::make_unique<Trainer>(p);
    for (int i = 0; i < 3; ++i) {
      trainer->trainStep(trainer->nextBatch(text));
    }
    return trainer;
  };
  auto a = run(5), b = run(5), c = run(6);
  EXPECT_TRUE(sameParameters(a->model(), b->model()));
  EXPECT_FALSE(sameParameters(a->model(), c->model()));
}

TEST_F(TrainTest, GradientsFlowIntoSsmaxSAndB) {
  TrainParams p = tinyParams(corpusDir());
  p.normalizer = "ssmax";
  p.ssmax_bias = true;
  Trainer trainer(p);
  const auto s0 = trainer.model().ssmaxS(0).detach().clone();
  const auto b0 = trainer.model().ssmaxB(0).detach().clone();
  trainer.trainStep(bytesTensor(fortuneText(9, 10), 4, 33));
  for (int64_t l = 0; l < p.n_layer; ++l) {
    auto s = trainer.model().ssmaxS(l), b = trainer.model().ssmaxB(l);
    ASSERT_TRUE(s.grad().defined() && b.grad().defined());
    EXPECT_GT(s.grad().abs().sum().item<double>(), 0.0) << "layer " << l;
    EXPECT_GT(b.grad().abs().sum().item<double>(), 0.0) << "layer " << l;
  }
  EXPECT_FALSE(torch::equal(trainer.model().ssmaxS(0), s0));
  EXPECT_FALSE(torch::equal(trainer.model().ssmaxB(0), b0));
}

TEST_F(TrainTest, ResumeGivesTheWeightsOfAnUninterruptedRun) {
  const TrainParams p = tinyParams(corpusDir());
  const fs::path whole = root / "whole", split = root / "split";
  ASSERT_TRUE(trainModel(p, whole.string(), false).finished);

  TrainResult first =
      trainModel(p, split.string(), false, [](const TrainProgress& info) { return info.step < 3; });
  EXPECT_FALSE(first.finished);
  EXPECT_EQ(first.steps_done, 3);
  EXPECT_THROW(trainModel(p, split.string(), false),
               std::runtime_error);  // refuses to overwrite a checkpoint
  TrainParams other = p;
  other.lr = 5e-3;
  EXPECT_THROW(trainModel(other, split.string(), true), std::runtime_error);  // params differ
  TrainResult rest = trainModel(p, split.string(), true);
  EXPECT_TRUE(rest.finished);
  EXPECT_EQ(rest.steps_done, p.n_steps);
  EXPECT_FALSE(fs::exists(split / "checkpoint"));
  EXPECT_EQ(readFile(whole / "model.safetensors"), readFile(split / "model.safetensors"));
  EXPECT_EQ(readFile(whole / "config.json"), readFile(split / "config.json"));
}

TEST(TrainSchedule, WarmsUpLinearlyThenDecaysToTheFloor) {
  TrainParams p;
  p.lr = 1.0;
  p.warmup_steps = 10;
  p.n_steps = 110;
  p.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(learningRate(p, 0), 0.1);
  EXPECT_DOUBLE_EQ(learningRate(p, 9), 1.0);
  EXPECT_DOUBLE_EQ(learningRate(p, 10), 1.0);
  EXPECT_NEAR(learningRate(p, 60), 0.55, 1e-12);
  EXPECT_NEAR(learningRate(p, 110), 0.1, 1e-12);
}

TEST(NeedlePrompt, PlacesTheNeedleWhereItSays) {
  const std::string source = fortuneText(4, 200);
  const Needle needle{"Paris", "1234567"};
  const std::string question = needleQuestion(needle);
  for (double depth : {0.0, 0.3, 0.5, 1.0}) {
    NeedlePrompt p = buildNeedlePrompt(source, 17, 400, depth, needle);
    ASSERT_EQ(p.text.size(), 400u);
    EXPECT_EQ(p.text.substr(p.needle_begin, p.needle_end - p.needle_begin), needleSentence(needle));
    EXPECT_EQ(p.text.substr(p.digits_begin, 7), "1234567");
    EXPECT_EQ(p.answer, "1234567");
    EXPECT_EQ(p.text.substr(p.text.size() - question.size()), question);
    EXPECT_TRUE(p.needle_begin == 0 || std::isspace(static_cast<unsigned char>(p.text[p.needle_begin - 1])));
    const int64_t n_hay = 400 - static_cast<int64_t>(needleSentence(needle).size() + 1 + question.size());
    EXPECT_LE(p.needle_begin, std::llround(depth * n_hay));
    EXPECT_GT(p.needle_begin, std::llround(depth * n_hay) - 12) << "moved back more than a word";
  }
  const int64_t end =
      buildNeedlePrompt(source, 0, 400, 1.0, needle).needle_end + 1;  // + 1: the space after it
  EXPECT_LE(end, 400 - static_cast<int64_t>(question.size()));
  EXPECT_GT(end, 400 - static_cast<int64_t>(question.size()) - 12);
  EXPECT_THROW(buildNeedlePrompt(source, 0, 50, 0.5, needle), std::invalid_argument);
  EXPECT_GE(minNeedlePromptBytes(), 100);
}

TEST(NeedlePrompt, TrainingSamplesEndWithTheAnswer) {
  const std::string source = fortuneText(5, 200);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20; ++i) {
    TrainSample s = drawTrainSample(source, 257, 1.0, rng);
    ASSERT_EQ(s.bytes.size(), 257u);
    ASSERT_EQ(s.answer_end, 256);
    const std::string digits = s.bytes.substr(s.answer_begin, 7);
    EXPECT_NE(s.bytes.find("number is: " + digits + ". "), std::string::npos) << s.bytes;
    EXPECT_EQ(s.bytes.back(), '.');
  }
  TrainSample plain = drawTrainSample(source, 100, 0.0, rng);
  EXPECT_EQ(plain.answer_begin, -1);
  EXPECT_EQ(plain.bytes.size(), 100u);
}

TEST_F(TrainTest, EvaluationOfATinyModelIsSane) {
  TrainParams p = tinyParams(corpusDir());
  const std::string dir = (root / "evaluated").string();
  ASSERT_TRUE(trainModel(p, dir, false).finished);
  EXPECT_EQ(lossBucketEdges(256, 4096), (std::vector<int64_t>{0, 32, 64, 128, 256, 512, 1024, 2048, 4096}));

  EvalParams e;
  e.lengths = {minNeedlePromptBytes(), 256};
  e.depths = {0.0, 1.0};
  e.n_needle_prompts = 2;
  e.n_loss_sequences = 2;
  e.corpus = p.corpus;
  for (const char* spec : {"softmax", "ssmax:ctx=32"}) {
    e.normalizer = spec;
    e.rope_theta_scale = std::string(spec) == "softmax" ? 1.0 : 50.0;
    EvalResult r = evaluateModel(dir, e);
    EXPECT_EQ(r.rope_theta, 10000.0 * e.rope_theta_scale);
    ASSERT_EQ(r.loss.size(), lossBucketEdges(32, 256).size() - 1);
    EXPECT_EQ(r.loss.back().pos_end, 256);
    for (const LossBucket& b : r.loss) EXPECT_TRUE(std::isfinite(b.loss) && b.loss > 0 && b.loss < 10);
    ASSERT_EQ(r.needle.size(), 4u);
    for (const NeedleResult& n : r.needle) {
      EXPECT_TRUE(n.accuracy >= 0 && n.accuracy <= 1);
      EXPECT_TRUE(n.digit_accuracy >= 0 && n.digit_accuracy <= 1);
    }
    ASSERT_EQ(r.heads.size(), 4u * p.n_layer * p.n_head);
    for (const NeedleHeadScore& h : r.heads) EXPECT_TRUE(h.needle_mass > 0 && h.needle_mass <= 1 + 1e-6);

    const fs::path csv = root / "eval.csv";
    writeEvalCsv(r, csv.string());
    std::istringstream lines(readFile(csv));
    std::string header, line;
    std::getline(lines, header);
    EXPECT_EQ(header, "metric,normalizer,rope_theta,length,depth,layer,head,pos_begin,pos_end,value,count");
    std::size_t n_rows = 0;
    while (std::getline(lines, line)) ++n_rows;
    EXPECT_EQ(n_rows, r.loss.size() + 2 * r.needle.size() + r.heads.size());
  }
  e.lengths = {50};
  EXPECT_THROW(evaluateModel(dir, e), std::invalid_argument);
}

}  // namespace
}  // namespace attnscope
