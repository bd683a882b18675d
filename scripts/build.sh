#!/usr/bin/env bash
# Configures and builds attnscope into build/ (override with BUILD_DIR). Runs setup first. Extra arguments go to
# cmake's configure step (e.g. -DATTNSCOPE_SANITIZE=address,undefined); CC/CXX choose the compiler.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" --parallel "${JOBS:-$(nproc)}"
