// The vocabulary: the statistic catalogue, the hook-name table, the normalizer spec grammar and the capture
// syntax (map specs, target ranges). Links attnscope::vocabulary alone: no torch, no HDF5, no Qt.

#include <cmath>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "attnscope/capture_syntax.h"
#include "attnscope/hook_names.h"
#include "attnscope/normalizer_spec.h"
#include "attnscope/statistics.h"

namespace attnscope {
namespace {

TEST(Statistics, CatalogueListsWhatACaptureWritesInOrder) {
  // The dataset names are the file format (README, "Capture files"): spelled out here on purpose.
  const std::vector<std::string> head_types = {"prev_token_mass", "induction_mass", "local_mass",
                                               "mean_distance"};
  std::vector<std::string> without = {"max_prob", "argmax", "entropy", "sink_mass", "topk_mass"};
  without.insert(without.end(), head_types.begin(), head_types.end());
  without.insert(without.end(), {"multiplier", "n_keys"});
  EXPECT_EQ(capturedStatistics(false), without);
  std::vector<std::string> with = without;
  with.insert(with.begin() + 5, "target_mass");
  EXPECT_EQ(capturedStatistics(true), with);
  std::vector<std::string> viewed = {"max_prob", "entropy", "target_mass", "sink_mass"};
  viewed.insert(viewed.end(), head_types.begin(), head_types.end());
  EXPECT_EQ(viewedStatistics(), viewed);
  for (const StatisticInfo& info : statisticCatalogue()) {
    EXPECT_EQ(findStatistic(info.name), &info);
    EXPECT_FALSE(info.title.empty());
    EXPECT_FALSE(info.label.empty());
    EXPECT_EQ(info.needs_targets, info.name == "target_mass");
  }
  EXPECT_TRUE(isProbabilityStatistic("max_prob"));
  EXPECT_TRUE(isProbabilityStatistic("target_mass"));
  EXPECT_FALSE(isProbabilityStatistic("entropy"));
  EXPECT_TRUE(isProbabilityStatistic("induction_mass"));
  EXPECT_FALSE(isProbabilityStatistic("mean_distance"));
  EXPECT_FALSE(isProbabilityStatistic("no_such_stat"));
  EXPECT_EQ(findStatistic("no_such_stat"), nullptr);
  EXPECT_EQ(statisticLabel("entropy"), "attention entropy (nats)");
  EXPECT_EQ(statisticLabel("foreign"), "foreign");
  EXPECT_FALSE(findStatistic("argmax")->per_context);
  EXPECT_FALSE(findStatistic("n_keys")->per_context);
  EXPECT_TRUE(findStatistic("multiplier")->per_context);
}

TEST(HookNames, FormatAndParseEveryBlockHook) {
  EXPECT_EQ(formatHookName(3, BlockHook::Pattern), "blocks.3.attn.hook_pattern");
  EXPECT_EQ(formatHookName(0, BlockHook::Scores), "blocks.0.attn.hook_scores");
  EXPECT_EQ(formatHookName(12, BlockHook::ResidPost), "blocks.12.hook_resid_post");
  EXPECT_EQ(hookPatternAllLayers(BlockHook::Logits), "blocks.*.attn.hook_logits");
  EXPECT_EQ(kFinalNormHook, "ln_final.hook_normalized");
  EXPECT_EQ(kUnembedHook, "unembed.hook_logits");
  for (BlockHook hook :
       {BlockHook::ResidPre, BlockHook::Q, BlockHook::K, BlockHook::V, BlockHook::Scores,
        BlockHook::Multiplier, BlockHook::Logits, BlockHook::Pattern, BlockHook::Z, BlockHook::ResidPost}) {
    const auto parsed = parseHookName(formatHookName(41, hook));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->layer, 41);
    EXPECT_EQ(parsed->hook, hook);
  }
}

TEST(HookNames, RefusesForeignNames) {
  for (const char* name : {"", "blocks.", "blocks.x.attn.hook_pattern", "blocks.3.attn.hook_patterns",
                           "blocks.3.attn.hook_pattern.", "blocks.-1.attn.hook_pattern", "blocks.3",
                           "ln_final.hook_normalized", "xblocks.3.attn.hook_scores", "blocks.+3.attn.hook_q"})
    EXPECT_FALSE(parseHookName(name).has_value()) << name;
  EXPECT_EQ(hookLayer("blocks.7.something.else"), 7);
  EXPECT_EQ(hookLayer("blocks.-2.attn.hook_pattern"), -2);  // the reader refuses it as outside the run
  EXPECT_FALSE(hookLayer("blocks.x.attn.hook_pattern").has_value());
  EXPECT_FALSE(hookLayer("unembed.hook_logits").has_value());
  EXPECT_TRUE(isScoresHook("blocks.1.attn.hook_scores"));
  EXPECT_FALSE(isScoresHook("blocks.1.attn.hook_pattern"));
  EXPECT_FALSE(isScoresHook("other.hook_scores"));
}

TEST(NormalizerGrammar, PrintsCanonicallyAndAsTheUserWroteIt) {
  EXPECT_EQ(NormalizerSpec().text(), "softmax");
  EXPECT_EQ(learnedSsmaxSpec().text(), "ssmax");
  EXPECT_EQ(ssmaxSpec(0.43).text(), "ssmax:s=0.43");
  EXPECT_EQ(lognSpec(1024).text(), "logn:L=1024");
  EXPECT_EQ(temperatureSpec(8192, 0.1).text(), "temperature:floor=8192,scale=0.1");
  const NormalizerSpec ctx = parseNormalizer("ssmax:ctx=256");
  EXPECT_DOUBLE_EQ(ctx.ssmax_ctx, 256);
  EXPECT_NEAR(ctx.s.at(0), 1.0 / std::log(256.0), 1e-15);
  EXPECT_EQ(ctx.userText(), "ssmax:ctx=256");
  EXPECT_EQ(ctx.text().rfind("ssmax:s=0.18033688", 0), 0u);  // files store s itself
  EXPECT_EQ(ssmaxContextSpec(1024).userText(), "ssmax:ctx=1024");
  EXPECT_EQ(parseNormalizer("ssmax:ctx=256,b=0.1").userText(), "ssmax:ctx=256,b=0.1");
  EXPECT_EQ(parseNormalizer("ssmax:ctx=256,s=0.5").userText(), "ssmax:s=0.5");  // the later s wins
  EXPECT_EQ(parseNormalizer("ssmax:s=0.2/0.3").userText(), "ssmax:s=0.2/0.3");
  for (NormalizerKind kind :
       {NormalizerKind::Softmax, NormalizerKind::Ssmax, NormalizerKind::Logn, NormalizerKind::Temperature})
    EXPECT_NE(normalizerSyntax().find(normalizerKeyword(kind)), std::string::npos);
  EXPECT_EQ(
      normalizerSyntax(),
      "softmax | ssmax (learned) | ssmax:s=S[,b=B] | ssmax:ctx=N | logn:L=N | temperature:floor=F,scale=S");
}

TEST(NormalizerGrammar, ListsAndReasons) {
  const auto message = [](const std::string& spec) {
    try {
      parseNormalizer(spec);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("sparsemax"), "normalizer: unknown kind 'sparsemax' (softmax, ssmax, logn, temperature)");
  EXPECT_EQ(message("ssmax:"), "normalizer: 'ssmax:' has an empty parameter list");
  EXPECT_EQ(message("ssmax:s=0.1/"), "normalizer: 's=0.1/' is not a number or a '/'-separated list");
  EXPECT_EQ(message("ssmax:,s=1"), "normalizer: parameter '' is not key=value");
  EXPECT_EQ(message("ssmax:s=1,,b=2"), "normalizer: parameter '' is not key=value");
  EXPECT_EQ(message("ssmax:s=1,"), "no error");  // a trailing comma is allowed, as it always was
  EXPECT_EQ(message("ssmax:b=1"), "normalizer: ssmax b= needs s= (or use learned parameters: plain 'ssmax')");
  EXPECT_EQ(message("logn"), "normalizer: logn needs L > 1, e.g. logn:L=2048");
  EXPECT_EQ(message("softmax:s=1"), "normalizer: 'softmax' has no parameter 's'");
}

TEST(CaptureSyntax, MapSpecs) {
  const auto maps = parseMapSpec("3.1,3.*,scores:0.2", 4, 4);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[0].hook, "blocks.0.attn.hook_scores");
  EXPECT_EQ(maps[0].heads, (std::vector<int64_t>{2}));
  EXPECT_EQ(maps[1].hook, "blocks.3.attn.hook_pattern");
  EXPECT_EQ(maps[1].layer, 3);
  EXPECT_EQ(maps[1].heads, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(parseMapSpec("all", 2, 3).size(), 2u);
  EXPECT_EQ(parseMapSpec("scores:all", 2, 3).front().hook, "blocks.0.attn.hook_scores");
  EXPECT_TRUE(parseMapSpec("none", 2, 3).empty());
  EXPECT_TRUE(parseMapSpec("", 2, 3).empty());
  EXPECT_THROW(parseMapSpec("3.5,", 4, 8), std::invalid_argument);  // an empty item
  EXPECT_THROW(parseMapSpec("0.x", 4, 8), std::invalid_argument);
  try {
    parseMapSpec("4.0", 4, 4);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    // The syntax names the spec, not a front end's flag: runCapture adds the request field ("maps"), the CLI
    // its flag ("--maps"), the window its field label.
    EXPECT_STREQ(e.what(), "'4.0': layer '4' is not in 0..3");
  }
}

TEST(CaptureSyntax, TargetRanges) {
  EXPECT_EQ(parseTargetRanges("3:5,9", 10), (std::vector<std::pair<int64_t, int64_t>>{{3, 5}, {9, 10}}));
  EXPECT_EQ(parseTargetRanges("3:5,", 10), (std::vector<std::pair<int64_t, int64_t>>{{3, 5}}));
  EXPECT_TRUE(parseTargetRanges("", 10).empty());
  EXPECT_THROW(parseTargetRanges("5:3", 10), std::invalid_argument);
  EXPECT_THROW(parseTargetRanges("8:11", 10), std::invalid_argument);
  EXPECT_THROW(parseTargetRanges("1:2,,3", 10), std::invalid_argument);
  EXPECT_THROW(parseTargetRanges("a:2", 10), std::invalid_argument);
}

}  // namespace
}  // namespace attnscope
