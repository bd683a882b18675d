#!/usr/bin/env bash
# Head types of a real capture against the float64 reference: captures the induction prompt (random tokens,
# repeated) on the bundled softmax-trained model with a local window of 5, then check_head_types.py recomputes
# every layer's attention in float64 and compares prev_token_mass, induction_mass, local_mass and mean_distance.
# Usage: test_head_types.sh CLI MODEL_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$1" --threads 1 capture "$2" --induction-prompt 100:1 --local-window 5 -n softmax --block 48 \
  --out "$work/induction.h5" >/dev/null
/usr/bin/python3 "$here/check_head_types.py" "$work/induction.h5" "$2"
