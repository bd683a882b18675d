// The one capture runner: what the CLI, the window and batch runners call with a CaptureRequest.

#include "attnscope/capture_request.h"

#include <algorithm>
#include <memory>

#include <torch/torch.h>

#include "attnscope/capture.h"
#include "attnscope/config.h"
#include "attnscope/model.h"
#include "attnscope/runtime.h"

namespace attnscope {
namespace {

CaptureResult capture(const CaptureRequest& request, const CaptureProgressCallback& progress,
                      const CancelPredicate& cancel) {
  CaptureResult result;
  result.n_requested = static_cast<int64_t>(request.normalizers.size());
  CaptureProgress loading;
  loading.n_run = result.n_requested;
  if (progress) progress(loading);
  if (request.model_dir.empty())
    throw CaptureRequestError(CaptureField::ModelDir, "must name a model directory");
  if (request.out.empty()) throw CaptureRequestError(CaptureField::Out, "must name a capture file");
  const int64_t vocab_size = request.prompt.induction.empty() ? 0 : loadConfig(request.model_dir).vocab_size;
  PromptTokens prompt = promptTokens(request.prompt, request.model_dir, vocab_size);
  result.n_tokens = static_cast<int64_t>(prompt.ids.size());
  std::unique_ptr<Model> model = loadModel(request.model_dir, LoadOptions{request.dtype});
  // Every field is checked before the file is created or touched.
  const std::vector<RunSpec> runs = planCaptureRuns(request, model->config(), result.n_tokens);
  for (const MapRequest& m : runs.front().maps) result.n_head_maps += static_cast<int64_t>(m.heads.size());
  if (cancel && cancel()) {
    result.cancelled = true;
    return result;
  }
  const CaptureModel weights = describeCheckpoint(*model, request.model_dir);
  auto file = CaptureFile::create(request.out, weights, {prompt.ids, prompt.display}, request.other_weights);
  result.path = request.out;
  result.n_completed = captureRuns(*model, prompt.ids, weights, *file, request, progress, cancel);
  result.cancelled = result.n_completed < result.n_requested;
  return result;
}

}  // namespace

const char* captureFieldName(CaptureField field) {
  switch (field) {
    case CaptureField::ModelDir:
      return "model_dir";
    case CaptureField::Normalizers:
      return "normalizers";
    case CaptureField::RunNames:
      return "run_names";
    case CaptureField::Maps:
      return "maps";
    case CaptureField::Targets:
      return "targets";
    case CaptureField::Topk:
      return "topk";
    case CaptureField::LocalWindow:
      return "local_window";
    case CaptureField::QueryBlock:
      return "query_block";
    case CaptureField::Out:
      return "out";
  }
  return "?";
}

CaptureRequestError::CaptureRequestError(CaptureField field, const std::string& detail)
    : std::invalid_argument(std::string(captureFieldName(field)) + " " + detail),
      m_field(field),
      m_detail(detail) {}

double CaptureProgress::fraction() const {
  if (loading || n_run <= 0 || n_layer <= 0) return 0;
  return std::clamp(static_cast<double>(run * n_layer + layer) / static_cast<double>(n_run * n_layer), 0.0,
                    1.0);
}

CaptureResult runCapture(const CaptureRequest& request, const CaptureProgressCallback& progress,
                         const CancelPredicate& cancel) {
  try {
    return capture(request, progress, cancel);
  } catch (const c10::Error& e) {
    throw std::runtime_error(torchErrorLine(e));
  }
}

}  // namespace attnscope
