#!/usr/bin/env bash
# Remakes the bundled samples with attnscope's own commands: the softmax/SSMax pair of small byte-level models,
# needle-in-a-haystack prompts, the sample capture of both models on one prompt, and the evaluation tables.
# Usage: scripts/make_samples.sh [--skip-train]   (about 30-60 min of training on 2 cores, then a few minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cli="$build/app/attnscope-cli"
samples="$root/samples"
[[ -x "$cli" ]] || bash "$root/scripts/build.sh"
# One thread per model, both at once; passive OpenMP waiting so the two jobs do not spin against each other.
export OMP_WAIT_POLICY=PASSIVE
train=(--steps 3000 --needle-share 0.5 --answer-weight 5 --seed 1)

if [[ "${1:-}" != "--skip-train" ]]; then
  "$cli" --threads 1 train "$samples/bytes-softmax" --normalizer softmax "${train[@]}" &
  "$cli" --threads 1 train "$samples/bytes-ssmax" --normalizer ssmax "${train[@]}" &
  wait -n && wait -n
fi

# Needle prompts at 1x ... 32x the training context (bytes = tokens), needle in the middle.
mkdir -p "$samples/prompts"
: > "$samples/prompts/needles.tsv.new"
printf 'file\ttokens\tneedle\tdigits\tanswer\n' >> "$samples/prompts/needles.tsv.new"
for n in 256 512 1024 2048 4096 8192; do
  line=$("$cli" needle "$samples/prompts/needle-$n.txt" --length "$n" --depth 0.5 --seed "$n" | grep '^needle ')
  read -r _ needle _ digits _ answer _ <<<"$line"
  printf 'needle-%s.txt\t%s\t%s\t%s\t%s\n' "$n" "$n" "$needle" "$digits" "$answer" >> "$samples/prompts/needles.tsv.new"
done
mv "$samples/prompts/needles.tsv.new" "$samples/prompts/needles.tsv"

# The sample capture: both models on the 2048-token prompt (8x the training context), every head's map, the
# needle sentence as target. Runs: softmax (softmax model), ssmax (SSMax model, learned s), and the softmax
# model with SSMax switched on at inference (s = 1 / ln 256).
needle=$(awk -F'\t' '$1 == "needle-2048.txt" { print $3 }' "$samples/prompts/needles.tsv")
prompt="$samples/prompts/needle-2048.txt"
capture=(--prompt-file "$prompt" --targets "$needle" --maps all --out "$samples/needle-2048.h5.new")
rm -f "$samples/needle-2048.h5.new"
"$cli" capture "$samples/bytes-softmax" "${capture[@]}" -n softmax -n ssmax:ctx=256 --name softmax \
  --name softmax-model-ssmax
"$cli" capture "$samples/bytes-ssmax" "${capture[@]}" -n ssmax --name ssmax --other-weights
mv "$samples/needle-2048.h5.new" "$samples/needle-2048.h5"

# Evaluation tables (README "What the samples show").
mkdir -p "$samples/eval"
lengths=(--lengths 256,512,1024,2048 --prompts 8)
"$cli" eval "$samples/bytes-softmax" --normalizer softmax "${lengths[@]}" --csv "$samples/eval/softmax.csv"
"$cli" eval "$samples/bytes-ssmax" --normalizer ssmax "${lengths[@]}" --csv "$samples/eval/ssmax.csv"
"$cli" eval "$samples/bytes-softmax" --normalizer ssmax:ctx=256 "${lengths[@]}" \
  --csv "$samples/eval/softmax-model-ssmax.csv"
"$cli" stats "$samples/needle-2048.h5" --csv "$samples/eval/needle-2048-curves.csv"
