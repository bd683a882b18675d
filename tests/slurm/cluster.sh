# shellcheck shell=bash
# A single-node Slurm cluster on localhost from Debian's slurmctld, slurmd and munge, private to one temporary
# directory: its own munge key, munged socket and pid file, its own slurm.conf with ports no other cluster uses,
# state and spool under the directory. Sourced by test_slurm.sh; nothing here runs on its own.
#   cluster_start DIR     creates and starts everything; exports SLURM_CONF; returns non-zero with a message
#   cluster_wait_idle S   waits at most S seconds for the node to be idle
#   cluster_wait_jobs S ID...  waits at most S seconds until the jobs have left the queue (or cannot run)
#   cluster_stop          cancels the cluster's jobs and stops its daemons by pid (safe to call twice)
# Written from DESIGN.md's "Slurm" facts: auth and job credentials through munge, processes tracked by
# /proc (proctrack/linuxproc, no cgroups), no task binding, consumable CPUs.

cluster_dir=
cluster_pids=()  # munged, slurmctld, slurmd, in starting order

# Prints a TCP port nobody listens on now (the kernel's choice of an ephemeral port, released at once).
cluster_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'
}

# Starts a daemon in the foreground of a background job, so its pid is known without trusting a pid file.
cluster_spawn() {
  local log=$1
  shift
  "$@" >>"$log" 2>&1 &
  cluster_pids+=($!)
}

# Waits at most $1 seconds for the command after it to succeed.
cluster_poll() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

cluster_start() {
  cluster_dir=$1
  local dir=$1 host
  host=$(hostname -s)
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
  chmod 700 "$dir" "$dir/munge"

  # munge: a fresh key, a socket and pid file of its own, so it never meets the system's munged.
  local socket=$dir/munge/munge.socket
  mungekey --create --keyfile="$dir/munge/munge.key" ||
    { echo "cluster: mungekey failed" >&2; return 1; }
  cluster_spawn "$dir/log/munged.out" munged --foreground --force --socket="$socket" \
    --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" \
    --log-file="$dir/log/munged.log"
  if ! cluster_poll 10 bash -c "munge -S '$socket' -n 2>/dev/null | unmunge -S '$socket' >/dev/null 2>&1"; then
    echo "cluster: munged did not answer on $socket within 10 s:" >&2
    tail -3 "$dir/log/munged.out" "$dir/log/munged.log" >&2 2>/dev/null
    return 1
  fi

  local ctld_port slurmd_port
  ctld_port=$(cluster_free_port)
  slurmd_port=$(cluster_free_port)
  while [[ $slurmd_port == "$ctld_port" ]]; do slurmd_port=$(cluster_free_port); done
  : >"$dir/plugstack.conf"  # no SPANK plugins from /etc/slurm
  # Addresses are loopback, so nothing depends on how the host name resolves. config_overrides: the node has
  # the CPUs written here whatever the hardware says, so a smaller machine does not drain it. MaxTime bounds any
  # job that hangs (minutes).
  cat >"$dir/slurm.conf" <<EOF
ClusterName=attnscope-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
PlugStackConfig=$dir/plugstack.conf
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ReturnToService=2
SchedulerType=sched/builtin
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=5 State=UP
EOF
  export SLURM_CONF=$dir/slurm.conf
  cluster_spawn "$dir/log/slurmctld.out" slurmctld -D -i -f "$SLURM_CONF"
  cluster_spawn "$dir/log/slurmd.out" slurmd -D -f "$SLURM_CONF"
}

cluster_node_idle() {
  [[ $(sinfo -h -N -o %t 2>/dev/null) == idle ]]
}

cluster_wait_idle() {
  if ! cluster_poll "$1" cluster_node_idle; then
    echo "cluster: node not idle within $1 s (sinfo: $(sinfo -h -N -o '%t %E' 2>&1 | head -1))" >&2
    cluster_logs >&2
    return 1
  fi
}

# Succeeds when none of the jobs is queued or running any more, or when those left wait on a dependency that can
# never be met (a failed array task leaves its merge so): waiting longer would not change the outcome.
cluster_jobs_settled() {
  local ids reasons
  ids=$(IFS=, && echo "$*")
  reasons=$(squeue -h -j "$ids" -o %r 2>/dev/null)
  [[ -z $reasons ]] || ! grep -qvx DependencyNeverSatisfied <<<"$reasons"
}

cluster_wait_jobs() {
  local seconds=$1
  shift
  if ! cluster_poll "$seconds" cluster_jobs_settled "$@"; then
    echo "cluster: jobs $* still queued or running after $seconds s:" >&2
    squeue -o '%i %j %T %r' >&2
    return 1
  fi
}

# Prints the last lines of every daemon log, for a failure message.
cluster_logs() {
  local f
  for f in "$cluster_dir"/log/*; do
    [[ -s $f ]] || continue
    echo "--- $f"
    tail -5 "$f"
  done
}

cluster_stop() {
  ((${#cluster_pids[@]})) || return 0
  # Jobs first, while slurmctld can still reach their slurmstepd; then the daemons, newest first.
  if [[ -n ${SLURM_CONF:-} ]]; then
    scancel --full --partition=test 2>/dev/null || true
    cluster_poll 10 bash -c '[[ -z $(squeue -h -o %A 2>/dev/null) ]]' || true
  fi
  local i pid
  for ((i = ${#cluster_pids[@]} - 1; i >= 0; i--)); do
    pid=${cluster_pids[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    cluster_poll 10 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
  done
  cluster_pids=()
}
