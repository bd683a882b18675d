#!/usr/bin/env bash
# Configures and builds attnscope into build/ (override with BUILD_DIR). Runs setup first. Extra arguments go to
# cmake's configure step (e.g. -DATTNSCOPE_SANITIZE=address,undefined); CC/CXX choose the compiler.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
bash "$root/scripts/setup.sh"
launcher=()
# ccache, where a developer has it, makes a new worktree's first build a cache hit; CI has none and builds all.
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@" >/dev/null
cmake --build "$build" --parallel "${JOBS:-$(nproc)}"
