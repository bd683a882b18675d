#pragma once
// Model directories named by a Hugging Face model id ("Org/Name"), found in the local hub cache and never on
// the network, and the one rule for which files a model directory may link to. Filesystem logic only: no
// torch, no Qt, so the command line, the GUI and the loaders share it.
//
// A cache holds models--Org--Name/{refs/<branch or tag> (a commit hash), snapshots/<hash>/ (symlinks into
// blobs/), blobs/<sha>}.

#include <stdexcept>
#include <string>
#include <vector>

namespace attnscope {

/// Thrown when a model id cannot be resolved in the cache; what() is one line.
class ModelPathError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Returns the hub caches to search, in order: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub (each
/// when its variable is set and not empty; repeats dropped).
std::vector<std::string> hfCacheDirs();

/// True when `text` has the form of a model id, "Org/Name" or "Name": letters, digits, '.', '_', '-', no "--"
/// or "..", neither part starting or ending with '.' or '-'.
bool isModelId(const std::string& text);

/// Returns the model directory for a path or a model id. A path that exists, and anything that is not shaped
/// like an id, is returned unchanged (the loaders report what is wrong with it). An id is looked up as
/// models--Org--Name in the first of `cache_dirs` that holds it, at `revision` (empty: main): a name in refs/
/// (branch or tag), else a 40-digit commit hash in snapshots/; the result is the snapshot directory.
/// Throws ModelPathError naming the directories searched, the revisions there, or the link that is wrong.
std::string resolveModelPath(const std::string& path_or_id, const std::string& revision,
                             const std::vector<std::string>& cache_dirs);
/// resolveModelPath in hfCacheDirs().
std::string resolveModelPath(const std::string& path_or_id, const std::string& revision = {});

/// A model in the cache that a chooser can offer.
struct CachedModel {
  std::string id;         // "Org/Name"
  std::string revision;   // "main", or the commit hash of a snapshot when the repository has no refs/main
  std::string directory;  // the snapshot directory (holds config.json)
};

/// Returns the models of the caches whose snapshot holds a config.json, sorted by id; an id found in two
/// caches is listed from the first. Unreadable entries are skipped.
std::vector<CachedModel> listCachedModels(const std::vector<std::string>& cache_dirs);
/// listCachedModels in hfCacheDirs().
std::vector<CachedModel> listCachedModels();

/// Returns why `file` may not be read as part of the model in `dir`, or "" when it may: it must resolve,
/// through symlinks, inside `dir` or, when `dir` is a cache snapshot (models--Org--Name/snapshots/<hash>),
/// inside that repository's blobs/. A broken symlink is reported; a file that does not exist at all is not
/// (opening it reports that). The reason is one line naming the file, for the caller's own error type.
std::string modelFileProblem(const std::string& dir, const std::string& file);

}  // namespace attnscope
