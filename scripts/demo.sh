#!/usr/bin/env bash
# Sets up, builds and runs attnscope on the bundled sample model.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
bash "$root/scripts/build.sh"
sample="$root/samples/tiny-llama-random"
cli="$build/app/attnscope-cli"
set -x
"$cli" info "$sample"
"$cli" run "$sample" --ids 1,17,42,99,3,64,8,23,77,5,31,12 --layer 1 --head 2
"$cli" run "$sample" --ids 1,17,42,99,3,64,8,23,77,5,31,12 --layer 1 --head 2 --normalizer ssmax:s=0.6
