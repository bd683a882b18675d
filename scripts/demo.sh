#!/usr/bin/env bash
# Sets up, builds and opens attnscope on the bundled sample: a needle-in-a-haystack prompt of 2048 tokens (8x the
# training context) run through the softmax-trained and the SSMax-trained sample models (the PoSE pair), ready to
# compare.
# Without a display it writes the same views as figures instead (build/demo/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
bash "$root/scripts/build.sh"
capture="$root/samples/pose-needle-2048.h5"
gui="$build/app/attnscope"
cli="$build/app/attnscope-cli"
# The head that retrieves the needle in both models (README, "What the samples show").
view=(--run softmax --compare ssmax --layer 2 --head 2)

"$cli" stats "$capture"
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  exec "$gui" "$capture" "${view[@]}"
fi
out="$build/demo"
mkdir -p "$out"
for figure in context-curve heatmap heads head-grid tokens compare; do
  "$gui" --export "$capture" "${view[@]}" --figure "$figure" --out "$out/$figure.png"
done
"$gui" --export "$capture" --run softmax --compare ssmax --figure context-curve --scope all --out "$out/context-curve-all.pdf"
echo "No display: wrote the views as figures into $out. On a desktop this command opens the window:"
echo "  $gui $capture ${view[*]}"
