#!/usr/bin/env bash
# attnscope-cli merge on the sweep samples (test_sweep_file's SweepSamples, known records): three shards merge
# into the unsharded file record for record (compared with h5py, independently of the C++ reader), missing and
# duplicated cells are reported, a shard of other weights is refused with one line and no file, and the README's
# sweep h5py snippet reads the merged file: the same output as on the unsharded one, and the retrieval grid the
# records were made with.
# Usage: test_sweep_cli.sh CLI SAMPLES_DIR README
set -uo pipefail
cli=$1
samples=$2
readme=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
check() {  # check NAME CONDITION-EXIT-CODE [DETAIL]
  if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else echo "FAIL $1${3:+: $3}"; failures=$((failures + 1)); fi
}

out=$("$cli" merge "$work/merged.h5" "$samples/shard2.h5" "$samples/shard0.h5" "$samples/shard1.h5" 2>&1)
rc=$?
expected="merged 3 shard files into $work/merged.h5: 24 records (12 cells x 2 normalizers)
missing: none
duplicated (equal records, kept once): none"
[[ $rc -eq 0 && "$out" == "$expected" ]]
check merge $? "exit $rc, output: $out"

# Shard 0 twice and nothing else: shard 1 and 2's cells are missing, shard 0's are held twice (equal).
out=$("$cli" merge "$work/partial.h5" "$samples/shard0.h5" "$samples/shard0.h5" 2>"$work/err.txt")
rc=$?
grep -qx 'missing: 8 cells: 1 (length 16, depth 0, prompt 1), 2 (length 16, depth 0.5, prompt 0), .*' <<<"$out" &&
  grep -qx 'duplicated (equal records, kept once): 4 cells: 0 (length 16, depth 0, prompt 0), 3 (length 16, depth 0.5, prompt 1), 6 (length 40, depth 0, prompt 0), 9 (length 40, depth 0.5, prompt 1)' <<<"$out" &&
  grep -q 'warning: 8 cells lack a record' "$work/err.txt" && [[ $rc -eq 0 ]]
check merge_report $? "exit $rc, output: $out"

# A shard of other weights: refused with one line, exit 1, no output file.
"$cli" merge "$work/bad.h5" "$samples/shard1.h5" "$samples/other.h5" >"$work/out.txt" 2>"$work/err.txt"
rc=$?
expected="attnscope-cli: error: $samples/other.h5: cannot be merged with $samples/shard1.h5: weights hash '00112233aabbccdd' vs 'ffffffffffffffff'"
[[ $rc -eq 1 && "$(cat "$work/err.txt")" == "$expected" && ! -e "$work/bad.h5" ]]
check merge_refused $? "exit $rc, stderr: $(cat "$work/err.txt")"
"$cli" merge "$work/merged.h5" "$samples/shard0.h5" >/dev/null 2>"$work/err.txt"
rc=$?
[[ $rc -eq 1 && $(wc -l <"$work/err.txt") -eq 1 ]] && grep -q 'already exists' "$work/err.txt"
check merge_exists $? "exit $rc, stderr: $(cat "$work/err.txt")"

if ! /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  echo "SKIP h5py checks: /usr/bin/python3 has no h5py (apt-get install python3-h5py)"
else
  # Record for record, read with h5py alone: every dataset's rows, ordered by cell, and the headers.
  /usr/bin/python3 - "$work/merged.h5" "$samples/whole.h5" <<'EOF'
import sys
import h5py
import numpy as np

def read(path):
    with h5py.File(path, "r") as f:
        header = {g: dict(f[g].attrs) for g in ("grid", "model")}
        records = {}
        for group in f["normalizers"].values():
            n = group.attrs["n_records"]
            order = np.argsort(group["cell"][:n], kind="stable")
            records[group.attrs["normalizer"]] = {name: group[name][:n][order] for name in group}
        return header, records, (int(f.attrs["shard_k"]), int(f.attrs["shard_n"]))

(ha, ra, sa), (hb, rb, sb) = read(sys.argv[1]), read(sys.argv[2])
assert sa == sb == (0, 1), (sa, sb)
assert repr(ha) == repr(hb), "headers differ"
assert ra.keys() == rb.keys() and len(ra) == 2, (ra.keys(), rb.keys())
for normalizer, columns in ra.items():
    assert len(columns["cell"]) == 12 and list(columns["cell"]) == list(range(12))
    for name, values in columns.items():
        other = rb[normalizer][name]
        same = values.dtype == other.dtype and values.shape == other.shape and \
            (list(values) == list(other) if values.dtype == object else values.tobytes() == other.tobytes())
        assert same, (normalizer, name)
print("merged equals unsharded")
EOF
  check h5py_records $?

  sed -n '/<!-- sweep-h5py-snippet -->/,/<!-- \/sweep-h5py-snippet -->/p' "$readme" | sed '1,2d;$d' | sed '$d' \
    >"$work/snippet.py"
  merged=$(/usr/bin/python3 "$work/snippet.py" "$work/merged.h5" 2>&1)
  rc=$?
  whole=$(/usr/bin/python3 "$work/snippet.py" "$samples/whole.h5" 2>&1)
  [[ $rc -eq 0 && "$merged" == "$whole" ]]
  check readme_snippet_runs $? "exit $rc: $merged"
  # The samples' records (sweep_test_support.h): correct where (cell + normalizer) % 3 == 0.
  expected="needle sweep, 2 layers x 3 heads, lengths [16, 40] depths [0.0, 0.5, 1.0] shard 0 of 1
softmax 12 records, retrieval 0.333
  length 16: 0.50 0.50 0.00
  length 40: 0.50 0.50 0.00"
  [[ "$(head -4 <<<"$merged")" == "$expected" ]]
  check readme_snippet_grid $? "$(head -4 <<<"$merged")"
  grep -qx 'ssmax:s=0.3 12 records, retrieval 0.333' <<<"$merged" &&
    grep -qx '  length 40: 0.00 0.50 0.50' <<<"$merged" && grep -q '^  top needle head (layer, head): ' <<<"$merged" &&
    grep -q '^  max_prob of head 0.0 by bin: \[' <<<"$merged"
  check readme_snippet_lines $? "$merged"
fi

echo "test_sweep_cli: $passed passed, $failures failed"
[[ $failures -eq 0 ]]
