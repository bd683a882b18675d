#!/usr/bin/env bash
# Remakes the bundled samples with attnscope's own commands: the softmax/SSMax pairs of small byte-level models
# (bytes-*: RoPE positions 0..255; pose-*: the same models trained on with PoSE positions), needle-in-a-haystack
# prompts, the sample captures, the evaluation tables and the sweep files behind the README's "What the samples
# show".
# Usage: scripts/make_samples.sh [--skip-train]   (about 80 minutes of training on 2 cores, then ~15 minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cli="$build/app/attnscope-cli"
samples="$root/samples"
[[ -x "$cli" ]] || bash "$root/scripts/build.sh"
# One thread per model, both at once; passive OpenMP waiting so the two jobs do not spin against each other.
export OMP_WAIT_POLICY=PASSIVE
# Stage 1: 3000 steps from random weights; stage 2: 2500 more steps from those weights with a fresh schedule
# (peak lr 1e-3) and another data seed. Both stages are the same for both models; only the normalizer differs.
stage1=(--steps 3000 --needle-share 0.5 --answer-weight 5 --seed 1)
stage2=(--steps 2500 --lr 1e-3 --warmup 50 --needle-share 0.5 --answer-weight 5 --seed 2)
# Stage 3 (the pose-* pair): 2000 more steps from stage 2 with PoSE position ids reaching 16384, so every RoPE
# distance up to 64x the 256-token context is seen in training while each sequence still has 256 keys; matrix
# products in bfloat16.
stage3=(--steps 2000 --lr 1e-3 --warmup 50 --needle-share 0.5 --answer-weight 5 --seed 3 --positions pose:16384
  --bf16)

if [[ "${1:-}" != "--skip-train" ]]; then
  for n in softmax ssmax; do
    ( "$cli" --threads 1 train "$build/stage1/bytes-$n" --normalizer "$n" "${stage1[@]}" &&
      "$cli" --threads 1 train "$samples/bytes-$n" --normalizer "$n" --init-from "$build/stage1/bytes-$n" \
        "${stage2[@]}" &&
      "$cli" --threads 1 train "$samples/pose-$n" --normalizer "$n" --init-from "$samples/bytes-$n" \
        "${stage3[@]}" ) &
  done
  wait -n && wait -n
  # The bias variant: the SSMax model's stage 3 with b learned too (b starts at 0; stages 1 and 2 learned s alone).
  "$cli" --threads 1 train "$samples/pose-ssmax-bias" --normalizer ssmax --ssmax-bias \
    --init-from "$samples/bytes-ssmax" "${stage3[@]}"
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

# The sample captures: both models on one needle prompt. Runs: softmax (softmax model), ssmax (SSMax model,
# learned s), and softmax-model-ssmax (the softmax model with SSMax switched on at inference, s = 1 / ln 256).
# needle-1024.h5 (4x the training context) keeps the maps of layer 2, where both models' needle heads are;
# needle-8192-stats.h5 (32x) keeps statistics only, for the curves against context size.
capture_pair() {  # capture_pair PROMPT_TOKENS MAPS OUT
  local needle prompt="$samples/prompts/needle-$1.txt" out="$samples/$3"
  needle=$(awk -F'\t' -v f="needle-$1.txt" '$1 == f { print $3 }' "$samples/prompts/needles.tsv")
  local args=(--prompt-file "$prompt" --targets "$needle" --maps "$2" --out "$out.new")
  rm -f "$out.new"
  "$cli" capture "$samples/bytes-softmax" "${args[@]}" -n softmax -n ssmax:ctx=256 --name softmax \
    --name softmax-model-ssmax
  "$cli" capture "$samples/bytes-ssmax" "${args[@]}" -n ssmax --name ssmax --other-weights
  mv "$out.new" "$out"
}
rm -f "$samples/needle-2048.h5"
capture_pair 1024 '2.*' needle-1024.h5
capture_pair 8192 none needle-8192-stats.h5

# Evaluation tables (README "What the samples show"): loss by position to 32x the training context, needle
# retrieval and needle score per head at 1x-32x, as trained, with SSMax switched on in the softmax model, and with
# RoPE theta raised 50x at evaluation. Two at a time, one thread each.
mkdir -p "$samples/eval"
eval_args=(--lengths 256 512 1024 2048 4096 8192 --prompts 4)
evaluate() {  # evaluate NAME MODEL ARGS...
  local name=$1 model=$2
  shift 2
  "$cli" --threads 1 eval "$samples/$model" "$@" "${eval_args[@]}" --csv "$samples/eval/$name.csv" \
    > "$samples/eval/$name.txt"
}
evaluate softmax bytes-softmax --normalizer softmax &
evaluate ssmax bytes-ssmax --normalizer ssmax &
wait -n && wait -n
evaluate softmax-model-ssmax bytes-softmax --normalizer ssmax:ctx=256 &
evaluate softmax-theta50 bytes-softmax --normalizer softmax --rope-theta-scale 50 &
wait -n && wait -n
evaluate ssmax-theta50 bytes-ssmax --normalizer ssmax --rope-theta-scale 50
"$cli" stats "$samples/needle-8192-stats.h5" --csv "$samples/eval/needle-8192-curves.csv" --theory 0.18 \
  > "$samples/eval/needle-8192-stats.txt"

# The pose-* pair, measured with sweeps (README "What the samples show"): needle retrieval at 1x-16x the training
# context, 20 prompts per length and depth (100 per length), no distractors, as trained; the softmax-trained model
# also with SSMax switched on (s = 1 / ln 256); and loss by position on 20 held-out documents of 4096 bytes.
mkdir -p "$samples/sweeps"
sweep_pair() {  # sweep_pair MODE ARGS...
  local mode=$1
  shift
  rm -f "$samples/sweeps/$mode-softmax-model.h5" "$samples/sweeps/$mode-ssmax-model.h5"
  "$cli" --threads 1 sweep "$samples/pose-softmax" -n softmax -n ssmax:ctx=256 "--$mode" "$@" \
    -o "$samples/sweeps/$mode-softmax-model.h5" > "$samples/sweeps/$mode-softmax-model.txt" &
  "$cli" --threads 1 sweep "$samples/pose-ssmax" -n ssmax "--$mode" "$@" \
    -o "$samples/sweeps/$mode-ssmax-model.h5" > "$samples/sweeps/$mode-ssmax-model.txt" &
  wait -n && wait -n
}
needle_grid=(--needle --lengths 256 512 1024 2048 4096 --prompts 20)
sweep_pair needle "${needle_grid[@]:1}"
rm -f "$samples/sweeps/needle-ssmax-bias-model.h5"
"$cli" sweep "$samples/pose-ssmax-bias" -n ssmax "${needle_grid[@]}" -o "$samples/sweeps/needle-ssmax-bias-model.h5" \
  > "$samples/sweeps/needle-ssmax-bias-model.txt"
sweep_pair documents --lengths 4096 --prompts 20
# The paper's Figure 7 (needle score per head) at 8x, one figure per sweep file, for the README.
for model in softmax ssmax ssmax-bias; do
  "$build/app/attnscope" --export "$samples/sweeps/needle-$model-model.h5" --figure needle-heads --length 2048 \
    --out "$samples/sweeps/needle-heads-2048-$model-model.png"
done

# The pose-* pair's capture: the 2048-token needle prompt (8x), the map of the retrieval head L2.H2 (both models).
pose_capture() {
  local needle prompt="$samples/prompts/needle-2048.txt" out="$samples/pose-needle-2048.h5"
  needle=$(awk -F'\t' '$1 == "needle-2048.txt" { print $3 }' "$samples/prompts/needles.tsv")
  local args=(--prompt-file "$prompt" --targets "$needle" --maps 2.2 --out "$out.new")
  rm -f "$out.new"
  "$cli" capture "$samples/pose-softmax" "${args[@]}" -n softmax -n ssmax:ctx=256 --name softmax \
    --name softmax-model-ssmax
  "$cli" capture "$samples/pose-ssmax" "${args[@]}" -n ssmax --name ssmax --other-weights
  mv "$out.new" "$out"
}
pose_capture
