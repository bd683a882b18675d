#!/usr/bin/env bash
# The README quotes scripts/make_samples.sh verbatim: every indented block that follows a line ending in
# "(verbatim from `scripts/make_samples.sh`):" must consist of lines the script holds, in the script's order.
set -euo pipefail
root=${1:?usage: test_readme_recipe.sh REPO_ROOT}
readme="$root/README.md" script="$root/scripts/make_samples.sh"
blocks=0
while IFS= read -r -d $'\x1e' block; do
  blocks=$((blocks + 1))
  last=0
  while IFS= read -r line; do
    [[ -z "$line" ]] && continue
    at=$(grep -nxF -- "$line" "$script" | cut -d: -f1 | awk -v after="$last" '$1 > after { print; exit }')
    if [[ -z "$at" ]]; then
      echo "README quotes a line make_samples.sh does not hold (after its line $last): $line" >&2
      exit 1
    fi
    last=$at
  done <<<"$block"
done < <(awk '
  /\(verbatim from `scripts\/make_samples.sh`\):$/ { quoting = 1; started = 0; next }
  quoting && /^    / { started = 1; print substr($0, 5); next }
  quoting && /^$/ { if (started) print ""; next }
  quoting && started { quoting = 0; printf "\x1e" }
  quoting { quoting = 0 }
  END { if (quoting && started) printf "\x1e" }' "$readme")
if (( blocks == 0 )); then
  echo "README quotes no block of make_samples.sh" >&2
  exit 1
fi
echo "README: $blocks block(s) quoted verbatim from make_samples.sh"
