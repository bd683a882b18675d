#!/usr/bin/env bash
# Sweeps on a real Slurm cluster: brings up a single-node cluster on localhost (cluster.sh), submits
# scripts/slurm/sweep.sbatch as a 3-task array and merge.sbatch with --dependency=afterok on it, exactly as the
# README shows, and checks the merged file against the same sweep run unsharded, record for record. Then cuts a
# shard short, as a kill leaves it, and has Slurm requeue its task; then cuts another and submits the array
# again: each task resumes its shard, only the missing records run, and every shard ends equal to what it was.
# The daemons are always stopped by pid.
# Skips (exit 77) only when not root or the Slurm/munge packages are missing (scripts/setup.sh installs them).
# Usage: test_slurm.sh CLI SAMPLES_DIR SLURM_SCRIPTS_DIR
set -uo pipefail
cli=$1 samples=$2 scripts=$3
here=$(cd "$(dirname "$0")" && pwd)

skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*"
  exit 1
}
((EUID == 0)) || skip "needs root (slurmd runs the jobs and the test's daemons run as root)"
PATH=$PATH:/usr/sbin:/sbin  # the daemons and mungekey live there, which a non-login PATH may leave out
missing=()
for tool in mungekey munged munge unmunge slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
((${#missing[@]} == 0)) || skip "${missing[*]} not installed (scripts/setup.sh installs slurmctld slurmd slurm-client munge)"

source "$here/cluster.sh"
# Record for record with h5py, independently of attnscope's reader.
compare_sweeps() {
  /usr/bin/python3 "$here/../cli/compare_sweeps.py" "$@"
}
work=$(mktemp -d)
on_exit() {
  cluster_stop
  rm -rf "$work"
}
trap on_exit EXIT
trap 'exit 1' INT TERM HUP

# The sweep: small enough for seconds on the bundled byte-level sample, and 12 cells, so each of 3 shards owns 4.
# One thread everywhere: with more, the order of floating-point sums follows the thread count, and records of
# the same prompt would differ in their last bits between the tasks and the unsharded run.
sweep=("$samples/bytes-softmax" --needle --lengths 192,256 --depths 0,0.5,1 --prompts 2 -n softmax -n ssmax:s=0.3
  --threads 1)
export ATTNSCOPE_CLI=$cli

start=$SECONDS
cluster_start "$work/cluster" || fail "cluster did not start"
cluster_wait_idle 30 || fail "node not idle"
echo "cluster up: node idle after $((SECONDS - start)) s"

# The README's two lines.
array=$(sbatch --parsable --array=0-2 --output="$work/sweep-%a.out" "$scripts/sweep.sbatch" "$work/shards" \
  "${sweep[@]}") || fail "sbatch of the array failed"
merge=$(sbatch --parsable --dependency=afterok:"$array" --output="$work/merge.out" "$scripts/merge.sbatch" \
  "$work/shards" "$work/merged.h5") || fail "sbatch of the merge failed"

# The reference, while the cluster works: the same sweep, unsharded, outside Slurm. Every wait is bounded, and
# all of them together stay inside ctest's TIMEOUT, so this script always reaches its trap and stops the daemons.
timeout 180 "$cli" sweep "${sweep[@]}" --out "$work/direct.h5" >"$work/direct.out" 2>&1 ||
  fail "unsharded sweep failed: $(tail -1 "$work/direct.out")"

# Prints "JOB STATE EXIT" for every task of the given jobs (scontrol keeps finished jobs for MinJobAge, 300 s).
job_states() {
  local job
  for job in "$@"; do
    scontrol -o show job "$job" | sed -E 's/.*JobId=([0-9]+) .*JobState=([A-Z_]+) .*ExitCode=([0-9:]+).*/\1 \2 \3/'
  done
}
# Fails unless every task of the jobs completed with exit code 0, showing the job outputs otherwise.
expect_completed() {
  local states
  states=$(job_states "$@")
  if grep -qv ' COMPLETED 0:0$' <<<"$states"; then
    echo "$states"
    tail -n 5 "$work"/*.out
    cluster_logs
    fail "jobs $* did not all complete"
  fi
}

cluster_wait_jobs 180 "$array" "$merge" || fail "jobs did not finish"
expect_completed "$array" "$merge"
echo "array $array (3 tasks) and dependent merge $merge completed after $((SECONDS - start)) s"
compare_sweeps "$work/direct.h5" "$work/merged.h5" || fail "merged sweep differs from the unsharded one"

# A task that Slurm requeues, and an array submitted again, resume their shards. Each time one shard is made to
# look killed after all but its last record under each normalizer (n_records lowered, as a kill between two
# appends leaves it): its task must run exactly those 2 records again, other tasks nothing, and every shard must
# end equal to what it was.
cp -r "$work/shards" "$work/shards-before"
cut_short() {
  /usr/bin/python3 -c '
import sys
import h5py
with h5py.File(sys.argv[1], "r+") as f:
    for group in f["normalizers"].values():
        group.attrs.modify("n_records", group.attrs["n_records"] - 1)
' "$work/shards/shard-$1.h5" || fail "could not cut shard $1 short"
}
# Checks that task output $1 resumed shard $2, wrote $3 records and found $4 stored, and that the shard is whole.
expect_resumed() {
  grep -q -- "shard-$2.h5 --resume" "$1" || fail "$1: shard $2 not resumed: $(head -1 "$1")"
  grep -q " $3 record(s) written, $4 already stored" "$1" ||
    fail "$1: expected $3 records written and $4 stored: $(grep 'record(s) written' "$1")"
  compare_sweeps "$work/shards-before/shard-$2.h5" "$work/shards/shard-$2.h5" || fail "resumed shard $2 differs"
}

# Preemption or node failure: Slurm runs task 1's script again. A requeued job waits for a begin time Slurm sets
# in the future; start it now.
cut_short 1
scontrol requeue "${array}_1" && scontrol update JobId="${array}_1" StartTime=now || fail "requeue of task 1 failed"
cluster_wait_jobs 120 "$array" || fail "requeued task did not finish"
expect_completed "$array"
expect_resumed "$work/sweep-1.out" 1 2 6

# After a failure or a time limit: the same array line again.
cut_short 2
again=$(sbatch --parsable --array=0-2 --output="$work/again-%a.out" "$scripts/sweep.sbatch" "$work/shards" \
  "${sweep[@]}") || fail "sbatch of the second array failed"
cluster_wait_jobs 120 "$again" || fail "second array did not finish"
expect_completed "$again"
expect_resumed "$work/again-0.out" 0 0 8
expect_resumed "$work/again-1.out" 1 0 8
expect_resumed "$work/again-2.out" 2 2 6
echo "PASS: a 3-task array and the dependent merge equal the unsharded sweep; a requeued task and a second" \
  "array resumed their shards with exactly the missing records ($((SECONDS - start)) s)"
