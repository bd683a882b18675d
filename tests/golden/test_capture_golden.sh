#!/usr/bin/env bash
# Captures written before and after a change are identical for the same inputs: runs capture_golden.sh with this
# build's CLI and compares the file with the committed golden capture (compare_captures.py says what may differ).
# Usage: test_capture_golden.sh CLI SAMPLES_DIR GOLDEN.h5
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$here/capture_golden.sh" "$1" "$2" "$work/capture.h5" >/dev/null
/usr/bin/python3 "$here/compare_captures.py" "$3" "$work/capture.h5"
