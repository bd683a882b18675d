#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest). Extra arguments go to ctest, e.g. -L unit.
#   scripts/test.sh                       the normal suite, gcc, build/
#   scripts/test.sh --sanitize            ASan + UBSan with gcc 12, GUI-less, build-asan/
#   scripts/test.sh --sanitize --clang    ASan + UBSan with clang 14, GUI-less, build-asan-clang/ (the same build
#                                         holds the libFuzzer harnesses; ctest -L fuzz replays their corpora)
#   add --gui to a sanitized run to build and test the Qt GUI as well (slower).
# Sanitized builds leave tcmalloc out and stop at the first finding; runtime options: scripts/sanitizer-env.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=0 clang=0 gui=0
ctest_args=()
for arg in "$@"; do
  case $arg in
    --sanitize) sanitize=1 ;;
    --clang) clang=1 ;;
    --gui) gui=1 ;;
    *) ctest_args+=("$arg") ;;
  esac
done

if ((sanitize)); then
  cmake_args=(-DATTNSCOPE_SANITIZE=address,undefined -DATTNSCOPE_BUILD_BENCHMARKS=OFF)
  ((gui)) || cmake_args+=(-DATTNSCOPE_BUILD_GUI=OFF)
  if ((clang)); then
    export CC=clang-14 CXX=clang++-14
    cmake_args+=(-DATTNSCOPE_BUILD_FUZZERS=ON)
    default_build=$root/build-asan-clang
  else
    default_build=$root/build-asan
  fi
  ((gui)) && default_build+=-gui
  build=${BUILD_DIR:-$default_build}
  BUILD_DIR=$build bash "$root/scripts/build.sh" "${cmake_args[@]}"
  source "$root/scripts/sanitizer-env.sh"
else
  ((clang)) && { echo "test.sh: --clang needs --sanitize (the normal build is gcc)" >&2; exit 2; }
  build=${BUILD_DIR:-$root/build}
  bash "$root/scripts/build.sh"
fi
cd "$build"
ctest --output-on-failure --parallel "$(nproc)" "${ctest_args[@]}"
