// Safetensors reading and writing. Every byte of a file is untrusted: sizes and offsets are checked before
// any pointer is formed, so a malformed file gives a one-line CheckpointError, never an out-of-bounds read.

#include "attnscope/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "attnscope/hf_cache.h"
#include "attnscope/untrusted_text.h"
#include "json_parse.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The reference implementation refuses larger headers; a bigger length is corruption, not a real model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
struct DtypeInfo {
  DType dtype;
  const char* name;
  std::size_t size;
};
constexpr DtypeInfo kDtypes[] = {{DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
                                 {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
                                 {DType::I16, "I16", 2},   {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
                                 {DType::BOOL, "BOOL", 1}};

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw CheckpointError(where + ": " + what);
}

std::string errnoText() {
  return std::strerror(errno);
}

/// A JSON value for an error message, cut short so that a huge array cannot flood it. ASCII only: strings in
/// it come from the file, and non-ASCII could hide bidirectional overrides. Its nesting is bounded by
/// parseJson.
std::string brief(const json& value) {
  std::string text = value.dump(-1, ' ', /*ensure_ascii=*/true);
  return text.size() > 80 ? text.substr(0, 80) + "..." : text;
}

/// True when the path exists; other stat failures count as existing so that opening reports the real error.
bool pathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 || errno != ENOENT;
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

/// Reads a non-negative JSON integer (nlohmann stores those as unsigned); false for anything else.
bool readUnsigned(const json& value, uint64_t& out) {
  if (!value.is_number_unsigned()) return false;
  out = value.get<uint64_t>();
  return true;
}

/// Multiplies without wrapping: saturates so that an absurd shape can never match a real byte count.
uint64_t saturatingMul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return std::numeric_limits<uint64_t>::max();
  return a * b;
}

/// Refuses a weights file that resolves, through symlinks, outside the model directory (or, for a Hugging
/// Face cache snapshot, outside its repository's blobs/), so that a downloaded directory cannot make us read
/// (and quote) files elsewhere.
void requireInsideModelDir(const fs::path& dir, const std::string& file) {
  if (const std::string problem = modelFileProblem(dir.string(), file); !problem.empty())
    throw CheckpointError(problem);
}

bool parseDtype(const std::string& text, DType& out) {
  for (const DtypeInfo& info : kDtypes)
    if (text == info.name) return out = info.dtype, true;
  return false;
}

/// Parses the header; duplicate top-level keys are rejected because a second entry would silently win.
json parseHeader(const std::string& path, const char* begin, const char* end) {
  std::set<std::string> keys;
  std::string duplicate;
  bool has_duplicate = false;
  json header;
  try {
    header = parseJson(std::string_view(begin, static_cast<std::size_t>(end - begin)), path + ": header",
                       [&](int depth, json::parse_event_t event, json& parsed) {
                         if (event == json::parse_event_t::key && depth == 1 &&
                             !keys.insert(parsed.get<std::string>()).second && !has_duplicate) {
                           duplicate = parsed.get<std::string>();
                           has_duplicate = true;
                         }
                         return true;
                       });
  } catch (const JsonError& e) {
    throw CheckpointError(e.what());
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");
  if (has_duplicate) fail(path, "header lists " + quoteForMessage(duplicate) + " twice");
  return header;
}

/// Validates one tensor entry of the header against the data region [data, data + data_size).
TensorView parseEntry(const std::string& path, const std::string& name, const json& entry,
                      const std::byte* data, uint64_t data_size) {
  const std::string where = path + ": tensor " + quoteForMessage(name);
  if (!entry.is_object()) fail(where, "entry is not a JSON object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) fail(where, std::string("missing ") + key);

  TensorView view;
  view.name = name;
  view.file = path;
  const json& dtype = entry.at("dtype");
  if (!dtype.is_string()) fail(where, "dtype is not a string");
  if (!parseDtype(dtype.get<std::string>(), view.dtype))
    fail(where, "unknown dtype " + quoteForMessage(dtype.get<std::string>()) +
                    " (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL)");

  const json& shape = entry.at("shape");
  if (!shape.is_array()) fail(where, "shape is not an array");
  uint64_t numel = 1;
  for (const json& dim : shape) {
    uint64_t d = 0;
    if (!readUnsigned(dim, d) || d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(where, "shape " + brief(shape) + " has a negative or non-integer dim");
    view.shape.push_back(static_cast<int64_t>(d));
    numel = saturatingMul(numel, d);
  }

  const json& offsets = entry.at("data_offsets");
  uint64_t begin = 0, end = 0;
  if (!offsets.is_array() || offsets.size() != 2 || !readUnsigned(offsets[0], begin) ||
      !readUnsigned(offsets[1], end) || begin > end)
    fail(where, "data_offsets " + brief(offsets) +
                    " are not two non-negative integers [begin, end] with begin <= end");
  const std::string range = "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
  if (end > data_size) fail(where, range + " exceed the data size " + std::to_string(data_size));
  const uint64_t expected = saturatingMul(numel, dtypeSize(view.dtype));
  if (end - begin != expected)
    fail(where, range + " hold " + std::to_string(end - begin) + " bytes but shape " + shapeText(view.shape) +
                    " of " + dtypeName(view.dtype) + " needs " +
                    (expected == UINT64_MAX ? std::string("more") : std::to_string(expected)));
  view.data = data + begin;
  view.nbytes = static_cast<std::size_t>(end - begin);
  return view;
}

}  // namespace

const char* dtypeName(DType dtype) {
  for (const DtypeInfo& info : kDtypes)
    if (info.dtype == dtype) return info.name;
  return "?";
}

std::size_t dtypeSize(DType dtype) {
  for (const DtypeInfo& info : kDtypes)
    if (info.dtype == dtype) return info.size;
  return 0;
}

int64_t TensorView::numel() const {
  // Unsigned, so huge dims next to a zero dim give 0 without signed-overflow UB.
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return static_cast<int64_t>(n);
}

SafetensorsFile::SafetensorsFile(const std::string& path) : m_path(path) {
  // O_NONBLOCK so that a FIFO passed by mistake is rejected below instead of blocking the open.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(path, "cannot open (" + errnoText() + ")");
  struct stat st {};
  std::string problem;
  if (::fstat(fd, &st) != 0) {
    problem = "cannot stat (" + errnoText() + ")";
  } else if (!S_ISREG(st.st_mode)) {
    problem = S_ISDIR(st.st_mode) ? "is a directory, not a safetensors file" : "is not a regular file";
  } else if (st.st_size < 8) {
    problem = st.st_size == 0 ? "file is empty"
                              : "file is only " + std::to_string(st.st_size) +
                                    " bytes, shorter than the 8-byte header length";
  } else {
    m_size = static_cast<std::size_t>(st.st_size);
    // Writable but private: a model whose parameters point into the mapping may be changed in place (training
    // continued from it) without ever writing the file; untouched pages stay shared page cache.
    m_map = ::mmap(nullptr, m_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (m_map == MAP_FAILED) m_map = nullptr, problem = "cannot map (" + errnoText() + ")";
  }
  ::close(fd);  // the mapping keeps the file alive; holding the fd would only use up descriptors
  if (!problem.empty()) fail(path, problem);

  // The destructor does not run when a constructor throws, so unmap here on any validation failure.
  try {
    const auto* bytes = static_cast<const unsigned char*>(m_map);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
    if (header_len > std::min<uint64_t>(kMaxHeaderBytes, m_size - 8))
      fail(path, "header length " + std::to_string(header_len) +
                     (header_len > kMaxHeaderBytes ? " exceeds the limit of 100000000 bytes"
                                                   : " exceeds the file size " + std::to_string(m_size)));
    const char* header_begin = reinterpret_cast<const char*>(bytes + 8);
    json header = parseHeader(path, header_begin, header_begin + header_len);
    const std::byte* data = reinterpret_cast<const std::byte*>(bytes + 8 + header_len);
    const uint64_t data_size = m_size - 8 - header_len;

    std::vector<std::tuple<uint64_t, uint64_t, std::string>> ranges;
    for (const auto& item : header.items()) {
      const std::string& name = item.key();
      const json& entry = item.value();
      if (name == "__metadata__") {
        if (!entry.is_object()) fail(path, "__metadata__ is not a JSON object");
        for (const auto& meta : entry.items()) {
          if (!meta.value().is_string())
            fail(path, "__metadata__ value " + quoteForMessage(meta.key()) + " is not a string");
          m_metadata[meta.key()] = meta.value().get<std::string>();
        }
        continue;
      }
      TensorView view = parseEntry(path, name, entry, data, data_size);
      const uint64_t begin = static_cast<uint64_t>(view.data - data), end = begin + view.nbytes;
      if (begin != end) ranges.emplace_back(begin, end, name);  // empty tensors occupy no bytes to overlap
      m_tensors.emplace(name, std::move(view));
    }

    // Sorted by start, a range overlaps an earlier one exactly when it starts before the furthest end so far.
    std::sort(ranges.begin(), ranges.end());
    uint64_t furthest = 0;
    const std::string* furthest_name = nullptr;
    for (const auto& [begin, end, name] : ranges) {
      if (furthest_name && begin < furthest)
        fail(path, "tensors " + quoteForMessage(*furthest_name) + " and " + quoteForMessage(name) +
                       " have overlapping data_offsets");
      if (end > furthest) furthest = end, furthest_name = &name;
    }
  } catch (...) {
    ::munmap(m_map, m_size);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (m_map) ::munmap(m_map, m_size);
}

const TensorView& SafetensorsFile::at(const std::string& name) const {
  auto it = m_tensors.find(name);
  if (it == m_tensors.end()) throw CheckpointError("no tensor " + quoteForMessage(name) + " in " + m_path);
  return it->second;
}

Checkpoint Checkpoint::open(const std::string& model_dir) {
  struct stat st {};
  if (::stat(model_dir.c_str(), &st) != 0)
    fail(model_dir, "cannot open model directory (" + errnoText() + ")");
  if (!S_ISDIR(st.st_mode)) fail(model_dir, "is not a directory");

  const fs::path dir(model_dir);
  const std::string index_path = (dir / "model.safetensors.index.json").string();
  const std::string single_path = (dir / "model.safetensors").string();
  Checkpoint checkpoint;
  requireInsideModelDir(dir, index_path);  // before the existence checks: they cannot see a broken symlink
  requireInsideModelDir(dir, single_path);
  if (!pathExists(index_path)) {
    if (!pathExists(single_path)) fail(model_dir, "no model.safetensors or model.safetensors.index.json");
    checkpoint.m_files.push_back(std::make_shared<SafetensorsFile>(single_path));
    checkpoint.m_tensors = checkpoint.m_files.back()->tensors();
    return checkpoint;
  }

  std::error_code ec;
  if (!fs::is_regular_file(index_path, ec)) fail(index_path, "is not a regular file");
  std::ifstream in(index_path, std::ios::binary);
  if (!in) fail(index_path, "cannot open (" + errnoText() + ")");
  std::ostringstream text;
  text << in.rdbuf();
  const json index = parseJsonOr<CheckpointError>(text.str(), index_path);
  if (!index.is_object() || !index.contains("weight_map") || !index.at("weight_map").is_object())
    fail(index_path, "has no \"weight_map\" object");
  const json& weight_map = index.at("weight_map");
  if (weight_map.empty()) fail(index_path, "weight_map lists no tensors");

  // Shard names come from an untrusted file: keep them inside the model directory.
  std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
  for (const auto& item : weight_map.items()) {
    if (!item.value().is_string())
      fail(index_path, "weight_map entry " + quoteForMessage(item.key()) + " is not a string");
    const std::string shard = item.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard.find("..") != std::string::npos ||
        shard.find('\0') != std::string::npos)
      fail(index_path, "tensor " + quoteForMessage(item.key()) + " names shard " + quoteForMessage(shard) +
                           ", which is not a plain file name in the model directory");
    shards.emplace(shard, nullptr);
  }
  for (auto& [shard, file] : shards) {
    const std::string shard_path = (dir / shard).string();
    requireInsideModelDir(dir, shard_path);
    if (!pathExists(shard_path)) fail(index_path, "shard " + quoteForMessage(shard) + " does not exist");
    file = std::make_shared<SafetensorsFile>(shard_path);
    checkpoint.m_files.push_back(file);
  }
  for (const auto& item : weight_map.items()) {
    const std::string shard = item.value().get<std::string>();
    if (!shards.at(shard)->contains(item.key()))
      fail(index_path, "tensor " + quoteForMessage(item.key()) + " is mapped to shard " +
                           quoteForMessage(shard) + ", which does not contain it");
  }
  for (const auto& [shard, file] : shards) {
    for (const auto& [name, view] : file->tensors()) {
      auto [it, inserted] = checkpoint.m_tensors.emplace(name, view);
      if (!inserted)
        fail(model_dir, "tensor " + quoteForMessage(name) + " appears in both shard " +
                            quoteForMessage(fs::path(it->second.file).filename().string()) + " and shard " +
                            quoteForMessage(shard));
    }
  }
  return checkpoint;
}

const TensorView& Checkpoint::at(const std::string& name) const {
  auto it = m_tensors.find(name);
  if (it != m_tensors.end()) return it->second;
  // The class keeps no directory member, so name the single file, or the directory holding the shards.
  std::string where = m_files.empty()       ? "checkpoint"
                      : m_files.size() == 1 ? m_files[0]->path()
                                            : fs::path(m_files[0]->path()).parent_path().string();
  throw CheckpointError("no tensor " + quoteForMessage(name) + " in " + where);
}

uint64_t Checkpoint::tensorBytes() const {
  uint64_t total = 0;  // cannot wrap: the tensors lie in mapped files, without overlap
  for (const auto& item : m_tensors) total += item.second.nbytes;
  return total;
}

std::vector<std::string> Checkpoint::files() const {
  std::vector<std::string> paths;
  for (const auto& file : m_files) paths.push_back(file->path());
  return paths;
}

void writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    const std::string where = "writeSafetensors: tensor " + quoteForMessage(t.name);
    if (t.name == "__metadata__" || header.contains(t.name))
      throw std::invalid_argument(where + " is reserved or given twice");
    uint64_t needed = dtypeSize(t.dtype);
    for (int64_t d : t.shape) needed = d < 0 ? UINT64_MAX : saturatingMul(needed, static_cast<uint64_t>(d));
    if (t.nbytes != needed)
      throw std::invalid_argument(where + ": " + std::to_string(t.nbytes) + " bytes given for shape " +
                                  shapeText(t.shape) + " of " + dtypeName(t.dtype));
    if (t.nbytes > 0 && !t.data) throw std::invalid_argument(where + " has no data pointer");
    header[t.name] = {
        {"dtype", dtypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception&) {
    throw std::invalid_argument("writeSafetensors: a tensor name or metadata string is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data region 8-byte aligned for typed access
  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i)
    prefix[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));

  // Write beside the target and rename, so readers never see a half-written file at `path`.
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(tmp, "cannot create (" + errnoText() + ")");
  auto writeAll = [fd](const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::write(fd, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) errno = EIO;  // write() returning 0 sets no errno
      if (n <= 0) return false;
      p += n, size -= static_cast<std::size_t>(n);
    }
    return true;
  };
  bool ok = writeAll(prefix, sizeof prefix) && writeAll(text.data(), text.size());
  for (const TensorToWrite& t : tensors) ok = ok && writeAll(t.data, t.nbytes);
  ok = ok && ::fsync(fd) == 0;  // without it a crash after the rename can leave an empty file at `path`
  int err = errno;
  if (::close(fd) != 0 && ok) ok = false, err = errno;
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) ok = false, err = errno;
  if (!ok) {
    ::unlink(tmp.c_str());
    fail(path, std::string("cannot write (") + std::strerror(err) + ")");
  }
}

}  // namespace attnscope
