#pragma once
// Reading safetensors checkpoints: 8-byte little-endian header length, a JSON header, then raw tensor data.
// Files are memory-mapped and validated strictly; nothing is ever unpickled. No torch in this header.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnscope {

/// Thrown for any malformed or inconsistent checkpoint; what() is one line naming the file and tensor.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Element types that safetensors files may declare.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

/// Returns the safetensors spelling of a dtype ("F32", "BF16", ...).
const char* dtypeName(DType dtype);
/// Returns the size of one element in bytes.
std::size_t dtypeSize(DType dtype);

/// One tensor inside a mapped file: its data pointer stays valid while the owning file is alive.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // start of the raw little-endian data
  std::size_t nbytes = 0;
  std::string file;  // path of the file holding it (for error messages)

  int64_t numel() const;
};

/// A single memory-mapped .safetensors file.
class SafetensorsFile {
 public:
  /// Maps and validates the file; throws CheckpointError on any inconsistency.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return m_path; }
  /// Tensors by name, in name order.
  const std::map<std::string, TensorView>& tensors() const { return m_tensors; }
  /// The optional "__metadata__" string map.
  const std::map<std::string, std::string>& metadata() const { return m_metadata; }
  bool contains(const std::string& name) const { return m_tensors.count(name) != 0; }
  /// Returns the named tensor; throws CheckpointError when absent.
  const TensorView& at(const std::string& name) const;

 private:
  std::string m_path;
  void* m_map = nullptr;
  std::size_t m_size = 0;
  std::map<std::string, TensorView> m_tensors;
  std::map<std::string, std::string> m_metadata;
};

/// All weights of a model directory: model.safetensors, or the shards named by model.safetensors.index.json.
class Checkpoint {
 public:
  /// Opens the directory's weights; throws CheckpointError when none are found or any shard is invalid.
  static Checkpoint open(const std::string& model_dir);

  /// Tensors of every shard by name.
  const std::map<std::string, TensorView>& tensors() const { return m_tensors; }
  bool contains(const std::string& name) const { return m_tensors.count(name) != 0; }
  const TensorView& at(const std::string& name) const;
  /// Returns the bytes of tensor data in every file: what the model's weights can at most fill.
  uint64_t tensorBytes() const;
  /// Paths of the files backing this checkpoint.
  std::vector<std::string> files() const;

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> m_files;
  std::map<std::string, TensorView> m_tensors;
};

/// Writes tensors to a .safetensors file (used by tests, the trainer and exports). Data is copied as given.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  std::size_t nbytes = 0;
};
void writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace attnscope
