#!/usr/bin/env bash
# End-to-end checks of attnscope-cli on the bundled sample: outputs, exit codes and one-line errors.
# Usage: test_cli.sh CLI SAMPLE_DIR
set -uo pipefail
cli=$1
sample=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0

# expect NAME EXIT_CODE REGEX -- ARGS...: runs the CLI, checks its exit code and that REGEX matches its output.
expect() {
  local name=$1 code=$2 regex=$3
  shift 4
  local out rc
  out=$("$cli" "$@" 2>&1)
  rc=$?
  if [[ $rc -ne $code ]]; then
    echo "FAIL $name: exit code $rc, expected $code"; echo "$out" | head -5; failures=$((failures + 1)); return
  fi
  if ! grep -Eq -- "$regex" <<<"$out"; then
    echo "FAIL $name: output does not match /$regex/"; echo "$out" | head -5; failures=$((failures + 1)); return
  fi
  if [[ $code -eq 1 && $(wc -l <<<"$out") -ne 1 ]]; then
    echo "FAIL $name: error is not one line"; echo "$out"; failures=$((failures + 1)); return
  fi
  passed=$((passed + 1))
}

expect info 0 'parameters +[0-9,]+' -- info "$sample"
expect info_heads 0 'heads +4 \(kv heads 2' -- info "$sample"
expect run 0 'top next tokens' -- run "$sample" --ids 1,2,3,4,5 --layer 1 --head 0
expect run_row 0 '^ +4 +5 [01]\.[0-9]{6}$' -- run "$sample" --ids 1,2,3,4,5 --normalizer ssmax:s=0.5,b=0.1
expect run_logn 0 'normalizer logn:L=2' -- run "$sample" --ids 1,2,3,4,5 --normalizer logn:L=2
expect help 0 'Subcommands' -- --help
expect no_subcommand 2 'subcommand' --
expect bad_option 2 'not expected|following argument' -- run "$sample" --ids 1 --bogus
expect missing_dir 1 'error: .*cannot open' -- info "$work/nope"
expect bad_normalizer 1 "error: normalizer: unknown kind 'sparsemax'" -- run "$sample" --ids 1,2 --normalizer sparsemax
expect learned_missing 1 'no learned SSMax' -- run "$sample" --ids 1,2 --normalizer ssmax
expect bad_id 1 'token id 100000 is outside the vocabulary' -- run "$sample" --ids 1,100000
expect bad_layer 1 'layer 9 is outside' -- run "$sample" --ids 1,2 --layer 9
expect bad_ids_text 2 'ids' -- run "$sample" --ids 1,x

# Text prompts through a byte tokenizer declared in config.json (ids = bytes; "Hi" stays inside the vocabulary).
cp -r "$sample" "$work/bytes"
sed -i 's/"model_type"/"attnscope_tokenizer": "bytes", "model_type"/' "$work/bytes/config.json"
expect tokenize 0 '^ +2 +10  ↵$' -- tokenize "$work/bytes" --text $'Hi\n'
expect run_text 0 'top next tokens' -- run "$work/bytes" --text Hi
printf 'Hi' > "$work/prompt.txt"
expect run_prompt_file 0 '2 tokens' -- run "$work/bytes" --prompt-file "$work/prompt.txt"
expect no_tokenizer 1 'error: .*tokenizer' -- tokenize "$sample" --text Hi
expect two_prompts 2 'prompt|excludes|at most 1' -- run "$sample" --ids 1 --text Hi
expect bad_utf8 1 'not valid UTF-8 at byte 1' -- tokenize "$work/bytes" --text $'H\xff'

# A truncated checkpoint: one-line error, no crash.
cp -r "$sample" "$work/truncated"
truncate -s 100 "$work/truncated/model.safetensors"
expect truncated 1 'error: .*model\.safetensors' -- info "$work/truncated"

# train and eval on a tiny generated corpus ("zippy" is a held-out file name): a few steps of a tiny model.
mkdir -p "$work/corpus"
for i in $(seq 1 300); do printf 'The quiet cat number %d sat on a warm mat and dreamed.\n%%\n' "$i"; done > "$work/corpus/alpha"
for i in $(seq 1 100); do printf 'Rain fell over town %d while nobody hurried.\n%%\n' "$i"; done > "$work/corpus/zippy"
tiny=(--steps 3 --batch 2 --context 32 --layers 1 --heads 2 --d-model 16 --d-ff 32 --needle-share 0
      --text-dir "$work/corpus" --log-every 1)
expect train 0 'saved .* after 3 steps' -- train "$work/tiny" --normalizer ssmax --ssmax-bias "${tiny[@]}"
expect train_progress 0 '^step 2/3  loss [0-9.]+  lr .* tok/s  elapsed 0:00:[0-9]{2}  eta ' -- \
  train "$work/tiny2" "${tiny[@]}" --threads 1
expect train_info 0 'learned s per head and bias b' -- info "$work/tiny"
expect train_resume_none 1 'error: resume: no checkpoint' -- train "$work/tiny3" "${tiny[@]}" --resume
expect train_bad_normalizer 2 'sparsemax' -- train "$work/tiny4" --normalizer sparsemax
expect train_needle_context 1 'error: .*too short for the needle task' -- \
  train "$work/tiny5" --context 32 --needle-share 0.5 --text-dir "$work/corpus"
expect train_no_corpus 1 'error: corpus: cannot read directory' -- train "$work/tiny6" "${tiny[@]:0:16}" \
  --text-dir "$work/none"
eval_args=(--lengths 200 --depths 0,1 --prompts 1 --loss-sequences 1 --text-dir "$work/corpus")
expect eval 0 'needle retrieval' -- eval "$work/tiny" --normalizer ssmax "${eval_args[@]}" --csv "$work/eval.csv"
if head -1 "$work/eval.csv" 2>/dev/null | grep -q '^metric,normalizer,rope_theta,length,depth'; then
  passed=$((passed + 1))
else
  echo "FAIL eval_csv: no CSV header in $work/eval.csv"; failures=$((failures + 1))
fi
expect eval_rope 0 'rope_theta 500000' -- eval "$work/tiny2" --normalizer ssmax:ctx=32 --rope-theta-scale 50 \
  "${eval_args[@]}"
expect eval_not_bytes 1 'error: eval: .*not a byte-level model' -- eval "$sample" "${eval_args[@]}"
expect eval_short 1 'shorter than a needle prompt' -- eval "$work/tiny" --lengths 40 --text-dir "$work/corpus"

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
