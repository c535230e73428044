#!/usr/bin/env bash
# Stop the cluster slurm_up.sh started, by the PIDs in its pid files (and munged if slurm_up.sh started it).
set -uo pipefail

DIR=${SWEEPWISE_SLURM_DIR:-/tmp/sweepwise-slurm}
SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")

stop() {  # stop PIDFILE: TERM, wait up to 20 s, then KILL
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    $SUDO kill "$pid"
    for _ in $(seq 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && $SUDO kill -9 "$pid"
  fi
  rm -f "$1"
}

for daemon in slurmd-"$(hostname -s)" slurmd-"$(hostname -s)"-b slurmctld slurmdbd; do stop "$DIR/run/$daemon.pid"; done
stop "$DIR/mariadb/mariadb.pid"
if [ -f "$DIR/run/munged.ours" ]; then
  stop /run/munge/munged.pid
  rm -f "$DIR/run/munged.ours"
fi
echo "slurm-down: stopped the cluster in $DIR" >&2
