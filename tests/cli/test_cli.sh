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
# The default thread count follows the CPUs the process may use (a Slurm allocation, taskset), not the machine.
if out=$(taskset -c 0 "$cli" run "$sample" --ids 1,2,3 2>&1) && grep -q 'CPU, 1 threads' <<<"$out"; then
  passed=$((passed + 1))
else
  echo "FAIL threads_follow_affinity: $(grep -o 'CPU, [0-9]* threads' <<<"$out")"; failures=$((failures + 1))
fi
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

# Captures: two runs of one prompt, an appended third run, refusals that leave the file as it was.
cap="$work/cap.h5"
prompt=$(printf 'THE NEEDLE IS 4821. %.0s' {1..12})
expect capture 0 '2 run\(s\) captured, 240 tokens, 2 head map' -- \
  capture "$work/bytes" --text "$prompt" -n softmax -n ssmax:s=0.5,b=0.1 --maps 1.0,1.3 --targets 14:18 --out "$cap"
expect capture_append 0 '1 run\(s\) captured' -- capture "$work/bytes" --text "$prompt" -n logn:L=16 --out "$cap"
before=$(md5sum <"$cap")
expect capture_duplicate 1 "error: .*run 'softmax' already exists" -- capture "$work/bytes" --text "$prompt" -n softmax --out "$cap"
expect capture_other_prompt 1 'error: .*tokens' -- capture "$work/bytes" --text "OTHER" -n ssmax:s=1 --out "$cap"
if [[ $(md5sum <"$cap") == "$before" ]]; then passed=$((passed + 1)); else echo "FAIL refused captures changed the file"; failures=$((failures + 1)); fi
expect stats 0 'run ssmax:s=0.5,b=0.1 +normalizer ssmax:s=0.5,b=0.1 +complete' -- stats "$cap"
expect stats_three_runs 0 'run logn:L=16 ' -- stats "$cap"
expect stats_csv 0 '' -- stats "$cap" --csv "$work/curves.csv" --theory 0.43
if grep -q '^softmax,"softmax",max_prob,-1,-1,' "$work/curves.csv" && grep -q ',target_mass,1,3,' "$work/curves.csv" &&
   grep -q '^theory_fig1,"softmax",max_prob,-1,-1,128,128,128,0.53887' "$work/curves.csv"; then
  passed=$((passed + 1))
else
  echo "FAIL stats --csv lacks the all-heads max_prob curve, a per-head target_mass curve or the theory curve"; failures=$((failures + 1))
fi

# export hands its arguments to the GUI binary beside the CLI (`attnscope --export`), when the GUI was built;
# a CLI without it says so in one line.
if [[ -x "$(dirname "$cli")/attnscope" ]]; then
  # Qt warns on stderr when XDG_RUNTIME_DIR is unset (ctest as root): give it one, so errors stay one line.
  mkdir -m 700 "$work/xdg"
  saved_xdg=${XDG_RUNTIME_DIR-}
  export XDG_RUNTIME_DIR="$work/xdg"
  expect export_heads 0 'heads\.png$' -- export "$cap" --figure heads --out "$work/heads.png"
  if [[ $(head -c 4 "$work/heads.png" | tail -c 3) == PNG ]]; then
    passed=$((passed + 1))
  else
    echo "FAIL export_heads_png: $work/heads.png is not a PNG"; failures=$((failures + 1))
  fi
  # The head grid exports the per-head summary that stats --heads prints (run softmax, layer 1, head 3).
  expect export_grid 0 'grid\.csv$' -- export "$cap" --figure head-grid --run softmax --stat target_mass \
    --out "$work/grid.csv"
  grid_value=$(awk -F, '$1 == 1 && $2 == 3 {print $3}' "$work/grid.csv")
  cli_value=$("$cli" stats "$cap" --heads | awk '/^run /{run = $2} run == "softmax" && $1 == 1 && $2 == 3 {print $5}')
  if awk -v a="$grid_value" -v b="$cli_value" 'BEGIN {exit !(a != "" && b != "" && a - b < 6e-5 && b - a < 6e-5)}'; then
    passed=$((passed + 1))
  else
    echo "FAIL export_grid_matches_stats: head grid $grid_value, stats --heads $cli_value"; failures=$((failures + 1))
  fi
  expect export_bad_figure 1 'unknown figure bogus' -- export "$cap" --figure bogus --out "$work/x.png"
  export XDG_RUNTIME_DIR="$saved_xdg"
  [[ -n $saved_xdg ]] || unset XDG_RUNTIME_DIR
fi
mkdir -p "$work/lonely" && cp "$cli" "$work/lonely/attnscope-cli"
real_cli=$cli
cli="$work/lonely/attnscope-cli"
expect export_no_gui 1 'error: export needs the attnscope GUI binary' -- export "$cap" --figure heads --out "$work/y.png"
cli=$real_cli
expect export_no_args 2 'needs a capture file' -- export

printf 'not hdf5' >"$work/foreign.h5"
expect stats_foreign 1 'error: .*foreign.h5' -- stats "$work/foreign.h5"
expect capture_bad_maps 1 "error: --maps '9.0'" -- capture "$work/bytes" --text "$prompt" -n softmax --maps 9.0 --out "$work/c2.h5"
# Request fields are checked before the file exists; their errors name the flag that set them.
expect capture_bad_names 1 'error: --name has 1 name\(s\) for 2 normalizer\(s\): give one per normalizer$' -- \
  capture "$work/bytes" --text "$prompt" -n softmax -n logn:L=16 --name only --out "$work/c2.h5"
expect capture_bad_targets 1 "error: --targets '230:250' is not a token range BEGIN:END within 0..240$" -- \
  capture "$work/bytes" --text "$prompt" -n softmax --targets 230:250 --out "$work/c2.h5"
expect capture_bad_spec_first 1 "error: normalizer: " -- capture "$work/bytes" --text "$prompt" -n softmax -n sparsemax --out "$work/c2.h5"
[[ ! -e $work/c2.h5 ]] && passed=$((passed + 1)) || { echo "FAIL a refused capture created its file"; failures=$((failures + 1)); }

# Captures whose attributes lie (issue 11), each a copy of $cap edited with h5py: stats, stats --csv --theory
# and export give one line naming the file, run and dataset, and exit 1 — no crash, no huge allocation.
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  lie() {  # lie NAME STATEMENT: $work/NAME.h5 is $cap after STATEMENT ran with f open as the h5py.File
    cp "$cap" "$work/$1.h5"
    /usr/bin/python3 -c "import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'r+') as f:
    $2" "$work/$1.h5" "$cap"
  }
  says='but the run.s n_layer, n_head, n_tokens say'
  lie n_head_big "f['runs/softmax'].attrs['n_head'] = np.int64(9)"
  expect lie_n_head 1 "error: .*n_head_big.h5: run 'softmax': dataset '/runs/softmax/stats/[a-z_]+' is \[2, 4, 240\] $says \[2, 9, 240\]$" -- stats "$work/n_head_big.h5"
  lie n_tokens_big "f['runs/softmax'].attrs['n_tokens'] = np.int64(2**40)"
  expect lie_n_tokens 1 "run 'softmax': attribute n_tokens = 1099511627776 is outside \[1, 240\] \(the file.s /tokens/ids\)$" -- stats "$work/n_tokens_big.h5"
  lie n_tokens_short "f['runs/ssmax:s=0.5,b=0.1'].attrs['n_tokens'] = np.int64(100)"
  expect lie_n_tokens_short 1 "run 'ssmax:s=0.5,b=0.1': dataset '.*' is \[2, 4, 240\] $says \[2, 4, 100\]$" -- stats "$work/n_tokens_short.h5"
  lie n_tokens_zero "f['runs/softmax'].attrs['n_tokens'] = np.int64(0)"
  expect lie_n_tokens_zero 1 "attribute n_tokens = 0 is outside \[1, 240\]" -- stats "$work/n_tokens_zero.h5"
  lie n_tokens_negative "f['runs/logn:L=16'].attrs['n_tokens'] = np.int64(-3)"
  expect lie_n_tokens_negative 1 "run 'logn:L=16': attribute n_tokens = -3 is outside \[1, 240\]" -- stats "$work/n_tokens_negative.h5"
  lie huge_stat "f['runs/softmax/stats'].create_dataset('huge', shape=(2, 2, 2**31), dtype='f4', chunks=(1, 1, 4096))"
  expect lie_huge_stat 1 "dataset '/runs/softmax/stats/huge' is \[2, 2, 2147483648\] $says \[2, 4, 240\]$" -- stats "$work/huge_stat.h5" --csv "$work/huge.csv"
  lie flat_stat "f['runs/softmax/stats'].create_dataset('flat', shape=(240,), dtype='f4')"
  expect lie_rank 1 "dataset '/runs/softmax/stats/flat' is \[240\] $says \[2, 4, 240\]$" -- stats "$work/flat_stat.h5"
  lie external "f['runs/ext'] = h5py.ExternalLink(sys.argv[2], '/runs/softmax')"
  expect lie_external_link 1 "external.h5: 'runs/ext' is an external link; captures are read through hard links only$" -- stats "$work/external.h5"
  lie soft "f['runs/alias'] = h5py.SoftLink('/runs/softmax')"
  expect lie_soft_link 1 "soft.h5: 'runs/alias' is a soft link; captures are read through hard links only$" -- stats "$work/soft.h5"
  lie escaped "f['runs'][b'evil\\x1b[2J\\xff'] = h5py.SoftLink('/runs/softmax')"
  expect lie_escaped 1 "'runs/evil\\\\x1B\[2J\\\\xFF' is a soft link" -- stats "$work/escaped.h5"
  lie tokens_2e40 "del f['tokens/ids']; f.create_dataset('tokens/ids', shape=(2**40,), dtype='i8', chunks=(4096,))"
  expect lie_theory_2e40 1 "tokens_2e40.h5: dataset /tokens/ids holds 1099511627776 tokens, outside \[1, 16777216\]$" -- stats "$work/tokens_2e40.h5" --csv "$work/t.csv" --theory 0.43
  if [[ -x "$(dirname "$cli")/attnscope" ]]; then
    mkdir -p -m 700 "$work/xdg"
    for name in n_head_big n_tokens_zero huge_stat external; do
      XDG_RUNTIME_DIR="$work/xdg" expect "lie_export_$name" 1 "^attnscope: .*$name.h5: " -- export "$work/$name.h5" --figure heads --out "$work/lie.png"
    done
    [[ ! -e $work/lie.png ]] && passed=$((passed + 1)) || { echo "FAIL export of a lying capture wrote a figure"; failures=$((failures + 1)); }
  fi
fi

# kill -9 during a capture: the file still opens, earlier runs read back bit-identical, the killed run is
# marked incomplete. The second process appends two runs with every map; it is killed once the first is complete.
if command -v h5dump >/dev/null; then
  long=$(printf 'A HAYSTACK OF 3000 BYTES, 1234. %.0s' {1..94})
  kcap="$work/killed.h5"
  "$cli" capture "$work/bytes" --text "$long" -n softmax --out "$kcap" >/dev/null 2>&1
  dump_before=$(h5dump -g /runs/softmax "$kcap" | md5sum)
  "$cli" capture "$work/bytes" --text "$long" -n ssmax:s=0.5 -n logn:L=16 --maps all --out "$kcap" \
    >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 600); do  # readers may open the file while the capture writes
    "$cli" stats "$kcap" 2>/dev/null | grep -q 'run ssmax:s=0.5 .* complete ' && break
    sleep 0.1
  done
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null
    out=$("$cli" stats "$kcap" 2>&1)
    if [[ $(h5dump -g /runs/softmax "$kcap" | md5sum) == "$dump_before" ]] &&
       grep -q 'run ssmax:s=0.5 .* complete ' <<<"$out" &&
       ! grep -q 'run logn:L=16 .* complete ' <<<"$out"; then
      passed=$((passed + 1))
    else
      echo "FAIL kill -9 during capture"; echo "$out" | grep '^run'; failures=$((failures + 1))
    fi
  else
    echo "FAIL kill -9 during capture: the capture ended before the kill (make it longer)"; failures=$((failures + 1))
  fi
fi

# The README's h5py snippet reads the capture (Debian's python3 with python3-h5py).
readme=$(dirname "$0")/../../README.md
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  sed -n '/<!-- h5py-snippet -->/,/<!-- \/h5py-snippet -->/p' "$readme" | sed '1,2d;$d' | sed '$d' >"$work/snippet.py"
  out=$(/usr/bin/python3 "$work/snippet.py" "$cap" 2>&1)
  if grep -q '^ssmax:s=0.5,b=0.1 ssmax:s=0.5,b=0.1 complete$' <<<"$out" && grep -q 'blocks.1.attn.hook_pattern head_3 (240, 240)' <<<"$out"; then
    passed=$((passed + 1))
  else
    echo "FAIL README h5py snippet"; echo "$out" | head -5; failures=$((failures + 1))
  fi
fi

# The bundled trained pair loads like any checkpoint and retrieves the needle of the 256-token prompt: its answer
# starts with the digit 4 (byte 52), predicted with p > 0.9 by both models.
samples=$(dirname "$sample")
expect sample_softmax 0 '^  id 52 +p 0\.9' -- run "$samples/bytes-softmax" --prompt-file "$samples/prompts/needle-256.txt"
expect sample_ssmax 0 '^  id 52 +p 0\.9' -- run "$samples/bytes-ssmax" --normalizer ssmax \
  --prompt-file "$samples/prompts/needle-256.txt"
expect sample_ssmax_info 0 'layer 2 +s: min' -- info "$samples/bytes-ssmax"

# A truncated checkpoint: one-line error, no crash.
cp -r "$sample" "$work/truncated"
truncate -s 100 "$work/truncated/model.safetensors"
expect truncated 1 'error: .*model\.safetensors' -- info "$work/truncated"

# Model ids from the local Hugging Face cache (issue 13), never the network: a fake models--Org--Tiny whose
# snapshot links into blobs/ (the sample checkpoint, and the byte-tokenizer config as a tagged revision).
hub="$work/hub/models--Org--Tiny"
main_hash=0123456789abcdef0123456789abcdef01234567
tag_hash=fedcba9876543210fedcba9876543210fedcba98
mkdir -p "$hub/blobs" "$hub/refs" "$hub/snapshots/$main_hash" "$hub/snapshots/$tag_hash"
cp "$sample/config.json" "$hub/blobs/c0nf16"
cp "$work/bytes/config.json" "$hub/blobs/b7735"
cp "$sample/model.safetensors" "$hub/blobs/5afe7e"
ln -s ../../blobs/c0nf16 "$hub/snapshots/$main_hash/config.json"
ln -s ../../blobs/5afe7e "$hub/snapshots/$main_hash/model.safetensors"
ln -s ../../blobs/b7735 "$hub/snapshots/$tag_hash/config.json"
ln -s ../../blobs/5afe7e "$hub/snapshots/$tag_hash/model.safetensors"
printf '%s' "$main_hash" >"$hub/refs/main"
printf '%s' "$tag_hash" >"$hub/refs/bytes"
saved_hub=${HF_HUB_CACHE-}; saved_home=${HF_HOME-}; saved_xdg_cache=${XDG_CACHE_HOME-}
export HF_HUB_CACHE="$work/hub" HF_HOME="$work/hf-home" XDG_CACHE_HOME="$work/xdg-cache"
expect hf_info 0 'heads +4 \(kv heads 2' -- info Org/Tiny
expect hf_run 0 'top next tokens' -- run Org/Tiny --ids 1,2,3,4,5
expect hf_revision_tag 0 '^ +2 +10  ↵$' -- tokenize Org/Tiny --revision bytes --text $'Hi\n'
expect hf_revision_hash 0 'top next tokens' -- run Org/Tiny --revision "$tag_hash" --text Hi
expect hf_capture 0 '1 run\(s\) captured' -- capture Org/Tiny --revision bytes --text Hi -n softmax --out "$work/hf.h5"
expect hf_missing_id 1 "error: 'Org/Nope' is neither a directory nor a model in the Hugging Face cache \(searched '$work/hub/models--Org--Nope', '$work/hf-home/hub/models--Org--Nope', '$work/xdg-cache/huggingface/hub/models--Org--Nope'" -- info Org/Nope
expect hf_missing_revision 1 "error: Org/Tiny has no revision 'v9' in .* \(refs: bytes, main; snapshots: 0123456789ab, fedcba987654\)$" -- info Org/Tiny --revision v9
expect hf_revision_of_path 1 "error: revision 'main' applies to a model id" -- info "$sample" --revision main
rm "$hub/blobs/5afe7e"
expect hf_broken_symlink 1 "error: .*/model\.safetensors: is a symbolic link to '\.\./\.\./blobs/5afe7e', which does not resolve" -- info Org/Tiny
mkdir -p "$work/hub/models--Org--Other/blobs" && cp "$sample/model.safetensors" "$work/hub/models--Org--Other/blobs/5afe7e"
ln -sf ../../../models--Org--Other/blobs/5afe7e "$hub/snapshots/$main_hash/model.safetensors"
expect hf_symlink_leaves_repo 1 "error: .*/model\.safetensors: resolves to '.*models--Org--Other/blobs/5afe7e', outside the model directory" -- info Org/Tiny
export HF_HUB_CACHE="$saved_hub" HF_HOME="$saved_home" XDG_CACHE_HOME="$saved_xdg_cache"
[[ -n $saved_hub ]] || unset HF_HUB_CACHE
[[ -n $saved_home ]] || unset HF_HOME
[[ -n $saved_xdg_cache ]] || unset XDG_CACHE_HOME

# Malformed input from anywhere (issue 11): one-line errors, in milliseconds, never a crash or a huge allocation.
mkdir -p "$work/bad_tok"
printf '{"model":{"type":"BPE","vocab":{"a":-1},"merges":[]}}' > "$work/bad_tok/tokenizer.json"
expect tokenizer_negative_id 1 "error: .*id of token 'a' in model.vocab must be an integer from 0 to 255, not -1" -- \
  tokenize "$work/bad_tok" --text a
{ printf '{"normalizer":'; for i in $(seq 2000); do printf '{"type":"Sequence","normalizers":['; done
  printf 'null'; for i in $(seq 2000); do printf ']}'; done; printf ',"model":{"type":"BPE","vocab":{},"merges":[]}}'
} > "$work/bad_tok/tokenizer.json"
expect tokenizer_nested 1 'error: .*tokenizer.json nests arrays and objects more than 64 deep' -- \
  tokenize "$work/bad_tok" --text a
cp -r "$sample" "$work/layers"
sed -i 's/"num_hidden_layers": *[0-9]*/"num_hidden_layers": 1000000/' "$work/layers/config.json"
expect config_layers 1 'error: .*config.json: asks for at least .* parameters .* but the checkpoint holds' -- \
  info "$work/layers"
expect config_layers_capture 1 'error: .*config.json: asks for at least' -- \
  capture "$work/layers" --ids 1,2 --normalizer softmax --out "$work/layers.h5"
sed -i 's/"num_hidden_layers": *[0-9]*/"num_hidden_layers": 1000000000/' "$work/layers/config.json"
expect config_layers_limit 1 "error: .*config.json: 'num_hidden_layers' is 1000000000, above the limit of 16777216" -- \
  info "$work/layers"

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
expect eval_no_tokenizer 1 'error: .*tokenizer' -- eval "$sample" "${eval_args[@]}"
expect eval_short 1 'cannot hold the needle' -- eval "$work/tiny" --lengths 40 --text-dir "$work/corpus"
expect train_init 0 'saved .* after 3 steps' -- train "$work/tiny7" --normalizer ssmax --ssmax-bias "${tiny[@]}" \
  --init-from "$work/tiny"
if grep -q '"init_from_training"' "$work/tiny7/config.json" 2>/dev/null; then
  passed=$((passed + 1))
else
  echo "FAIL train_init_config: no init_from_training in $work/tiny7/config.json"; failures=$((failures + 1))
fi
expect train_init_mismatch 1 'error: .*tensor' -- train "$work/tiny8" --normalizer ssmax --ssmax-bias --steps 1 \
  --batch 2 --context 32 --layers 1 --heads 2 --d-model 16 --d-ff 48 --needle-share 0 --text-dir "$work/corpus" \
  --init-from "$work/tiny"
# Two models on one prompt in one capture file: refused without --other-weights, recorded per run with it.
expect capture_first 0 '1 run\(s\) captured' -- capture "$work/tiny" --ids 72,105,33,10,72,105 -n ssmax \
  --out "$work/two.h5"
expect capture_other_refused 1 'holds a capture of different weights' -- capture "$work/tiny2" \
  --ids 72,105,33,10,72,105 -n softmax --out "$work/two.h5"
expect capture_other 0 '1 run\(s\) captured' -- capture "$work/tiny2" --ids 72,105,33,10,72,105 -n softmax \
  --name tiny2 --other-weights --out "$work/two.h5"
expect stats_other 0 'model .*tiny2 \(other weights' -- stats "$work/two.h5"
expect needle 0 '^needle [0-9]+:[0-9]+  digits [0-9]+:[0-9]+  answer [0-9]{7}' -- \
  needle "$work/needle.txt" --length 400 --depth 0.25 --seed 7 --text-dir "$work/corpus"
if [[ $(stat -c %s "$work/needle.txt" 2>/dev/null) == 400 ]] && grep -q 'special magic' "$work/needle.txt"; then
  passed=$((passed + 1))
else
  echo "FAIL needle_file: $work/needle.txt is not a 400-byte needle prompt"; failures=$((failures + 1))
fi
expect needle_short 1 'error: needle prompt: 10 bytes cannot hold' -- needle "$work/n2.txt" --length 10 \
  --text-dir "$work/corpus"

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
