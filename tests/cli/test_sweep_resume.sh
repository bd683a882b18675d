#!/usr/bin/env bash
# A sweep killed with SIGKILL mid-way, then continued with --resume, equals an uninterrupted run record for
# record; SIGTERM cancels between prompts (exit 130) keeping every finished record. Usage:
# test_sweep_resume.sh CLI MODEL_DIR PYTHON
set -uo pipefail
cli=$1
model=$2
python=${3:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL $*"; exit 1; }

# 2 lengths x 3 depths x 2 prompts x 2 normalizers = 24 records; one compute thread, as the rounding of sums
# depends on the thread count.
args=(--threads 1 sweep "$model" --needle -n softmax -n ssmax:ctx=256 --lengths 512,1536 --depths 0,0.5,1
      --prompts 2)
records() { "$python" -c 'import h5py,sys; f=h5py.File(sys.argv[1],"r"); print(sum(int(g.attrs["n_records"]) for g in f["normalizers"].values()))' "$1"; }

"$cli" "${args[@]}" --seed 3 --out "$work/full.h5" >"$work/full.txt" 2>"$work/full.err" || { cat "$work/full.err"; fail "uninterrupted sweep"; }
grep -q '24 record(s) written' "$work/full.txt" || { cat "$work/full.txt"; fail "uninterrupted sweep wrote other than 24 records"; }
grep -Eq '^  softmax +[0-9]+% \[[0-9]+-[0-9]+\] +[0-9]+% \[[0-9]+-[0-9]+\]$' "$work/full.txt" || { cat "$work/full.txt"; fail "no retrieval summary"; }

# stopped: NAME SIGNAL starts a sweep into NAME.h5 and sends SIGNAL once its first record is on disk.
stopped() {
  "$cli" "${args[@]}" --seed 3 --out "$work/$1.h5" >"$work/$1.txt" 2>"$work/$1.err" &
  pid=$!
  for _ in $(seq 600); do grep -q 'prompts [1-9]' "$work/$1.err" 2>/dev/null && break; sleep 0.05; done
  kill -"$2" "$pid"
  wait "$pid"
  status=$?
  pid=
  n=$(records "$work/$1.h5")
  echo "$1: signal $2 after $n of 24 records (exit $status)"
  [[ $n -gt 0 && $n -lt 24 ]] || fail "$1: $n records when stopped (not mid-sweep)"
}

stopped killed KILL
[[ $status -eq 137 ]] || fail "killed: exit $status"
"$cli" "${args[@]}" --seed 3 --out "$work/killed.h5" >"$work/resume.txt" 2>&1 && fail "a second run without --resume was accepted"
"$cli" "${args[@]}" --seed 3 --out "$work/killed.h5" --resume >"$work/resume.txt" 2>&1 || { cat "$work/resume.txt"; fail "resume"; }
grep -Eq "$((24 - n)) record\(s\) written, $n already stored" "$work/resume.txt" || { cat "$work/resume.txt"; fail "resume counts"; }
"$python" "$here/compare_sweeps.py" "$work/full.h5" "$work/killed.h5" || fail "killed + resumed differs from uninterrupted"

stopped terminated TERM
[[ $status -eq 130 ]] || fail "terminated: exit $status, expected 130"
grep -q 'cancelled: --resume continues' "$work/terminated.txt" || fail "no cancel message"
"$cli" "${args[@]}" --seed 3 --out "$work/terminated.h5" --resume >"$work/resume2.txt" 2>&1 || { cat "$work/resume2.txt"; fail "resume after SIGTERM"; }
"$python" "$here/compare_sweeps.py" "$work/full.h5" "$work/terminated.h5" || fail "terminated + resumed differs"

# A resume with another grid is refused in one line and leaves the file alone.
before=$(md5sum <"$work/full.h5")
out=$("$cli" "${args[@]}" --seed 4 --out "$work/full.h5" --resume 2>&1)
[[ $? -eq 1 && $(wc -l <<<"$out") -eq 1 ]] || { echo "$out"; fail "resume with another seed not refused in one line"; }
[[ $(md5sum <"$work/full.h5") == "$before" ]] || fail "a refused resume changed the file"
echo "PASS test_sweep_resume"
