#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang 14, ASan + UBSan, GUI-less, in build-asan-clang/ unless BUILD_DIR is set)
# and runs each for SECONDS (default 60), starting from its committed seed corpus:
#   scripts/fuzz.sh [SECONDS] [HARNESS...]        e.g. scripts/fuzz.sh 600 fuzz_capture
# New corpus entries go to <build>/fuzz-corpus/<harness> (the committed seeds are only read); a crash, leak,
# out-of-memory or timeout is written to <build>/fuzz-findings/<harness>/ and makes the script exit 1.
# Limits: one allocation over 256 MB (-malloc_limit_mb) or 2 GB RSS is a finding, and so is one input taking
# over 10 s: files of a few kB must not ask for gigabytes or minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-asan-clang}
seconds=${1:-60}
[[ $# -gt 0 ]] && shift
all=(fuzz_safetensors fuzz_config fuzz_tokenizer_json fuzz_gpt2_files fuzz_encode fuzz_capture fuzz_sweep)
harnesses=("$@")
((${#harnesses[@]})) || harnesses=("${all[@]}")

bash "$root/scripts/setup.sh"
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DATTNSCOPE_BUILD_GUI=OFF -DATTNSCOPE_BUILD_BENCHMARKS=OFF -DATTNSCOPE_BUILD_FUZZERS=ON >/dev/null
cmake --build "$build" --parallel "${JOBS:-$(nproc)}" --target "${harnesses[@]}"
source "$root/scripts/sanitizer-env.sh"

# Inputs as large as the interesting files: the capture seeds are 30-70 kB of HDF5, and JSON must be able to
# nest deep enough to show unbounded recursion. A 2 MB stack (not 8) makes that depth reachable: under ASan a
# safetensors shape nested ~20,000 deep (40 kB) or a tokenizer normalizer ~3,000 deep (108 kB) overflows it.
max_len() {
  case $1 in
    fuzz_capture | fuzz_sweep | fuzz_tokenizer_json) echo 131072 ;;
    fuzz_encode) echo 4096 ;;
    *) echo 65536 ;;
  esac
}
ulimit -s 2048

status=0
summary=()
for h in "${harnesses[@]}"; do
  work="$build/fuzz-corpus/$h" findings="$build/fuzz-findings/$h"
  mkdir -p "$work" "$findings"
  log="$build/fuzz-$h.log"
  args=(-max_total_time="$seconds" -max_len="$(max_len "$h")" -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10
        -artifact_prefix="$findings/" -print_final_stats=1)
  [[ $h == fuzz_encode || $h == fuzz_capture || $h == fuzz_sweep ]] || args+=(-dict="$root/tests/fuzz/json.dict")
  # HDF5's own leaks on a failed open are suppressed by function name (tests/sanitizers/lsan.supp), which needs
  # the slow unwinder through libhdf5 (no frame pointers): about half the executions per second.
  unwind=()
  [[ $h == fuzz_capture || $h == fuzz_sweep ]] && unwind=(env "ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0")
  echo "fuzz: $h for ${seconds}s (log $log)"
  rc=0
  "${unwind[@]}" "$build/tests/fuzz/$h" "${args[@]}" "$work" "$root/tests/fuzz/corpus/$h" >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || echo 'cov: ?')
  if ((rc != 0)); then
    status=1
    summary+=("$(printf '%-20s FAILED (exit %d) %s execs, %s/s, %s; see %s and %s' "$h" "$rc" "$execs" "$rate" "$cov" "$log" "$findings")")
    grep -m1 -E 'ERROR: |runtime error|contract violated|out-of-memory|timeout' "$log" || true
  else
    summary+=("$(printf '%-20s ok  %9s execs  %6s exec/s  %s' "$h" "$execs" "$rate" "$cov")")
  fi
done
echo
printf '%s\n' "${summary[@]}"
if ((status)); then
  echo "fuzz: findings above; keep each crashing input under tests/fuzz/findings/<harness>/ until it is fixed," \
       "then move it into tests/fuzz/corpus/<harness>/ as a regression seed"
fi
exit $status
