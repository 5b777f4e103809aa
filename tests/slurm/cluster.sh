#!/usr/bin/env bash
# A throwaway single-node SLURM cluster on this machine, for orbitfarm's tests and for trying
# orbitfarm against a real scheduler. Needs root and Debian/Ubuntu (apt) the first time.
#
#   bash tests/slurm/cluster.sh up        install (if missing), configure, start, wait until idle
#   bash tests/slurm/cluster.sh up --rest also start slurmrestd (JWT auth) beside the cluster
#   bash tests/slurm/cluster.sh config [--rest]   only write slurm.conf (to read it)
#   bash tests/slurm/cluster.sh up --ssh  also start an sshd "login node" on 127.0.0.1 (key auth;
#                                         `ssh -F STATE/ssh/config orbitfarm-login`)
#   bash tests/slurm/cluster.sh status    daemons, node state and queue
#   bash tests/slurm/cluster.sh down      cancel every job, stop the daemons by PID
#
# `up` ends by printing the line to paste into your shell, e.g.
#   export SLURM_CONF=/tmp/orbitfarm-slurm/slurm.conf
# after which sbatch/squeue/scontrol/scancel (and `orbitfarm submit --target slurm`) use it:
#   orbitfarm submit scenes/*.blend --out out --target slurm --python "$(command -v python3)"
#
# What you get: one node named after this host with ORBITFARM_SLURM_CPUS 1-CPU slots (more than
# the real cores are allowed, so several small jobs run at once), as many fake GPUs (gres "gpu",
# backed by /dev/null symlinks) so `--gpus=1` scripts are accepted, partition "debug", no
# accounting (sacct fails), finished jobs logged to STATE/jobcomp.txt. Nothing outside the state
# directory is touched apart from installing packages; system daemons are never started.
#
# Settings (environment):
#   ORBITFARM_SLURM_DIR             state directory (default /tmp/orbitfarm-slurm; must not be 0700)
#   ORBITFARM_SLURM_PORT            slurmctld port (default 6817); slurmd uses +1, slurmrestd +3
#   ORBITFARM_SLURM_CPUS            CPU slots and fake GPUs on the node (default 4)
#   ORBITFARM_SLURM_MAX_ARRAY_SIZE  MaxArraySize (default 1001; the tests set it small)
#   ORBITFARM_SLURM_MIN_JOB_AGE     seconds squeue/scontrol keep finished jobs (default 300)
#   ORBITFARM_SLURM_REST=1          same as `up --rest`
#   ORBITFARM_SLURM_SSH=1           same as `up --ssh` (sshd on port +4)
# Exit codes: 0 ok, 1 a daemon failed (see the logs named), 3 SLURM cannot be installed here.
set -euo pipefail

STATE=${ORBITFARM_SLURM_DIR:-/tmp/orbitfarm-slurm}
PORT=${ORBITFARM_SLURM_PORT:-6817}
CPUS=${ORBITFARM_SLURM_CPUS:-4}
MAX_ARRAY=${ORBITFARM_SLURM_MAX_ARRAY_SIZE:-1001}
MIN_JOB_AGE=${ORBITFARM_SLURM_MIN_JOB_AGE:-300}
REST=${ORBITFARM_SLURM_REST:-0}
SSH=${ORBITFARM_SLURM_SSH:-0}
NODE=$(hostname -s)
CONF="$STATE/slurm.conf"
PACKAGES=(munge slurmctld slurmd slurm-client)
REST_PACKAGES=(slurmrestd slurm-wlm-jwt-plugin)
SSH_PACKAGES=(openssh-server)
REST_API=v0.0.38

say() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
# Exit 3: this machine cannot run SLURM at all (no root, no apt, apt unreachable); tests skip.
cannot() { say "cannot install SLURM here: $*"; exit 3; }

missing_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || printf '%s\n' "$pkg"
    done
}

install_packages() {
    local wanted=("${PACKAGES[@]}")
    [[ $REST == 1 ]] && wanted+=("${REST_PACKAGES[@]}")
    [[ $SSH == 1 ]] && wanted+=("${SSH_PACKAGES[@]}")
    local missing
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) == 0 ]] || cannot "need root to install ${missing[*]} (or install them yourself)"
    command -v apt-get >/dev/null || cannot "no apt-get: install ${missing[*]} with your package manager"
    # Debian's postinst scripts start the system daemons unless policy-rc.d says no.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    say "installing ${missing[*]}"
    local rc=0
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}"; } >"${TMPDIR:-/tmp}/orbitfarm-slurm-apt.log" 2>&1 || rc=$?
    ((own_policy)) && rm -f "$policy"
    ((rc == 0)) || cannot "apt-get failed (see ${TMPDIR:-/tmp}/orbitfarm-slurm-apt.log)"
}

# shellcheck source=../cluster_procs.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cluster_procs.sh"  # alive, gone, wait_for

pid_of() { [[ -s $STATE/$1.pid ]] && tr -dc '0-9' <"$STATE/$1.pid" || true; }

write_config() {
    mkdir -p "$STATE"/{ctld,spool,dev,munge}
    # munged refuses a socket directory that others may not traverse into (e.g. pytest's 0700).
    chmod 755 "$STATE" "$STATE/munge"
    local mem
    mem=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
    local i gpu_last=$((CPUS - 1))
    for ((i = 0; i < CPUS; i++)); do ln -sfn /dev/null "$STATE/dev/gpu$i"; done
    [[ -s $STATE/munge/munge.key ]] || {
        dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
        chmod 600 "$STATE/munge/munge.key"
    }
    # auth/jwt only with --rest: its plugin comes with the REST packages, and slurmctld
    # refuses to start when a configured plugin is missing (a fresh machine without --rest).
    local jwt=""
    if [[ $REST == 1 ]]; then
        [[ -s $STATE/jwt.key ]] || {
            dd if=/dev/urandom of="$STATE/jwt.key" bs=32 count=1 status=none
            chmod 600 "$STATE/jwt.key"
        }
        jwt="AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$STATE/jwt.key"
    fi
    cat >"$CONF" <<EOF
# Written by orbitfarm tests/slurm/cluster.sh; regenerated on every \`up\`.
ClusterName=orbitfarm
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket
$jwt
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No systemd, no cgroups: processes are tracked through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=512
SchedulerType=sched/backfill
# Schedule batch jobs at once instead of batching them for ~3 s.
SchedulerParameters=batch_sched_delay=0
# Reject requests the cluster can never satisfy instead of leaving them pending forever.
EnforcePartLimits=ALL
MaxArraySize=$MAX_ARRAY
MaxJobCount=50000
MinJobAge=$MIN_JOB_AGE
KillWait=2
ReturnToService=2
# The node advertises more CPUs than the machine has so several 1-CPU jobs run at once.
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem Gres=gpu:$CPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    # Without File= lines a node with gpus configured drains; /dev/null stand-ins are enough.
    cat >"$STATE/gres.conf" <<EOF
AutoDetect=off
NodeName=$NODE Name=gpu File=$STATE/dev/gpu[0-$gpu_last]
EOF
    chmod 644 "$CONF" "$STATE/gres.conf"
}

node_state() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n1; }
node_idle() { [[ $(node_state) == idle ]]; }
no_running_jobs() { [[ -z $(squeue -h -t R,CG -o %i 2>/dev/null) ]]; }
ctld_answers() { scontrol ping 2>/dev/null | grep -q UP; }

start_rest() {
    local pid
    pid=$(pid_of slurmrestd)
    alive "$pid" && return 0
    # slurmrestd refuses to run as root; SLURM_JWT=daemon makes it pass the users' tokens on.
    # Only the v0.0.38 plugin: the others also want slurmdbd.
    env SLURM_CONF="$CONF" SLURM_JWT=daemon \
        setsid setpriv --reuid slurm --regid slurm --clear-groups \
        slurmrestd -a rest_auth/jwt -s "openapi/$REST_API" "127.0.0.1:$((PORT + 3))" \
        </dev/null >"$STATE/slurmrestd.log" 2>&1 &
    echo $! >"$STATE/slurmrestd.pid"
    wait_for 20 rest_answers || die "slurmrestd did not answer (see $STATE/slurmrestd.log)"
}

rest_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$((PORT + 3))") 2>/dev/null; }

# An sshd on 127.0.0.1 standing in for a login node: its own host key, config and authorized
# key in STATE/ssh (nothing in /etc/ssh is used); sessions get SLURM_CONF like a login node.
start_ssh() {
    local pid dir="$STATE/ssh"
    pid=$(pid_of sshd)
    alive "$pid" && return 0
    mkdir -p "$dir" /run/sshd
    chmod 700 "$dir"
    [[ -s $dir/host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_ed25519"
    [[ -s $dir/client_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_ed25519"
    cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
    cat >"$dir/sshd_config" <<SSHD
Port $((PORT + 4))
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
PidFile $STATE/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv SLURM_CONF=$CONF
SSHD
    cat >"$dir/config" <<SSHCONFIG
Host orbitfarm-login
    HostName 127.0.0.1
    Port $((PORT + 4))
    User $(id -un)
    IdentityFile $dir/client_ed25519
    IdentitiesOnly yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
SSHCONFIG
    # sshd insists on being started by its absolute path.
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$STATE/sshd.log" \
        || die "sshd did not start (see $STATE/sshd.log)"
    wait_for 20 ssh_answers || die "sshd does not answer (see $STATE/sshd.log)"
}

ssh_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$((PORT + 4))") 2>/dev/null; }

up() {
    local arg
    for arg in "$@"; do
        case $arg in
            --rest) REST=1 ;;
            --ssh) SSH=1 ;;
            *) die "unknown option $arg (use --rest, --ssh)" ;;
        esac
    done
    [[ $(id -u) == 0 ]] || cannot "slurmd and this script's munged/slurmctld set-up need root"
    install_packages
    export SLURM_CONF="$CONF"
    # A cluster started without --rest has no auth/jwt: `up --rest` restarts it with it.
    if alive "$(pid_of slurmctld)" && alive "$(pid_of slurmd)" && alive "$(pid_of munged)" \
        && { [[ $REST == 0 ]] || grep -q '^AuthAltTypes=auth/jwt' "$CONF"; }; then
        say "already up in $STATE"
    else
        stop_daemons
        write_config
        munged --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.socket" \
            --pid-file="$STATE/munged.pid" --log-file="$STATE/munged.log" \
            --seed-file="$STATE/munge/munged.seed" --force \
            || die "munged did not start (see $STATE/munged.log)"
        # -c: a fresh cluster every time; old job records would only confuse tests.
        slurmctld -c || die "slurmctld did not start (see $STATE/slurmctld.log)"
        wait_for 30 ctld_answers || die "slurmctld does not answer (see $STATE/slurmctld.log)"
        slurmd -N "$NODE" || die "slurmd did not start (see $STATE/slurmd.log)"
    fi
    # The node registers a few seconds after slurmd starts: poll, never a fixed sleep.
    if ! wait_for 60 node_idle; then
        die "node $NODE is '$(node_state)', not idle (see $STATE/slurmctld.log, $STATE/slurmd.log)"
    fi
    if [[ $REST == 1 ]]; then
        start_rest
        say "slurmrestd: http://127.0.0.1:$((PORT + 3)) (API $REST_API, token: scontrol token)"
    fi
    if [[ $SSH == 1 ]]; then
        start_ssh
        say "login node: ssh -F $STATE/ssh/config orbitfarm-login"
    fi
    say "up: node $NODE idle with $CPUS CPUs, MaxArraySize=$MAX_ARRAY, state in $STATE"
    echo "export SLURM_CONF=$CONF"
}

stop_pid() {  # stop_pid NAME: SIGTERM, wait, then SIGKILL
    local name=$1 pid
    pid=$(pid_of "$name")
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_for 15 gone "$pid"; then
            say "$name ($pid) ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$STATE/$name.pid"
}

stop_daemons() {
    local name
    for name in sshd slurmrestd slurmd slurmctld munged; do stop_pid "$name"; done
}

down() {
    export SLURM_CONF="$CONF"
    if alive "$(pid_of slurmctld)"; then
        # Cancel jobs first so no slurmstepd or worker outlives the cluster.
        scancel --full --quiet --partition=debug 2>/dev/null || true
        wait_for 20 no_running_jobs || true
    fi
    stop_daemons
    say "down ($STATE kept for its logs)"
}

status() {
    export SLURM_CONF="$CONF"
    local name pid rc=0
    for name in munged slurmctld slurmd slurmrestd sshd; do
        pid=$(pid_of "$name")
        if alive "$pid"; then echo "$name: running (pid $pid)"
        elif [[ $name == slurmrestd || $name == sshd ]]; then echo "$name: not running"
        else echo "$name: not running"; rc=1
        fi
    done
    if ((rc == 0)); then
        echo "node: $NODE $(node_state)"
        squeue -h -o '%i %T %j' | head -n 20
        echo "export SLURM_CONF=$CONF"
    fi
    return $rc
}

# Only write $STATE/slurm.conf (and its keys) for these options, start nothing: to read it.
config() {
    local arg
    for arg in "$@"; do
        case $arg in
            --rest) REST=1 ;;
            --ssh) ;;
            *) die "unknown option $arg (use --rest, --ssh)" ;;
        esac
    done
    write_config
    echo "$CONF"
}

case ${1:-} in
    up) shift; up "$@" ;;
    config) shift; config "$@" ;;
    down) down ;;
    status) status ;;
    *) sed -n '2,32p' "$0" >&2; exit 2 ;;
esac
