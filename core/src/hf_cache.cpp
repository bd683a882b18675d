// Resolving model ids in the local Hugging Face hub cache, listing the cached models, and the containment
// rule for files of a model directory. Every name read from the cache (refs, directory names) is checked
// before it becomes part of a path, so a crafted cache cannot lead outside its repository.

#include "attnscope/hf_cache.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include "attnscope/untrusted_text.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxIdPart = 96;
constexpr std::size_t kMaxRevision = 255;
constexpr std::size_t kListedRevisions = 8;

bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

bool isIdPart(const std::string& part) {
  if (part.empty() || part.size() > kMaxIdPart) return false;
  if (!std::all_of(part.begin(), part.end(), isIdChar)) return false;
  if (part.find("--") != std::string::npos || part.find("..") != std::string::npos) return false;
  const auto edge = [](char c) { return c == '.' || c == '-'; };
  return !edge(part.front()) && !edge(part.back());
}

bool isCommitHash(const std::string& text) {
  return text.size() == 40 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

/// A branch or tag as stored under refs/ (may hold '/', as in pr/1); never climbs out of refs/.
bool isRevisionName(const std::string& text) {
  if (text.empty() || text.size() > kMaxRevision || text.front() == '/' || text.back() == '/') return false;
  if (text.find("..") != std::string::npos || text.find("//") != std::string::npos) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return isIdChar(c) || c == '/'; });
}

/// True when `path` is `dir` or lies below it (both canonical).
bool isWithin(const fs::path& path, const fs::path& dir) {
  return std::mismatch(dir.begin(), dir.end(), path.begin(), path.end()).first == dir.end();
}

std::string shown(const fs::path& path) {
  return quoteForMessage(path.string(), std::string::npos);
}

std::string repoFolder(const std::string& id) {
  std::string folder = "models--" + id;
  const std::size_t slash = folder.find('/');
  if (slash != std::string::npos) folder.replace(slash, 1, "--");
  return folder;
}

/// "refs: main, v1; snapshots: 0123456789ab…" for an error message (names from the cache escaped).
std::string describeRevisions(const fs::path& repo) {
  std::error_code ec;
  std::vector<std::string> refs, snapshots;
  for (fs::recursive_directory_iterator it(repo / "refs", ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) refs.push_back(fs::relative(it->path(), repo / "refs", ec).string());
  ec.clear();
  for (fs::directory_iterator it(repo / "snapshots", ec), end; !ec && it != end; it.increment(ec))
    snapshots.push_back(it->path().filename().string().substr(0, 12));
  const auto list = [](std::vector<std::string> names) {
    if (names.empty()) return std::string("none");
    std::sort(names.begin(), names.end());
    std::string text;
    for (std::size_t i = 0; i < names.size() && i < kListedRevisions; ++i)
      text += (i ? ", " : "") + escapeForMessage(names[i], 64);
    if (names.size() > kListedRevisions) text += ", ...";
    return text;
  };
  return "refs: " + list(refs) + "; snapshots: " + list(snapshots);
}

/// Reads the commit hash that refs/<name> holds.
std::string readRef(const fs::path& ref) {
  std::ifstream in(ref, std::ios::binary);
  std::string text(64, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (!isCommitHash(text))
    throw ModelPathError(ref.string() + ": does not hold a commit hash (40 hex digits)");
  return text;
}

/// The snapshot directory of `revision` (empty: main) in a cache repository.
fs::path snapshotOf(const fs::path& repo, const std::string& id, const std::string& revision) {
  const std::string rev = revision.empty() ? "main" : revision;
  if (!isRevisionName(rev))
    throw ModelPathError("revision " + quoteForMessage(rev) + " is not a branch, tag or commit hash");
  std::error_code ec;
  const fs::path ref = repo / "refs" / rev;
  std::string hash;
  if (fs::is_regular_file(ref, ec)) {
    hash = readRef(ref);
  } else if (isCommitHash(rev)) {
    hash = rev;
  } else {
    throw ModelPathError(id + " has no revision " + quoteForMessage(rev) + " in " + shown(repo) + " (" +
                         describeRevisions(repo) + ")");
  }
  const fs::path snapshot = repo / "snapshots" / hash;
  if (!fs::is_directory(snapshot, ec))
    throw ModelPathError(id + " at revision " + quoteForMessage(rev) + ": " + shown(snapshot) +
                         " does not exist (" + describeRevisions(repo) + ")");
  std::error_code snapshot_ec, snapshots_ec;
  const fs::path real_snapshot = fs::canonical(snapshot, snapshot_ec);
  const fs::path real_snapshots = fs::canonical(repo / "snapshots", snapshots_ec);
  if (snapshot_ec || snapshots_ec || real_snapshot == real_snapshots ||
      !isWithin(real_snapshot, real_snapshots))
    throw ModelPathError(snapshot.string() + ": resolves to " + shown(real_snapshot) + ", outside " +
                         shown(real_snapshots));
  return snapshot;
}

void addUnique(std::vector<std::string>& dirs, const fs::path& dir) {
  const std::string text = dir.lexically_normal().string();
  if (std::find(dirs.begin(), dirs.end(), text) == dirs.end()) dirs.push_back(text);
}

const char* nonEmptyEnv(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

}  // namespace

std::vector<std::string> hfCacheDirs() {
  std::vector<std::string> dirs;
  if (const char* hub = nonEmptyEnv("HF_HUB_CACHE")) addUnique(dirs, hub);
  if (const char* home = nonEmptyEnv("HF_HOME")) addUnique(dirs, fs::path(home) / "hub");
  // huggingface_hub's default HF_HOME is $XDG_CACHE_HOME/huggingface, with ~/.cache for XDG_CACHE_HOME.
  if (const char* xdg = nonEmptyEnv("XDG_CACHE_HOME"))
    addUnique(dirs, fs::path(xdg) / "huggingface" / "hub");
  else if (const char* user = nonEmptyEnv("HOME"))
    addUnique(dirs, fs::path(user) / ".cache" / "huggingface" / "hub");
  return dirs;
}

bool isModelId(const std::string& text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) return isIdPart(text);
  return isIdPart(text.substr(0, slash)) && isIdPart(text.substr(slash + 1));
}

std::string resolveModelPath(const std::string& path_or_id, const std::string& revision,
                             const std::vector<std::string>& cache_dirs) {
  std::error_code ec;
  if (!path_or_id.empty() && fs::exists(fs::symlink_status(path_or_id, ec))) {
    if (!revision.empty())
      throw ModelPathError("revision " + quoteForMessage(revision) + " applies to a model id, but " +
                           shown(path_or_id) + " is a path that exists");
    return path_or_id;
  }
  if (!isModelId(path_or_id)) return path_or_id;
  const std::string folder = repoFolder(path_or_id);
  std::string searched;
  for (const std::string& dir : cache_dirs) {
    const fs::path repo = fs::path(dir) / folder;
    if (fs::is_directory(repo, ec)) return snapshotOf(repo, path_or_id, revision).string();
    searched += (searched.empty() ? "" : ", ") + shown(repo);
  }
  if (searched.empty())
    throw ModelPathError(
        shown(path_or_id) +
        " is neither a directory nor a cached model: no cache to search (HF_HUB_CACHE, HF_HOME "
        "and HOME are unset)");
  throw ModelPathError(shown(path_or_id) +
                       " is neither a directory nor a model in the Hugging Face cache (searched " + searched +
                       "; set HF_HUB_CACHE or HF_HOME to another cache)");
}

std::string resolveModelPath(const std::string& path_or_id, const std::string& revision) {
  return resolveModelPath(path_or_id, revision, hfCacheDirs());
}

std::vector<CachedModel> listCachedModels(const std::vector<std::string>& cache_dirs) {
  std::vector<CachedModel> models;
  std::set<std::string> seen;
  for (const std::string& dir : cache_dirs) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string folder = it->path().filename().string();
      if (folder.rfind("models--", 0) != 0) continue;
      std::string id = folder.substr(8);
      if (const std::size_t sep = id.find("--"); sep != std::string::npos) id.replace(sep, 2, "/");
      if (!isModelId(id) || repoFolder(id) != folder || !seen.insert(id).second) continue;
      const auto hasConfig = [](const fs::path& snapshot) {
        std::error_code error;
        return fs::is_regular_file(snapshot / "config.json", error);
      };
      try {
        const fs::path snapshot = snapshotOf(it->path(), id, "");
        if (hasConfig(snapshot)) models.push_back({id, "main", snapshot.string()});
        continue;
      } catch (const ModelPathError&) {
        // No usable refs/main: offer each snapshot by its commit hash.
      }
      std::error_code snap_ec;
      for (fs::directory_iterator snap(it->path() / "snapshots", snap_ec), snap_end;
           !snap_ec && snap != snap_end; snap.increment(snap_ec)) {
        const std::string hash = snap->path().filename().string();
        if (!isCommitHash(hash)) continue;
        try {
          const fs::path snapshot = snapshotOf(it->path(), id, hash);
          if (hasConfig(snapshot)) models.push_back({id, hash, snapshot.string()});
        } catch (const ModelPathError&) {
        }
      }
    }
  }
  std::sort(models.begin(), models.end(), [](const CachedModel& a, const CachedModel& b) {
    return std::tie(a.id, a.revision) < std::tie(b.id, b.revision);
  });
  return models;
}

std::vector<CachedModel> listCachedModels() {
  return listCachedModels(hfCacheDirs());
}

std::string modelFileProblem(const std::string& dir, const std::string& file) {
  std::error_code ec;
  const fs::file_status link = fs::symlink_status(file, ec);
  if (ec || !fs::exists(link)) return {};  // absent: opening it reports that
  const fs::path real_dir = fs::canonical(dir, ec);
  if (ec) return {};
  const fs::path real_file = fs::canonical(file, ec);
  if (ec) {
    if (!fs::is_symlink(link)) return {};
    std::error_code read_ec;
    const fs::path target = fs::read_symlink(file, read_ec);
    return file + ": is a symbolic link to " + shown(target) + ", which does not resolve (" + ec.message() +
           ")";
  }
  if (isWithin(real_file, real_dir)) return {};
  const bool snapshot = real_dir.parent_path().filename() == "snapshots";
  const fs::path blobs = real_dir.parent_path().parent_path() / "blobs";
  if (snapshot && isWithin(real_file, blobs)) return {};
  return file + ": resolves to " + shown(real_file) + ", outside the model directory " + shown(real_dir) +
         (snapshot ? " and its cache repository's " + shown(blobs) : "");
}

}  // namespace attnscope
