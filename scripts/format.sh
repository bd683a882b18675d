#!/usr/bin/env bash
# Applies .clang-format to every C++ source of the project, or with --check fails (exit 1) on any difference,
# printing the files and lines clang-format would change, or on a source file over 600 lines (split files by
# concept, STYLE.md). CI runs the check.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
format=$(command -v clang-format-14 || command -v clang-format || true)
[[ -n "$format" ]] || { echo "format.sh: clang-format not found (scripts/setup.sh installs clang-format-14)" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cc' '*.hpp')
if [[ "${1:-}" == "--check" ]]; then
  "$format" --dry-run -Werror "${files[@]}"
  mapfile -t sources < <(git ls-files '*.cpp' '*.h' '*.cc' '*.hpp' '*.py' '*.sh' '*.js' ':!:tests/fuzz/corpus')
  long=$(wc -l "${sources[@]}" | awk '$2 != "total" && $1 > 600 {print "  " $2 ": " $1 " lines"}')
  if [[ -n "$long" ]]; then
    echo "format.sh: source files over 600 lines (split them by concept):" >&2
    echo "$long" >&2
    exit 1
  fi
  echo "format.sh: ${#files[@]} files follow .clang-format; no source file over 600 lines"
else
  "$format" -i "${files[@]}"
fi
