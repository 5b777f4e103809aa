#!/usr/bin/env bash
# A throwaway single-machine HTCondor pool on this machine, for orbitfarm's tests and for trying
# orbitfarm against a real HTCondor. Needs root, debootstrap and an apt mirror the first time.
#
#   bash tests/htcondor/cluster.sh up       build the root (if missing), start, wait for a slot
#   bash tests/htcondor/cluster.sh status   daemons, slots and queue
#   bash tests/htcondor/cluster.sh down     remove every job, stop the daemons by PID
#
# `up` ends by printing the lines to paste into your shell, e.g.
#   export CONDOR_CONFIG=/tmp/orbitfarm-condor/client/condor_config
# after which the `htcondor` Python bindings (PyPI) and `orbitfarm submit --target htcondor` talk
# to the pool over TCP on 127.0.0.1, authenticated by an IDTOKEN of the job user.
#
# Why a root file system: HTCondor is not packaged for Debian bookworm; Debian trixie's
# `minicondor` (a personal pool: collector, negotiator, schedd and startd) is, so it runs in a
# trixie debootstrap root, built once and cached under ${ORBITFARM_CACHE:-~/.cache/orbitfarm}/
# (packages from the same mirror as this machine's apt sources). The daemons run chrooted in a
# private mount namespace (unshare) that sees the host's /tmp, so job directories under /tmp are
# on a filesystem both sides share; jobs can also use file transfer (the bindings spool inputs).
#   - `MOUNT_UNDER_SCRATCH =` (empty): in a chroot the default bind mounts fail and every job is
#     held with errno 22;
#   - HTCondor never runs jobs as root, so the root has a job user (ORBITFARM_CONDOR_USER) and
#     the client authenticates as that user with an IDTOKEN written to the client directory;
#   - with `up --blender` (or ORBITFARM_CONDOR_BLENDER=1) the root also gets Debian's `blender`
#     and python3-numpy so jobs can render (cached like the rest).
#
# Settings (environment):
#   ORBITFARM_CONDOR_DIR      state directory (default /tmp/orbitfarm-condor)
#   ORBITFARM_CONDOR_PORT     the pool's port on 127.0.0.1 (default 9618)
#   ORBITFARM_CONDOR_CPUS     slots (default 4)
#   ORBITFARM_CONDOR_USER     job user inside the root (default orbitjob, uid 1500)
#   ORBITFARM_CONDOR_BLENDER  1: also install Debian's blender in the root
#   ORBITFARM_CACHE           cache directory (default ~/.cache/orbitfarm)
# Exit codes: 0 ok, 1 a daemon failed (see the logs named), 3 HTCondor cannot be set up here.
set -euo pipefail

STATE=${ORBITFARM_CONDOR_DIR:-/tmp/orbitfarm-condor}
PORT=${ORBITFARM_CONDOR_PORT:-9618}
CPUS=${ORBITFARM_CONDOR_CPUS:-4}
JOB_USER=${ORBITFARM_CONDOR_USER:-orbitjob}
JOB_UID=1500
BLENDER=${ORBITFARM_CONDOR_BLENDER:-0}
CACHE=${ORBITFARM_CACHE:-$HOME/.cache/orbitfarm}
ROOT="$CACHE/trixie-condor/root"
SUITE=trixie

say() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
cannot() { say "cannot set up HTCondor here: $*"; exit 3; }

# shellcheck source=../cluster_procs.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cluster_procs.sh"  # alive, gone, wait_for
pid_of() { [[ -s $STATE/$1.pid ]] && tr -dc '0-9' <"$STATE/$1.pid" || true; }

# The Debian mirror this machine's apt already uses (deb822 or one-line sources).
host_mirror() {
    local url
    url=$(grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v -- '-security' | grep '/debian/\?$' | head -n1 || true)
    if [[ -z $url ]]; then
        url=$(grep -h -E '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            2>/dev/null | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
            | grep -v -- '-security' | head -n1 || true)
    fi
    [[ -n $url ]] || cannot "no Debian mirror found in /etc/apt/sources.list*"
    echo "${url%/}"
}

in_root() {  # run a command chrooted in the root (for set-up; the daemons use start_pool)
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}

build_root() {
    if [[ -x $ROOT/usr/sbin/condor_master ]] \
        && { [[ $BLENDER != 1 ]] || has_blender; }; then
        return 0
    fi
    [[ $(id -u) == 0 ]] || cannot "need root to build the trixie root in $ROOT"
    command -v debootstrap >/dev/null || cannot "debootstrap is not installed (apt-get install debootstrap)"
    local mirror log="$CACHE/trixie-condor/build.log"
    mirror=$(host_mirror)
    mkdir -p "$CACHE/trixie-condor"
    if [[ ! -x $ROOT/usr/sbin/condor_master ]]; then
        local partial="$CACHE/trixie-condor/root.partial"
        rm -rf "$partial"
        say "building a Debian $SUITE root with minicondor from $mirror (once; ~2 min, ~600 MB)"
        local keyring=()
        [[ -s /usr/share/keyrings/debian-archive-keyring.gpg ]] \
            && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
        debootstrap --variant=minbase "${keyring[@]}" "$SUITE" "$partial" "$mirror" >"$log" 2>&1 \
            || cannot "debootstrap failed (see $log)"
        # apt, not debootstrap's --include, resolves minicondor's virtual dependencies.
        ROOT=$partial install_in_root minicondor || die "installing minicondor failed (see $log)"
        mv "$partial" "$ROOT"
    fi
    if [[ $BLENDER == 1 ]] && ! has_blender; then
        say "installing Debian's blender (and numpy, which the worker needs) into the root (once)"
        install_in_root blender python3-numpy || die "installing blender failed (see $log)"
    fi
}

has_blender() { [[ -x $ROOT/usr/bin/blender && -d $ROOT/usr/lib/python3/dist-packages/numpy ]]; }

install_in_root() {  # install_in_root PACKAGE...: apt-get inside $ROOT, no daemon started
    local log="$CACHE/trixie-condor/build.log" rc=0
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    { in_root apt-get update -qq \
        && in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "$@" \
        && in_root apt-get clean; } >>"$log" 2>&1 || rc=$?
    rm -f "$ROOT/usr/sbin/policy-rc.d"
    return $rc
}

write_config() {
    mkdir -p "$STATE"/{client,tokens,log,spool,execute,lock,run}
    chmod 755 "$STATE"
    chmod 1777 "$STATE/execute"
    chmod 700 "$STATE/tokens"
    # The job user, inside the root only (HTCondor runs no job as root).
    if ! in_root getent passwd "$JOB_USER" >/dev/null; then
        in_root useradd -u "$JOB_UID" -m -s /bin/bash "$JOB_USER"
    fi
    # Everything per-pool lives in the state directory, which the daemons see at the same path.
    # The daemons read this file (CONDOR_CONFIG): the root's configuration, then this pool's.
    cat >"$STATE/condor_config" <<EOF
# Written by orbitfarm tests/htcondor/cluster.sh; regenerated on every \`up\`.
include : /etc/condor/condor_config
CONDOR_HOST = 127.0.0.1
NETWORK_INTERFACE = 127.0.0.1
BIND_ALL_INTERFACES = False
USE_SHARED_PORT = True
SHARED_PORT_PORT = $PORT
COLLECTOR_HOST = 127.0.0.1:$PORT
LOCAL_DIR = $STATE
LOG = $STATE/log
SPOOL = $STATE/spool
EXECUTE = $STATE/execute
LOCK = $STATE/lock
RUN = $STATE/run
SEC_TOKEN_SYSTEM_DIRECTORY = $STATE/tokens.d
SEC_PASSWORD_DIRECTORY = $STATE/passwords.d
# A chroot cannot make the per-job bind mounts: without this every job is held (errno 22).
MOUNT_UNDER_SCRATCH =
NUM_CPUS = $CPUS
START = True
SUSPEND = False
PREEMPT = False
KILL = False
# Schedule at once: the tests should not wait for the default 60 s negotiation cycle.
NEGOTIATOR_INTERVAL = 2
NEGOTIATOR_MIN_INTERVAL = 1
SCHEDD_INTERVAL = 5
STARTER_UPDATE_INTERVAL = 5
UPDATE_INTERVAL = 5
# Clients on 127.0.0.1 authenticate with an IDTOKEN (the job user's) or as root on the box.
SEC_DEFAULT_AUTHENTICATION_METHODS = FS, IDTOKENS
SEC_CLIENT_AUTHENTICATION_METHODS = FS, IDTOKENS
ALLOW_WRITE = *
ALLOW_READ = *
ALLOW_ADMINISTRATOR = root@\$(UID_DOMAIN) condor@\$(UID_DOMAIN) $JOB_USER@\$(UID_DOMAIN)
UID_DOMAIN = orbitfarm
TRUST_UID_DOMAIN = True
EOF
    mkdir -p "$STATE/tokens.d" "$STATE/passwords.d"
    chmod 700 "$STATE/tokens.d" "$STATE/passwords.d"
    # The daemons drop to the root's `condor` user for their own files.
    local condor
    condor=$(in_root id -u condor):$(in_root id -g condor)
    chown "$condor" "$STATE"/{log,spool,lock,run}
    # The client side (the bindings on this machine): same pool, token auth only.
    cat >"$STATE/client/condor_config" <<EOF
# Written by orbitfarm tests/htcondor/cluster.sh: the client view of the test pool.
CONDOR_HOST = 127.0.0.1:$PORT
COLLECTOR_HOST = 127.0.0.1:$PORT
SEC_CLIENT_AUTHENTICATION_METHODS = IDTOKENS
SEC_TOKEN_DIRECTORY = $STATE/tokens
UID_DOMAIN = orbitfarm
EOF
}

# The daemons: a private mount namespace with the root's /proc, /dev and the host's /tmp (where
# the state directory and the tests' job directories are), then condor_master in the foreground.
start_pool() {
    setsid unshare --mount --propagation private --fork bash -c '
        set -e
        root=$1
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mount --rbind /tmp "$root/tmp"
        exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
            CONDOR_CONFIG="$2" /usr/sbin/condor_master -f -t
    ' bash "$ROOT" "$STATE/condor_config" </dev/null >"$STATE/master.out" 2>&1 &
    echo $! >"$STATE/unshare.pid"
}

pool_answers() { in_pool condor_status -schedd -af Name >/dev/null 2>&1; }
slot_ready() { [[ -n $(in_pool condor_status -af Name 2>/dev/null) ]]; }

# A condor tool inside the running pool's namespace (joins it through the master's pid).
in_pool() {
    local pid
    pid=$(master_pid)
    [[ -n $pid ]] || return 1
    nsenter --target "$pid" --mount --root --wd=/ /usr/bin/env -i \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 CONDOR_CONFIG="$STATE/condor_config" "$@"
}

master_pid() {  # condor_master is the child of the unshare --fork process
    local parent child
    parent=$(pid_of unshare)
    alive "$parent" || return 0
    child=$(cat "/proc/$parent/task/$parent/children" 2>/dev/null | awk '{print $1}')
    [[ -n $child ]] && alive "$child" && echo "$child"
    return 0
}

write_token() {
    # An IDTOKEN for the job user: the bindings on this machine act as that user.
    in_pool condor_token_create -identity "$JOB_USER@orbitfarm" >"$STATE/tokens/$JOB_USER.token" \
        2>>"$STATE/master.out" || die "condor_token_create failed (see $STATE/master.out)"
    chmod 600 "$STATE/tokens/$JOB_USER.token"
}

up() {
    local arg
    for arg in "$@"; do
        case $arg in
            --blender) BLENDER=1 ;;
            *) die "unknown option $arg (use --blender)" ;;
        esac
    done
    [[ $(id -u) == 0 ]] || cannot "the chroot and its daemons need root"
    command -v unshare >/dev/null && command -v nsenter >/dev/null \
        || cannot "unshare/nsenter (util-linux) are missing"
    build_root
    if alive "$(master_pid)"; then
        say "already up in $STATE"
    else
        stop_daemons
        write_config
        start_pool
        wait_for 30 pool_answers || die "the pool does not answer (see $STATE/log/MasterLog, $STATE/master.out)"
    fi
    write_token
    wait_for 60 slot_ready || die "no execute slot appeared (see $STATE/log/StartLog)"
    say "up: HTCondor pool on 127.0.0.1:$PORT with $CPUS slots, job user $JOB_USER, state in $STATE"
    echo "export CONDOR_CONFIG=$STATE/client/condor_config"
}

no_jobs() { [[ -z $(in_pool condor_q -allusers -af ClusterId 2>/dev/null) ]]; }

stop_daemons() {
    local pid parent
    pid=$(master_pid)
    parent=$(pid_of unshare)
    if alive "$pid"; then
        # SIGQUIT: fast shutdown, the master kills its daemons and their jobs.
        kill -QUIT "$pid" 2>/dev/null || true
        if ! wait_for 30 gone "$pid"; then
            say "condor_master ($pid) ignored SIGQUIT; killing its namespace"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    if alive "$parent"; then
        wait_for 10 gone "$parent" || kill -KILL "$parent" 2>/dev/null || true
    fi
    rm -f "$STATE/unshare.pid"
}

down() {
    if alive "$(master_pid)"; then
        in_pool condor_rm -all >/dev/null 2>&1 || true
        wait_for 20 no_jobs || true
    fi
    stop_daemons
    say "down ($STATE kept for its logs)"
}

status() {
    local pid
    pid=$(master_pid)
    if ! alive "$pid"; then
        echo "condor_master: not running"
        return 1
    fi
    echo "condor_master: running (pid $pid)"
    in_pool condor_status -af Name State Activity | head -n 20
    in_pool condor_q -allusers -totals 2>/dev/null | tail -n 3
    echo "export CONDOR_CONFIG=$STATE/client/condor_config"
}

case ${1:-} in
    up) shift; up "$@" ;;
    down) down ;;
    status) status ;;
    build) build_root ;;
    *) sed -n '2,36p' "$0" >&2; exit 2 ;;
esac
