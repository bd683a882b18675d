#pragma once
// Tokenizers that reproduce the ids a checkpoint was trained with, loaded from the model directory:
//   tokenizer.json (HF tokenizers, BPE model: byte-level GPT-2 / Llama 3 / Qwen2, or sentencepiece-style
//   Llama 2 / Mistral with byte fallback), else GPT-2's vocab.json + merges.txt, else a raw byte tokenizer.
// Plain C++17: no torch, no Qt. Regexes use PCRE2 (Unicode classes), Unicode normalization uses ICU.
//
// Policies:
// - encode() accepts valid UTF-8 only; anything else throws
//   TokenizerError("input is not valid UTF-8 at byte N"), N being the 0-based offset where the first invalid
//   sequence starts. Nothing is replaced silently, so ids never depend on a hidden substitution.
// - Added tokens (e.g. "<|begin_of_text|>", "<s>", "<|endoftext|>") written in the text are matched literally
//   on the raw text and encoded as their single id, as Hugging Face does by default.
// - decode() returns bytes: for byte-level models it is the exact inverse of encode(); when ids end inside a
//   multi-byte character the result is not valid UTF-8 (nothing is replaced).
// - Raw byte tokenizer: config.json holds "attnscope_tokenizer": "bytes", or the object form
//   "attnscope_tokenizer": {"type": "bytes", "bos_token_id": 256}. Ids 0..255 are the byte values; the
//   optional bos_token_id (>= 256) is prepended by encode() and vocabSize() is max(256, bos_token_id + 1).
// Every object is safe to use from several threads at once.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnscope {

/// Thrown for unreadable or unsupported tokenizer files and invalid input; what() is one line.
class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Text <-> token ids for one model, plus readable per-token labels for plots.
class Tokenizer {
 public:
  virtual ~Tokenizer();

  /// Encodes UTF-8 text; with add_special_tokens the post-processor's tokens (BOS) are added around it.
  std::vector<int64_t> encode(const std::string& utf8_text, bool add_special_tokens = true) const;
  /// Decodes ids back to text bytes; special tokens appear as their text unless skip_special_tokens.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;
  /// Returns a readable, never empty label for one token: spaces as "␣" (also sentencepiece's "▁"), newline
  /// "↵", tab "⇥", other control characters and incomplete UTF-8 as "\xNN"; special tokens as their text.
  virtual std::string displayString(int64_t id) const = 0;
  /// Returns whether the id is a special token (BOS, EOS, ...).
  virtual bool isSpecial(int64_t id) const = 0;
  /// Returns the number of ids (largest id + 1, added tokens included).
  virtual int64_t vocabSize() const = 0;
  /// Returns "gpt2-bpe", "tokenizer.json bpe (byte-level)", "tokenizer.json bpe (sentencepiece)" or "bytes".
  virtual std::string kind() const = 0;

 protected:
  /// Appends the ids of already validated UTF-8 text.
  virtual void encodeValid(const std::string& utf8_text, bool add_special_tokens,
                           std::vector<int64_t>& ids) const = 0;
  /// Decodes ids; throws TokenizerError for ids outside the vocabulary.
  virtual std::string decodeIds(const std::vector<int64_t>& ids, bool skip_special_tokens) const = 0;
};

/// Loads the tokenizer of a model directory: tokenizer.json, else vocab.json + merges.txt, else the byte
/// tokenizer declared in config.json; throws TokenizerError naming the directory when there is none.
std::unique_ptr<Tokenizer> loadTokenizer(const std::string& model_dir);
/// Loads GPT-2's byte-level BPE from vocab.json (encoder.json) and merges.txt (vocab.bpe).
std::unique_ptr<Tokenizer> loadGpt2Tokenizer(const std::string& vocab_json, const std::string& merges_txt);
/// Loads a HF tokenizer.json; tokenizer_config_json (may be empty) supplies add_bos_token when the
/// post-processor adds no BOS itself.
std::unique_ptr<Tokenizer> loadTokenizerJson(const std::string& tokenizer_json,
                                             const std::string& tokenizer_config_json = "");
/// Returns the raw byte tokenizer (ids = byte values); bos_token_id < 0 means no BOS.
std::unique_ptr<Tokenizer> makeByteTokenizer(int64_t bos_token_id = -1);

}  // namespace attnscope
