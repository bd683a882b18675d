// Model ids resolved in a fake Hugging Face hub cache laid out as the hub lays it out: refs/<name> holds a
// commit hash, snapshots/<hash>/ holds symlinks into blobs/, and the blobs are the bundled sample checkpoint.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "attnscope/config.h"
#include "attnscope/hf_cache.h"
#include "attnscope/model.h"
#include "attnscope/safetensors.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

const std::string kMain = "0123456789abcdef0123456789abcdef01234567";
const std::string kTagged = "fedcba9876543210fedcba9876543210fedcba98";

fs::path sampleDir() {
  const char* source = std::getenv("ATTNSCOPE_SOURCE_DIR");
  return fs::path(source ? source : ".") / "samples" / "tiny-llama-random";
}

/// Runs `action` and returns its exception's message, checking that it is one line.
std::string errorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
  ADD_FAILURE() << "no exception";
  return {};
}

/// Sets an environment variable for one scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : m_name(name) {
    if (const char* old = std::getenv(name)) m_old = old, m_had = true;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { m_had ? ::setenv(m_name, m_old.c_str(), 1) : ::unsetenv(m_name); }

 private:
  const char* m_name;
  std::string m_old;
  bool m_had = false;
};

class HfCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() / ("attnscope_hf_cache_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    cache = root / "hub";
    repo = addRepo(cache, "models--Org--Tiny");
    addSnapshot(repo, kMain);
    writeRef(repo, "main", kMain);
  }
  void TearDown() override { fs::remove_all(root); }

  /// A repository whose blobs are the sample checkpoint's config.json and model.safetensors.
  static fs::path addRepo(const fs::path& cache_dir, const std::string& folder) {
    const fs::path dir = cache_dir / folder;
    fs::create_directories(dir / "blobs");
    fs::create_directories(dir / "refs");
    fs::create_directories(dir / "snapshots");
    fs::copy_file(sampleDir() / "config.json", dir / "blobs" / "c0nf16");
    fs::copy_file(sampleDir() / "model.safetensors", dir / "blobs" / "5afe7e");
    return dir;
  }
  /// snapshots/<hash>/ with config.json and model.safetensors linked into blobs/, as the hub links them.
  static fs::path addSnapshot(const fs::path& repo_dir, const std::string& hash) {
    const fs::path snapshot = repo_dir / "snapshots" / hash;
    fs::create_directories(snapshot);
    fs::create_symlink("../../blobs/c0nf16", snapshot / "config.json");
    fs::create_symlink("../../blobs/5afe7e", snapshot / "model.safetensors");
    return snapshot;
  }
  static void writeRef(const fs::path& repo_dir, const std::string& name, const std::string& hash) {
    fs::create_directories((repo_dir / "refs" / name).parent_path());
    std::ofstream(repo_dir / "refs" / name) << hash;  // the hub writes no newline
  }
  std::vector<std::string> caches() const { return {cache.string()}; }

  fs::path root, cache, repo;
};

TEST(ModelId, AcceptsOrgNameAndRefusesPathsAndHubSeparators) {
  EXPECT_TRUE(isModelId("Qwen/Qwen3-0.6B"));
  EXPECT_TRUE(isModelId("EleutherAI/pythia-70m"));
  EXPECT_TRUE(isModelId("gpt2"));
  EXPECT_TRUE(isModelId("allenai/OLMo-2-0425-1B"));
  for (const char* text : {"", "/", "a/", "/a", "a/b/c", "../a", "a/..", "a/../b", "a--b/c", "a/b--c", ".a/b",
                           "a/b-", "-a/b", "a b/c", "a/b\n", "samples/tiny llama", "./a"})
    EXPECT_FALSE(isModelId(text)) << text;
  EXPECT_FALSE(isModelId("org/" + std::string(97, 'x')));
}

TEST_F(HfCacheTest, ResolvesAnIdAtMainAndLoadsThroughTheBlobSymlinks) {
  const std::string dir = resolveModelPath("Org/Tiny", "", caches());
  EXPECT_EQ(dir, (repo / "snapshots" / kMain).string());
  EXPECT_TRUE(fs::is_symlink(fs::path(dir) / "model.safetensors"));
  const ModelConfig config = loadConfig(dir), sample = loadConfig(sampleDir().string());
  EXPECT_EQ(config.model_type, sample.model_type);
  EXPECT_EQ(config.n_layer, sample.n_layer);
  const Checkpoint checkpoint = Checkpoint::open(dir);
  EXPECT_EQ(checkpoint.tensorBytes(), Checkpoint::open(sampleDir().string()).tensorBytes());
  const auto model = loadModel(dir);
  EXPECT_EQ(model->parameterCount(), loadModel(sampleDir().string())->parameterCount());
}

TEST_F(HfCacheTest, ResolvesBranchesTagsAndCommitHashes) {
  const fs::path tagged = addSnapshot(repo, kTagged);
  writeRef(repo, "v1.0", kTagged);
  writeRef(repo, "pr/1", kTagged);
  EXPECT_EQ(resolveModelPath("Org/Tiny", "v1.0", caches()), tagged.string());
  EXPECT_EQ(resolveModelPath("Org/Tiny", "pr/1", caches()), tagged.string());
  EXPECT_EQ(resolveModelPath("Org/Tiny", kTagged, caches()), tagged.string());  // directly in snapshots/
  EXPECT_EQ(resolveModelPath("Org/Tiny", "main", caches()), (repo / "snapshots" / kMain).string());
  EXPECT_EQ(loadConfig(tagged.string()).n_layer, loadConfig(sampleDir().string()).n_layer);
}

TEST_F(HfCacheTest, MissingIdNamesTheDirectoriesSearched) {
  const fs::path other = root / "other-hub";
  fs::create_directories(other);
  EXPECT_EQ(errorOf([&] {
              resolveModelPath("Org/Missing", "", {other.string(), cache.string()});
            }),
            "'Org/Missing' is neither a directory nor a model in the Hugging Face cache (searched '" +
                (other / "models--Org--Missing").string() + "', '" +
                (cache / "models--Org--Missing").string() +
                "'; set HF_HUB_CACHE or HF_HOME to another cache)");
  EXPECT_NE(errorOf([&] { resolveModelPath("Org/Missing", "", {}); }).find("no cache to search"),
            std::string::npos);
  // The first cache that holds the repository is used.
  EXPECT_EQ(resolveModelPath("Org/Tiny", "", {other.string(), cache.string()}),
            (repo / "snapshots" / kMain).string());
}

TEST_F(HfCacheTest, MissingRevisionListsTheRevisionsThere) {
  writeRef(repo, "v1.0", kTagged);
  EXPECT_EQ(
      errorOf([&] { resolveModelPath("Org/Tiny", "v2", caches()); }),
      "Org/Tiny has no revision 'v2' in '" + repo.string() + "' (refs: main, v1.0; snapshots: 0123456789ab)");
  // A ref whose snapshot was never downloaded, and a hash with no snapshot.
  EXPECT_EQ(errorOf([&] { resolveModelPath("Org/Tiny", "v1.0", caches()); }),
            "Org/Tiny at revision 'v1.0': '" + (repo / "snapshots" / kTagged).string() +
                "' does not exist (refs: main, v1.0; snapshots: 0123456789ab)");
  EXPECT_NE(errorOf([&] { resolveModelPath("Org/Tiny", kTagged, caches()); }).find("does not exist"),
            std::string::npos);
  // No refs/main: --revision is needed, and the message shows what there is.
  fs::remove(repo / "refs" / "main");
  EXPECT_EQ(
      errorOf([&] { resolveModelPath("Org/Tiny", "", caches()); }),
      "Org/Tiny has no revision 'main' in '" + repo.string() + "' (refs: v1.0; snapshots: 0123456789ab)");
  EXPECT_EQ(resolveModelPath("Org/Tiny", kMain, caches()), (repo / "snapshots" / kMain).string());
}

TEST_F(HfCacheTest, RevisionsCannotClimbOutOfRefs) {
  for (const char* revision : {"../../etc", "/etc/passwd", "a//b", "v1 ", "main/"})
    EXPECT_NE(errorOf([&] { resolveModelPath("Org/Tiny", revision, caches()); }).find("is not a branch, tag"),
              std::string::npos)
        << revision;
  writeRef(repo, "bad", "../../../../etc");
  EXPECT_EQ(errorOf([&] { resolveModelPath("Org/Tiny", "bad", caches()); }),
            (repo / "refs" / "bad").string() + ": does not hold a commit hash (40 hex digits)");
}

TEST_F(HfCacheTest, BrokenSymlinkIsNamed) {
  const fs::path snapshot = repo / "snapshots" / kMain;
  fs::remove(repo / "blobs" / "5afe7e");
  const std::string weights = (snapshot / "model.safetensors").string();
  EXPECT_EQ(errorOf([&] { Checkpoint::open(snapshot.string()); }),
            weights +
                ": is a symbolic link to '../../blobs/5afe7e', which does not resolve (No such file or "
                "directory)");
  fs::remove(repo / "blobs" / "c0nf16");
  EXPECT_EQ(errorOf([&] { loadConfig(snapshot.string()); }),
            (snapshot / "config.json").string() +
                ": is a symbolic link to '../../blobs/c0nf16', which does not resolve (No such file or "
                "directory)");
}

TEST_F(HfCacheTest, SymlinksLeavingTheRepositoryAreRefused) {
  // Into another repository's blobs: still outside this one.
  const fs::path other = addRepo(cache, "models--Org--Other");
  const fs::path snapshot = repo / "snapshots" / kMain;
  fs::remove(snapshot / "model.safetensors");
  fs::create_symlink("../../../models--Org--Other/blobs/5afe7e", snapshot / "model.safetensors");
  EXPECT_EQ(errorOf([&] { Checkpoint::open(snapshot.string()); }),
            (snapshot / "model.safetensors").string() + ": resolves to '" +
                fs::canonical(other / "blobs" / "5afe7e").string() + "', outside the model directory '" +
                fs::canonical(snapshot).string() + "' and its cache repository's '" +
                fs::canonical(repo).string() + "/blobs'");
  // config.json out of the cache altogether.
  fs::copy_file(sampleDir() / "config.json", root / "config.json");
  fs::remove(snapshot / "config.json");
  fs::create_symlink(root / "config.json", snapshot / "config.json");
  EXPECT_NE(errorOf([&] { loadConfig(snapshot.string()); }).find("outside the model directory"),
            std::string::npos);
  // A snapshot directory that is itself a link out of the repository.
  fs::create_directories(root / "elsewhere");
  fs::create_directory_symlink(root / "elsewhere", repo / "snapshots" / kTagged);
  EXPECT_EQ(errorOf([&] { resolveModelPath("Org/Tiny", kTagged, caches()); }),
            (repo / "snapshots" / kTagged).string() + ": resolves to '" +
                fs::canonical(root / "elsewhere").string() + "', outside '" +
                fs::canonical(repo / "snapshots").string() + "'");
}

TEST_F(HfCacheTest, AnExistingPathWinsOverAnId) {
  const fs::path local = root / "cwd" / "Org" / "Tiny";
  fs::create_directories(local);
  const fs::path before = fs::current_path();
  fs::current_path(root / "cwd");
  EXPECT_EQ(resolveModelPath("Org/Tiny", "", caches()), "Org/Tiny");
  EXPECT_NE(errorOf([&] { resolveModelPath("Org/Tiny", "main", caches()); }).find("is a path that exists"),
            std::string::npos);
  fs::current_path(before);
  // Not shaped like an id: returned as given, for the loaders to report.
  EXPECT_EQ(resolveModelPath("/no/such/dir", "", caches()), "/no/such/dir");
}

TEST(HfCacheDirs, FollowsTheHubsEnvironmentVariables) {
  ScopedEnv hub("HF_HUB_CACHE", "/h/hub"), home("HF_HOME", "/h/home"), xdg("XDG_CACHE_HOME", nullptr),
      user("HOME", "/home/u");
  EXPECT_EQ(hfCacheDirs(),
            (std::vector<std::string>{"/h/hub", "/h/home/hub", "/home/u/.cache/huggingface/hub"}));
  ScopedEnv xdg_set("XDG_CACHE_HOME", "/x"), hub_empty("HF_HUB_CACHE", ""),
      home_same("HF_HOME", "/x/huggingface");
  EXPECT_EQ(hfCacheDirs(), (std::vector<std::string>{"/x/huggingface/hub"}));
}

TEST_F(HfCacheTest, ListsCachedModelsForAChooser) {
  // A repository without refs/main offers its snapshots; one without config.json and stray folders are
  // skipped.
  const fs::path detached = addRepo(cache, "models--gpt2");
  addSnapshot(detached, kTagged);
  fs::create_directories(cache / "models--Org--Empty" / "snapshots" / kMain);
  writeRef(cache / "models--Org--Empty", "main", kMain);
  fs::create_directories(cache / "datasets--Org--Data");
  fs::create_directories(cache / "models--a--b--c");
  const fs::path second = root / "second";
  addSnapshot(addRepo(second, "models--Org--Tiny"), kTagged);  // shadowed by the first cache's Org/Tiny
  const std::vector<CachedModel> models = listCachedModels({cache.string(), second.string()});
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].id, "Org/Tiny");
  EXPECT_EQ(models[0].revision, "main");
  EXPECT_EQ(models[0].directory, (repo / "snapshots" / kMain).string());
  EXPECT_EQ(models[1].id, "gpt2");
  EXPECT_EQ(models[1].revision, kTagged);
  EXPECT_EQ(models[1].directory, resolveModelPath("gpt2", kTagged, caches()));
}

}  // namespace
}  // namespace attnscope
