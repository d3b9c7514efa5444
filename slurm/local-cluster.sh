#!/usr/bin/env bash
# A single-node Slurm on loopback for tests and local use (Debian 12, run as root, no systemd).
#
#   slurm/local-cluster.sh start    install missing packages, start munged, MariaDB, slurmdbd,
#                                   slurmctld and slurmd; wait until the node is idle (idempotent)
#   slurm/local-cluster.sh stop     cancel the cluster's jobs, stop only the daemons started here,
#                                   each one waited for before what it depends on
#   slurm/local-cluster.sh status   which daemons run, and sinfo; exit 1 unless all are up
#   slurm/local-cluster.sh env      print `export SLURM_CONF=...` for the cluster's clients
#   slurm/local-cluster.sh reconfigure   rewrite the configs from the environment below and
#                                   apply them to the running cluster (slurmctld restarts)
#   slurm/local-cluster.sh purge    stop, then delete the state directory (database included)
#
# OMNIBENCH_SLURM_MAX_ARRAY_SIZE sets MaxArraySize (default 1001, Slurm's), and
# OMNIBENCH_SLURM_ENFORCE_LIMITS=1 makes Slurm enforce the associations' limits (MaxSubmitJobs...,
# set with sacctmgr); both are read by start and reconfigure: tests of what omnibench does at a
# cluster's limits set them.
#
# Everything (configs, munge key and socket, database, spool, logs, pid files) lives in the
# state directory: $OMNIBENCH_SLURM_STATE, default slurm/.cluster/. Debian 12 ships Slurm 22.05,
# which authenticates with munge; job states come from accounting (slurmdbd + MariaDB), without
# which sacct, and so submitit, reports every job as UNKNOWN. proctrack/linuxproc and task/none
# avoid cgroups. When /etc/slurm/slurm.conf is absent, start links it to this cluster's config
# so that plain `sinfo`/`sbatch` reach it; stop removes that link again.
#
# A daemon belongs to this cluster when its executable is the expected one and it names this
# state directory: its own pid file or this slurm.conf on its command line (slurmdbd, which takes
# no config argument, through SLURM_CONF in its environment). Nothing else is ever signalled,
# also when its pid file is lost: stop finds such daemons, and start stops them before starting.
# start, stop and purge hold a lock on the state directory, so that they never overlap.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$(realpath -ms "${OMNIBENCH_SLURM_STATE:-$HERE/.cluster}")"
CLUSTER=omnibench
PARTITION=debug
CTLD_PORT="${OMNIBENCH_SLURMCTLD_PORT:-16817}"
SLURMD_PORT="${OMNIBENCH_SLURMD_PORT:-16818}"
DBD_PORT="${OMNIBENCH_SLURMDBD_PORT:-16819}"
DB_PORT="${OMNIBENCH_MARIADB_PORT:-13306}"
DB_PASS=omnibench-local
SYSTEM_CONF=/etc/slurm/slurm.conf
PACKAGES=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server)
# daemon name -> executable name shown in /proc/PID/comm (checked before any kill)
declare -A COMM=([munged]=munged [mariadb]=mariadbd [slurmdbd]=slurmdbd [slurmctld]=slurmctld [slurmd]=slurmd)
STOP_ORDER=(slurmd slurmctld slurmdbd mariadb munged)
# seconds a daemon gets to exit after SIGTERM before SIGKILL, and to disappear after SIGKILL
STOP_WAIT="${OMNIBENCH_SLURM_STOP_WAIT:-30}"
KILL_WAIT=10
LOCK_WAIT=600  # a start that is still waiting for its daemons holds the lock this long at most
MAX_ARRAY_SIZE="${OMNIBENCH_SLURM_MAX_ARRAY_SIZE:-1001}"
ENFORCE="none"  # what scontrol shows; slurm.conf names only the enforced ones
[[ "${OMNIBENCH_SLURM_ENFORCE_LIMITS:-0}" == 1 ]] && ENFORCE="associations,limits"

export SLURM_CONF="$STATE/etc/slurm.conf"
NODE="$(hostname -s)"

say() { printf 'local-cluster: %s\n' "$*"; }
STARTING=0
die() {
  printf 'local-cluster: error: %s\n' "$*" >&2
  ((STARTING)) && printf 'local-cluster: daemons started so far keep running; %s stop stops them\n' "$0" >&2
  exit 1
}
pidfile() { echo "$STATE/run/$1.pid"; }

# The entry (of /proc/PID/cmdline or /proc/PID/environ) by which daemon $1 names this state.
identity() {
  case "$1" in
    munged | mariadb) echo "cmdline --pid-file=$(pidfile "$1")" ;;
    slurmctld | slurmd) echo "cmdline $SLURM_CONF" ;;
    slurmdbd) echo "environ SLURM_CONF=$SLURM_CONF" ;;
  esac
}

# is_own DAEMON PID: PID is that daemon's executable, started for this state directory.
is_own() {
  local comm where entry
  read -r comm 2>/dev/null <"/proc/$2/comm" && [[ "$comm" == "${COMM[$1]}" ]] || return 1
  read -r where entry <<<"$(identity "$1")"
  tr '\0' '\n' 2>/dev/null <"/proc/$2/$where" | grep -qxF -- "$entry"
}

# Every process of daemon $1 that belongs to this state directory, pid file or not.
own_pids() {
  local dir
  for dir in /proc/[0-9]*; do
    is_own "$1" "${dir#/proc/}" && echo "${dir#/proc/}"
  done
  return 0
}

# PID of a daemon started here, if its pid file names a live process of this state directory.
alive_pid() {
  local file pid
  file="$(pidfile "$1")"
  [[ -s "$file" ]] || return 1
  pid="$(tr -d '[:space:]' <"$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] && is_own "$1" "$pid" || return 1
  echo "$pid"
}

# Serialise start, stop and purge on this state directory (fd 9; daemons are started without it).
# Without the directory nothing runs that stop could find: it locks only an existing one.
lock_state() {
  [[ "$1" == start || -d "$STATE" ]] || return 0
  { mkdir -p "$STATE" && exec 9>"$STATE/.lock"; } || die "cannot create the lock file $STATE/.lock"
  flock -n 9 && return 0
  say "waiting for another start or stop of $STATE to finish"
  flock -w "$LOCK_WAIT" 9 || die "another start or stop of $STATE still runs after ${LOCK_WAIT}s"
}

# wait_for DESCRIPTION SECONDS LOG COMMAND...: poll COMMAND every 0.2 s; on timeout show LOG.
wait_for() {
  local what="$1" seconds="$2" log="$3" deadline
  shift 3
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      [[ -f "$log" ]] && { echo "--- last lines of $log:" >&2; tail -n 15 "$log" >&2; }
      die "$what did not become ready within ${seconds}s (log: $log)"
    fi
    sleep 0.2
  done
}

# Refuse a port that something else (another cluster, a system MariaDB) listens on.
port_free() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
    die "$1 cannot listen on 127.0.0.1:$2, something else already does (another Slurm or MariaDB?); choose another port with $3"
  fi
}

ensure_packages() {
  local missing=() exe
  for exe in slurmctld slurmd slurmdbd sinfo sacctmgr munged mariadbd mariadb-install-db; do
    command -v "$exe" >/dev/null || missing+=("$exe")
  done
  ((${#missing[@]} == 0)) && return 0
  ((EUID == 0)) && command -v apt-get >/dev/null ||
    die "missing ${missing[*]}; install as root: apt-get install ${PACKAGES[*]}"
  say "installing ${PACKAGES[*]} (missing: ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >"$STATE/log/apt.log" 2>&1 9>&- &&
    apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>"$STATE/log/apt.log" 2>&1 9>&- ||
    die "apt-get install failed (log: $STATE/log/apt.log)"
}

node_line() {
  # Topology from slurmd -C (it must match what slurmd detects); memory from /proc/meminfo,
  # a little below the total so that the node is never drained for low memory.
  local topo mem_mb
  topo="$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //' -e 's/ RealMemory=[0-9]*//')"
  mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.95)}' /proc/meminfo)
  echo "NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE $topo RealMemory=$mem_mb State=UNKNOWN"
}

write_configs() {
  [[ "$MAX_ARRAY_SIZE" =~ ^[0-9]+$ ]] ||
    die "OMNIBENCH_SLURM_MAX_ARRAY_SIZE must be a whole number, got '$MAX_ARRAY_SIZE'"
  mkdir -p "$STATE"/{etc,run,log,munge,ctld,spool,db}
  chmod 755 "$STATE/munge"  # the socket must be reachable; the key itself is 0600
  local auth="AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket"
  cat >"$STATE/etc/slurm.conf" <<EOF
# Written by slurm/local-cluster.sh; regenerated on every start.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: a requeued job may start again only after the credential lifetime (default 120 s)
AuthInfo=socket=$STATE/munge/munge.socket,cred_expire=5
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$(pidfile slurmctld)
SlurmdPidFile=$(pidfile slurmd)
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
$([[ "$ENFORCE" == none ]] || echo "AccountingStorageEnforce=$ENFORCE")
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# for the slurmdbd connection this names the munge socket (AuthInfo is not used there)
AccountingStoragePass=$STATE/munge/munge.socket
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=1,bf_interval=1
KillWait=2
JobRequeue=1
ReturnToService=2
MinJobAge=300
MaxArraySize=$MAX_ARRAY_SIZE
InactiveLimit=0
MailProg=/bin/true
$(node_line)
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  (umask 077 && cat >"$STATE/etc/slurmdbd.conf" <<EOF
# Written by slurm/local-cluster.sh; regenerated on every start.
$auth
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$(pidfile slurmdbd)
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
  )
  chmod 600 "$STATE/etc/slurmdbd.conf"
}

munge_ok() { munge -n -S "$STATE/munge/munge.socket" | unmunge -S "$STATE/munge/munge.socket"; }

start_munged() {
  alive_pid munged >/dev/null && return 0
  [[ -s "$STATE/munge/munge.key" ]] || mungekey --create --keyfile="$STATE/munge/munge.key" --force
  chmod 600 "$STATE/munge/munge.key"
  rm -f "$STATE/munge/munge.socket" "$STATE/munge/munge.socket.lock"
  munged --force --socket="$STATE/munge/munge.socket" --key-file="$STATE/munge/munge.key" \
    --pid-file="$(pidfile munged)" --log-file="$STATE/log/munged.log" \
    --seed-file="$STATE/munge/munged.seed" >>"$STATE/log/munged.log" 2>&1 9>&- ||
    die "munged failed to start (log: $STATE/log/munged.log)"
  wait_for munged 30 "$STATE/log/munged.log" munge_ok
}

db_sql() { mariadb --no-defaults --socket="$STATE/db/mysqld.sock" -u root -e "$1"; }

start_mariadb() {
  alive_pid mariadb >/dev/null && return 0
  port_free MariaDB "$DB_PORT" OMNIBENCH_MARIADB_PORT
  if [[ ! -d "$STATE/db/data/mysql" ]]; then
    mariadb-install-db --no-defaults --user=root --datadir="$STATE/db/data" \
      --auth-root-authentication-method=socket --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1 ||
      die "mariadb-install-db failed (log: $STATE/log/mariadb-install.log)"
  fi
  nohup mariadbd --no-defaults --user=root --datadir="$STATE/db/data" \
    --socket="$STATE/db/mysqld.sock" --bind-address=127.0.0.1 --port="$DB_PORT" \
    --pid-file="$(pidfile mariadb)" --log-error="$STATE/log/mariadb.log" --skip-name-resolve \
    --innodb-buffer-pool-size=64M --innodb-use-native-aio=0 --innodb-lock-wait-timeout=900 </dev/null >/dev/null 2>&1 9>&- &
  wait_for MariaDB 120 "$STATE/log/mariadb.log" db_sql "SELECT 1"
  db_sql "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
          GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" ||
    die "could not create the slurm database user (log: $STATE/log/mariadb.log)"
}

cluster_known() { sacctmgr -n -P show cluster format=cluster | grep -qx "$CLUSTER"; }

start_slurmdbd() {
  if ! alive_pid slurmdbd >/dev/null; then
    port_free slurmdbd "$DBD_PORT" OMNIBENCH_SLURMDBD_PORT
    # slurmdbd reads slurmdbd.conf from the directory of $SLURM_CONF
    slurmdbd >>"$STATE/log/slurmdbd.log" 2>&1 9>&- ||
      die "slurmdbd failed to start (log: $STATE/log/slurmdbd.log)"
  fi
  wait_for slurmdbd 120 "$STATE/log/slurmdbd.log" sacctmgr -n show cluster
  cluster_known || sacctmgr -i add cluster "$CLUSTER" >/dev/null ||
    die "sacctmgr could not register cluster $CLUSTER (log: $STATE/log/slurmdbd.log)"
  # the accounting database outlives the daemons: a MaxSubmitJobs that a killed test left on this
  # user's associations would split the next suite's job array; start from Slurm's default (none)
  sacctmgr -i modify user where name="$(id -un)" set MaxSubmitJobs=-1 >/dev/null 2>&1 || true
}

node_idle() { [[ "$(sinfo -h -N -n "$NODE" -o %T)" =~ ^(idle|mixed|allocated)$ ]]; }

start_slurm() {
  if ! alive_pid slurmctld >/dev/null; then
    port_free slurmctld "$CTLD_PORT" OMNIBENCH_SLURMCTLD_PORT
    slurmctld -f "$SLURM_CONF" >>"$STATE/log/slurmctld.log" 2>&1 9>&- ||
      die "slurmctld failed to start (log: $STATE/log/slurmctld.log)"
  fi
  wait_for slurmctld 60 "$STATE/log/slurmctld.log" scontrol ping
  if ! alive_pid slurmd >/dev/null; then
    port_free slurmd "$SLURMD_PORT" OMNIBENCH_SLURMD_PORT
    slurmd -f "$SLURM_CONF" -N "$NODE" >>"$STATE/log/slurmd.log" 2>&1 9>&- ||
      die "slurmd failed to start (log: $STATE/log/slurmd.log)"
  fi
  wait_for "node $NODE" 60 "$STATE/log/slurmd.log" node_idle
}

link_system_conf() {
  if [[ ! -e "$SYSTEM_CONF" && ! -L "$SYSTEM_CONF" ]] && mkdir -p "$(dirname "$SYSTEM_CONF")" 2>/dev/null; then
    ln -s "$SLURM_CONF" "$SYSTEM_CONF" && say "linked $SYSTEM_CONF -> $SLURM_CONF"
  fi
}

unlink_system_conf() {
  if [[ -L "$SYSTEM_CONF" && "$(readlink "$SYSTEM_CONF")" == "$SLURM_CONF" ]]; then
    rm -f "$SYSTEM_CONF"
  fi
}

all_up() {
  local d
  for d in "${STOP_ORDER[@]}"; do alive_pid "$d" >/dev/null || return 1; done
  node_idle 2>/dev/null
}

# Daemons of this state directory that no pid file names, as "NAME:PID" words: left by a start
# that was interrupted before they wrote their pid file, or by a stop that did not wait for them.
strays() {
  local d pid tracked
  for d in "${STOP_ORDER[@]}"; do
    tracked="$(alive_pid "$d")" || tracked=""
    for pid in $(own_pids "$d"); do
      [[ "$pid" == "$tracked" ]] || printf '%s:%s ' "$d" "$pid"
    done
  done
  return 0
}

cmd_start() {
  local t0=$SECONDS found
  lock_state start
  mkdir -p "$STATE/log"
  if all_up; then
    say "already running (SLURM_CONF=$SLURM_CONF)"
    return 0
  fi
  found="$(strays)"
  if [[ -n "$found" ]]; then
    say "daemons of $STATE that no pid file names: ${found% }; stopping the cluster first"
    cmd_stop
  fi
  STARTING=1
  ensure_packages
  write_configs
  start_munged
  start_mariadb
  start_slurmdbd
  start_slurm
  link_system_conf
  say "ready in $((SECONDS - t0))s: partition $PARTITION on node $NODE (SLURM_CONF=$SLURM_CONF)"
}

# Stop every process of daemon $1 that belongs to this state directory and return once all have
# exited; only then is its pid file removed. SIGTERM is repeated each second (a daemon that forks
# into the background during its start-up leaves a child that the first signal did not reach);
# SIGKILL follows after at least STOP_WAIT seconds (counted in 0.2 s ticks: bash's whole-second
# SECONDS could end a 1 s wait 0.2 s after SIGTERM). Returns 1 when no such process ran.
stop_daemon() {
  local pids seen="" signal=TERM tick=0 limit=$((STOP_WAIT * 5))
  while pids="$(own_pids "$1")" && [[ -n "$pids" ]]; do
    seen="$(tr -s ' ' '\n' <<<"$seen $pids" | sort -un | xargs)"
    if ((tick >= limit)); then
      [[ "$signal" == KILL ]] && die "$1 (pid $(xargs <<<"$pids")) is alive ${KILL_WAIT}s after SIGKILL"
      say "$1 (pid $(xargs <<<"$pids")) did not exit within ${STOP_WAIT}s of SIGTERM; sending SIGKILL"
      signal=KILL limit=$((KILL_WAIT * 5)) tick=0
    fi
    # shellcheck disable=SC2086
    ((tick++ % 5)) || kill -s "$signal" $pids 2>/dev/null || true
    sleep 0.2
  done
  rm -f "$(pidfile "$1")"
  [[ -n "$seen" ]] || return 1
  say "stopped $1 (pid $seen)"
}

cancel_jobs() {
  alive_pid slurmctld >/dev/null || return 0
  local jobs i
  jobs="$(squeue -h -o %A 2>/dev/null | tr '\n' ' ')"
  [[ -n "${jobs// /}" ]] || return 0
  say "cancelling jobs: $jobs"
  # shellcheck disable=SC2086
  scancel $jobs 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    [[ -z "$(squeue -h -o %A -t R,CG 2>/dev/null)" ]] && return 0
    sleep 0.2
  done
}

cmd_stop() {
  local d stopped=0
  cancel_jobs
  for d in "${STOP_ORDER[@]}"; do stop_daemon "$d" && stopped=1; done
  unlink_system_conf
  ((stopped)) || say "not running"
}

# configured KEY VALUE: the running slurmctld has KEY = VALUE.
configured() { [[ "$(scontrol show config | sed -n "s/^$1 *= *//p")" == "$2" ]]; }

# Apply the configuration the environment asks for to the running cluster. slurmctld restarts
# (its jobs are kept in its state): after `scontrol reconfigure`, Slurm 22.05 shows a new
# MaxArraySize but keeps refusing arrays by the one it started with.
cmd_reconfigure() {
  all_up || die "the cluster is not running ($0 start starts it)"
  write_configs
  stop_daemon slurmctld >/dev/null || die "slurmctld was not running"
  start_slurm
  wait_for "MaxArraySize=$MAX_ARRAY_SIZE" 30 "$STATE/log/slurmctld.log" configured MaxArraySize "$MAX_ARRAY_SIZE"
  wait_for "AccountingStorageEnforce=$ENFORCE" 30 "$STATE/log/slurmctld.log" configured AccountingStorageEnforce "$ENFORCE"
  say "reconfigured: MaxArraySize=$MAX_ARRAY_SIZE AccountingStorageEnforce=$ENFORCE"
}

cmd_status() {
  local d pid rc=0
  for d in munged mariadb slurmdbd slurmctld slurmd; do
    if pid="$(alive_pid "$d")"; then
      printf '%-10s running (pid %s)\n' "$d" "$pid"
    else
      printf '%-10s stopped\n' "$d"
      rc=1
    fi
  done
  if alive_pid slurmctld >/dev/null; then sinfo || rc=1; fi
  echo "SLURM_CONF=$SLURM_CONF  logs: $STATE/log"
  return $rc
}

case "${1:-}" in
  start) cmd_start ;;
  stop) lock_state stop; cmd_stop ;;
  status) cmd_status ;;
  env) echo "export SLURM_CONF=$SLURM_CONF" ;;
  reconfigure) lock_state start; cmd_reconfigure ;;
  purge)
    lock_state stop
    cmd_stop
    rm -rf "$STATE"
    say "removed $STATE"
    ;;
  *) echo "usage: $0 start|stop|status|env|reconfigure|purge" >&2; exit 2 ;;
esac
