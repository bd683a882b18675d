// attnscope-cli capture: the command line's CaptureRequest, run by attnscope::runCapture with progress on
// stderr. A request field that cannot be used is reported under the flag that set it.

#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "attnscope/capture_request.h"
#include "commands.h"

namespace attnscope::cli {
namespace {

/// The flag (or argument) that sets a request field.
const char* flagOf(CaptureField field) {
  switch (field) {
    case CaptureField::ModelDir:
      return "MODEL_DIR";
    case CaptureField::Normalizers:
      return "--normalizer";
    case CaptureField::RunNames:
      return "--name";
    case CaptureField::Maps:
      return "--maps";
    case CaptureField::Targets:
      return "--targets";
    case CaptureField::Topk:
      return "--topk";
    case CaptureField::LocalWindow:
      return "--local-window";
    case CaptureField::QueryBlock:
      return "--block";
    case CaptureField::Out:
      return "--out";
  }
  return captureFieldName(field);
}

}  // namespace

int runCapture(const CaptureOptions& options) {
  CaptureRequest request = options.request;
  request.dtype = parseComputeDtype(options.dtype);
  const bool terminal = ::isatty(STDERR_FILENO);
  auto progress = [&](const CaptureProgress& step) {
    // A live counter on a terminal; one line per finished run in logs.
    if (step.loading || !(terminal || step.layer == step.n_layer)) return;
    std::fprintf(stderr, "%srun %lld/%lld (%s): layer %lld/%lld%s", terminal ? "\r" : "",
                 static_cast<long long>(step.run + 1), static_cast<long long>(step.n_run),
                 step.normalizer.c_str(), static_cast<long long>(step.layer),
                 static_cast<long long>(step.n_layer), step.layer == step.n_layer ? "\n" : "");
  };
  CaptureResult result;
  try {
    result = attnscope::runCapture(request, progress);
  } catch (const CaptureRequestError& e) {
    throw std::invalid_argument(std::string(flagOf(e.field())) + " " + e.detail());
  }
  std::printf("%s: %lld run(s) captured, %lld tokens, %lld head map(s) per run\n", result.path.c_str(),
              static_cast<long long>(result.n_completed), static_cast<long long>(result.n_tokens),
              static_cast<long long>(result.n_head_maps));
  return 0;
}

}  // namespace attnscope::cli
