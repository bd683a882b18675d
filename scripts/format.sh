#!/usr/bin/env bash
# Applies .clang-format to every C++ source of the project, or with --check fails (exit 1) on any difference,
# printing the files and lines clang-format would change. CI runs the check.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
format=$(command -v clang-format-14 || command -v clang-format || true)
[[ -n "$format" ]] || { echo "format.sh: clang-format not found (scripts/setup.sh installs clang-format-14)" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cc' '*.hpp')
if [[ "${1:-}" == "--check" ]]; then
  "$format" --dry-run -Werror "${files[@]}"
  echo "format.sh: ${#files[@]} files follow .clang-format"
else
  "$format" -i "${files[@]}"
fi
