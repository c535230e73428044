#!/usr/bin/env bash
# Start a SLURM cluster on this machine, with accounting (slurmdbd + a private MariaDB): node $(hostname -s) with
# four fake GPUs in the default partition `debug`, and a second node, <name>-b with two, that only the partition
# `pair` adds (for jobs on two nodes; both slurmd run here), installing the Debian packages first when they are
# missing. Idempotent: running daemons are left alone.
# The state lives in $SWEEPWISE_SLURM_DIR (default /tmp/sweepwise-slurm); the last line printed is the export
# every SLURM client needs. Needs root (or sudo) for the packages, munge and the daemons.
set -euo pipefail

DIR=${SWEEPWISE_SLURM_DIR:-/tmp/sweepwise-slurm}
NODE=$(hostname -s)
DB_PORT=${SWEEPWISE_SLURM_DB_PORT:-3399}
SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
PACKAGES="slurmctld slurmd slurm-client munge slurmdbd mariadb-server"

say() { echo "slurm-up: $*" >&2; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq $((seconds * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  say "gave up waiting for $what; logs are in $DIR/log"
  tail -n 20 "$DIR"/log/* >&2 || true
  exit 1
}

install_packages() {
  for command in slurmctld slurmd sinfo munged slurmdbd mariadbd; do
    if ! command -v "$command" >/dev/null; then
      say "installing $PACKAGES"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
      return
    fi
  done
}

write_configs() {
  mkdir -p "$DIR"/{state,spool/"$NODE",spool/"$NODE"-b,log,run,gpus,mariadb}
  for index in 0 1 2 3 4 5; do ln -sfn /dev/null "$DIR/gpus/nvidia$index"; done
  cat >"$DIR/slurm.conf" <<CONF
ClusterName=sweepwise
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=sched_interval=2,bf_interval=2
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/none
NodeName=$NODE NodeAddr=127.0.0.1 Port=6818 CPUs=32 RealMemory=16000 Gres=gpu:4 State=UNKNOWN
NodeName=$NODE-b NodeAddr=127.0.0.1 Port=6828 CPUs=8 RealMemory=8000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=pair Nodes=$NODE,$NODE-b MaxTime=INFINITE State=UP
CONF
  cat >"$DIR/gres.conf" <<CONF
NodeName=$NODE Name=gpu File=$DIR/gpus/nvidia[0-3]
NodeName=$NODE-b Name=gpu File=$DIR/gpus/nvidia[4-5]
CONF
  cat >"$DIR/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
CONF
  chmod 600 "$DIR/slurmdbd.conf"
}

start_munge() {
  if pgrep -x munged >/dev/null; then return; fi
  $SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
  $SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge
  [ -f /etc/munge/munge.key ] || $SUDO runuser -u munge -- mungekey --create
  $SUDO runuser -u munge -- munged
  touch "$DIR/run/munged.ours"
}

start_mariadb() {  # its socket, pid file and log sit in $DIR/mariadb, which belongs to the mysql user
  local home=$DIR/mariadb socket=$DIR/mariadb/mariadb.sock
  if ! alive "$home/mariadb.pid"; then
    $SUDO chown mysql:mysql "$home"
    if [ ! -d "$home/data/mysql" ]; then
      $SUDO runuser -u mysql -- mariadb-install-db --datadir="$home/data" --skip-test-db >"$DIR/log/mariadb-install.log" 2>&1
    fi
    $SUDO mariadbd --user=mysql --datadir="$home/data" --socket="$socket" --port="$DB_PORT" \
      --bind-address=127.0.0.1 --pid-file="$home/mariadb.pid" --log-error="$home/mariadb.log" >>"$DIR/log/mariadbd.out" 2>&1 &
    wait_for 60 "MariaDB" $SUDO mariadb --socket="$socket" -e "SELECT 1"
  fi
  $SUDO mariadb --socket="$socket" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
}

start_slurm() {
  export SLURM_CONF=$DIR/slurm.conf
  if ! alive "$DIR/run/slurmdbd.pid"; then
    $SUDO env SLURM_CONF="$SLURM_CONF" slurmdbd  # reads slurmdbd.conf beside slurm.conf
    wait_for 60 "slurmdbd" sacctmgr -n list cluster
  fi
  sacctmgr -i add cluster sweepwise >/dev/null 2>&1 || true
  if ! alive "$DIR/run/slurmctld.pid"; then
    $SUDO env SLURM_CONF="$SLURM_CONF" slurmctld -f "$SLURM_CONF"
  fi
  for node in "$NODE" "$NODE-b"; do
    if ! alive "$DIR/run/slurmd-$node.pid"; then
      $SUDO env SLURM_CONF="$SLURM_CONF" slurmd -f "$SLURM_CONF" -N "$node"
    fi
  done
  wait_for 90 "both nodes to be idle" bash -c "[ \"\$(sinfo -h -N -o %T | sort -u)\" = idle ]"
}

install_packages
write_configs
start_munge
start_mariadb
start_slurm
say "cluster up: $(sinfo -h -o '%P %D nodes %C cpus (alloc/idle/other/total) %G %T' | paste -sd ';')"
echo "export SLURM_CONF=$DIR/slurm.conf"
