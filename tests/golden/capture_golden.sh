#!/usr/bin/env bash
# Writes the golden capture: the same commands made tests/golden/capture-golden.h5 with attnscope-cli of main at
# 7d396a3 (before CaptureRequest and runCapture existed). test_capture_golden runs them again with today's CLI and
# compares the two files dataset by dataset and attribute by attribute (compare_captures.py). Regenerated once
# since, when captures gained the head-type statistics (issue 15: prev_token_mass, induction_mass, local_mass,
# mean_distance and the runs' local_window attribute): compare_captures.py found those 25 additions and no other
# difference against the 7d396a3 file, so every earlier dataset is still bit for bit the one 7d396a3 wrote.
# Usage: capture_golden.sh CLI SAMPLES_DIR OUT.h5
#
# What it covers: a byte-tokenized text prompt (300 tokens: beyond the models' 256-token context, so maps have a
# pyramid level), two runs of the softmax-trained model (a named softmax run and an SSMax run with a fixed
# context, probability and score maps, targets, top-k 5, query blocks of 48 that do not divide 300), two runs of
# the SSMax-trained model appended as other weights (learned s, logn) with the map of one head, and
# a bfloat16 run of the first model.
# One compute thread: with more, the order of floating-point sums (BLAS, parallel reductions) depends on the
# thread count, and files of the same inputs differ in the last bits.
set -euo pipefail
cli=$1
samples=$2
out=$3
prompt="$samples/prompts/needle-512.txt"
text=$(head -c 300 "$prompt")
rm -f "$out"
"$cli" --threads 1 capture "$samples/bytes-softmax" --text "$text" -n softmax -n ssmax:ctx=128 \
  --name plain --name ssmax-ctx128 --maps 1.0,scores:2.3 --targets 195:239,0:4 --topk 5 --block 48 --out "$out"
"$cli" --threads 1 capture "$samples/bytes-ssmax" --text "$text" -n ssmax -n logn:L=64 --other-weights \
  --maps 3.1 --targets 195:239 --out "$out"
"$cli" --threads 1 capture "$samples/bytes-softmax" --text "$text" -n softmax --name softmax-bf16 \
  --dtype bfloat16 --out "$out"
