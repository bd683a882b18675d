#pragma once
// What the Run model dialog shows about a model directory before anything is loaded: read from config.json
// with Qt's JSON reader (the window's widgets stay torch-free; the worker validates everything again when it
// loads).

#include <QString>

namespace attnscope::gui {

struct ModelSummary {
  QString modelType;
  int n_layer = 0, n_head = 0, n_ctx = 0;
  bool ssmaxLearned = false;  // "attention_normalizer": "ssmax"
  bool hasTokenizer = false;  // tokenizer.json, vocab.json + merges.txt or "attnscope_tokenizer"
  /// One line: "llama · 2 layers × 4 heads · context 128 · learned SSMax".
  QString describe() const;
};

/// Reads <dir>/config.json; returns false and sets *error when it is missing or unreadable.
bool readModelSummary(const QString& dir, ModelSummary* summary, QString* error);

}  // namespace attnscope::gui
