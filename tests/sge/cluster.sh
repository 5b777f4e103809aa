#!/usr/bin/env bash
# A throwaway single-node Grid Engine cluster on this machine, for orbitfarm's tests and for
# trying orbitfarm against a real Grid Engine. Needs root and Debian/Ubuntu (apt) the first time.
#
#   bash tests/sge/cluster.sh up       install (if missing), configure, start, wait for the host
#   bash tests/sge/cluster.sh status   daemons, queue instance and jobs
#   bash tests/sge/cluster.sh down     delete every job, stop the daemons by PID
#
# `up` ends by printing the lines to paste into your shell, e.g.
#   export SGE_ROOT=/tmp/orbitfarm-sge SGE_CELL=default SGE_QMASTER_PORT=6444 SGE_EXECD_PORT=6445
# after which qsub/qstat/qacct/qdel/qmod (and `orbitfarm submit --target sge`) use it.
#
# What you get: Debian's gridengine 8.1.9 (packages installed with debconf answers so no cluster
# is created system-wide), and in the state directory its own SGE_ROOT (links to the installed
# binaries plus a cell "default"), spool, qmaster and execd. One exec host named after this host
# with ORBITFARM_SGE_SLOTS slots in queue all.q (hostgroup @allhosts), a consumable `gpu` complex
# with as many units on the host (no real GPUs: Grid Engine only counts them), a 1 s scheduler
# interval and a short accounting flush. System daemons are never started; nothing outside the
# state directory is touched apart from installing packages.
#
# Facts this script works around (Debian bookworm, containers):
#   - the hostname resolves to 127.0.0.1 whose reverse name is `localhost`; commlib then refuses
#     every client until host_aliases maps the hostname and `localhost` to one name;
#   - Debian's global configuration has min_uid/min_gid 1000 (root's jobs are refused). The test
#     suite runs as root and the worker's Python lives under /root (mode 0700, out of reach of any
#     other user), so this cluster lowers them to ORBITFARM_SGE_MIN_UID (default 0);
#   - Debian creates no queue, hostgroup or gpu complex: they are defined here;
#   - with bash in login_shells (Debian's default) every task starts as a login shell and runs
#     root's dotfiles (here `pyenv init`, which can wait 60 s on a lock): tasks get a plain bash;
#   - sge_qmaster takes ~11 s to shut down after SIGTERM.
#
# Settings (environment):
#   ORBITFARM_SGE_DIR         state directory = SGE_ROOT (default /tmp/orbitfarm-sge)
#   ORBITFARM_SGE_PORT        qmaster port (default 6444); execd uses +1
#   ORBITFARM_SGE_SLOTS       slots and gpu units on the host (default 4)
#   ORBITFARM_SGE_MAX_AJ      max_aj_tasks, the largest array job (default 75000)
#   ORBITFARM_SGE_FLUSH       accounting flush_time (default 00:00:01; Debian's is 00:00:15)
#   ORBITFARM_SGE_MIN_UID     min_uid and min_gid (default 0, see above)
# Exit codes: 0 ok, 1 a daemon failed (see the logs named), 3 Grid Engine cannot be installed here.
set -euo pipefail

STATE=${ORBITFARM_SGE_DIR:-/tmp/orbitfarm-sge}
PORT=${ORBITFARM_SGE_PORT:-6444}
SLOTS=${ORBITFARM_SGE_SLOTS:-4}
MAX_AJ=${ORBITFARM_SGE_MAX_AJ:-75000}
FLUSH=${ORBITFARM_SGE_FLUSH:-00:00:01}
MIN_UID=${ORBITFARM_SGE_MIN_UID:-0}
NODE=$(hostname)
CELL=default
PACKAGES=(gridengine-master gridengine-exec gridengine-client)
INSTALLED=/var/lib/gridengine   # Debian's SGE_ROOT: bin/, lib/, utilbin/, util/
ADMIN=sgeadmin                  # created by gridengine-common; the daemons switch to it

say() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
cannot() { say "cannot install Grid Engine here: $*"; exit 3; }

missing_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || printf '%s\n' "$pkg"
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) == 0 ]] || cannot "need root to install ${missing[*]} (or install them yourself)"
    command -v apt-get >/dev/null || cannot "no apt-get: install ${missing[*]} yourself"
    # Without these answers the postinst creates and starts a system-wide cluster.
    debconf-set-selections <<EOF
gridengine-common shared/gridengineconfig boolean false
gridengine-common shared/gridenginecell string $CELL
gridengine-common shared/gridenginemaster string $NODE
EOF
    # Debian's postinst scripts start the system daemons unless policy-rc.d says no; an existing
    # policy file (containers ship one) is left exactly as it was.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    say "installing ${missing[*]}"
    local rc=0 log="${TMPDIR:-/tmp}/orbitfarm-sge-apt.log"
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}"; } >"$log" 2>&1 || rc=$?
    ((own_policy)) && rm -f "$policy"
    ((rc == 0)) || cannot "apt-get failed (see $log)"
}

# shellcheck source=../cluster_procs.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cluster_procs.sh"  # alive, gone, wait_for

# The daemons write their own pid files (in the spool directories).
pid_file() {
    case $1 in
        qmaster) echo "$STATE/spool/qmaster/qmaster.pid" ;;
        # The execd names its spool directory after what it resolves itself to (`localhost`
        # here, the hostname elsewhere): take whichever exists.
        execd) compgen -G "$STATE/spool/execd/*/execd.pid" | head -n1 || true ;;
    esac
}
pid_of() { local f; f=$(pid_file "$1"); [[ -s $f ]] && tr -dc '0-9' <"$f" || true; }

use_cluster() {
    export SGE_ROOT=$STATE SGE_CELL=$CELL SGE_QMASTER_PORT=$PORT SGE_EXECD_PORT=$((PORT + 1))
}

# A fresh SGE_ROOT in the state directory: links to the installed binaries, our own cell.
write_root() {
    rm -rf "$STATE/$CELL" "$STATE/spool"
    mkdir -p "$STATE/$CELL/common" "$STATE/spool/qmaster/job_scripts" "$STATE/spool/spooldb" \
        "$STATE/spool/execd"
    chmod 755 "$STATE"
    local dir
    for dir in bin lib utilbin util; do ln -sfn "$INSTALLED/$dir" "$STATE/$dir"; done
    cat >"$STATE/$CELL/common/bootstrap" <<EOF
# Written by orbitfarm tests/sge/cluster.sh; regenerated on every \`up\`.
admin_user              $ADMIN
default_domain          none
ignore_fqdn             true
spooling_method         berkeleydb
spooling_lib            libspoolb
spooling_params         $STATE/spool/spooldb
binary_path             /usr/sbin
qmaster_spool_dir       $STATE/spool/qmaster
security_mode           none
listener_threads        2
worker_threads          2
scheduler_threads       1
EOF
    echo "$NODE" >"$STATE/$CELL/common/act_qmaster"
    # The hostname and `localhost` are one host (see the header).
    printf '%s localhost\n' "$NODE" >"$STATE/$CELL/common/host_aliases"
    sed -e "s|^execd_spool_dir .*|execd_spool_dir        $STATE/spool/execd|" \
        -e "s|^min_uid .*|min_uid                $MIN_UID|" \
        -e "s|^min_gid .*|min_gid                $MIN_UID|" \
        -e "s|^max_aj_tasks .*|max_aj_tasks           $MAX_AJ|" \
        -e "s|^load_report_time .*|load_report_time       00:00:05|" \
        -e "s|flush_time=[0-9:]*|flush_time=$FLUSH|" \
        -e "s|^mailer .*|mailer                 /bin/true|" \
        -e "s|^login_shells .*|login_shells           sh|" \
        /usr/share/gridengine/default-configuration >"$STATE/spool/configuration"
    chown -R "$ADMIN:$ADMIN" "$STATE/$CELL" "$STATE/spool"
    # What Debian's init_cluster does, into our spool, as the admin user.
    setpriv --reuid "$ADMIN" --regid "$ADMIN" --clear-groups env SGE_ROOT="$STATE" \
        SGE_CELL="$CELL" sh -c '
        set -e
        /usr/lib/gridengine/spoolinit berkeleydb libspoolb "$0" init
        /usr/lib/gridengine/spooldefaults configuration "$1"
        /usr/lib/gridengine/spooldefaults complexes /usr/share/gridengine/util/resources/centry
        /usr/lib/gridengine/spooldefaults usersets /usr/share/gridengine/util/resources/usersets
        /usr/lib/gridengine/spooldefaults managers '"$ADMIN"' root
    ' "$STATE/spool/spooldb" "$STATE/spool/configuration" >"$STATE/init.log" 2>&1 \
        || die "spool initialisation failed (see $STATE/init.log)"
}

qmaster_answers() { qstat -f >/dev/null 2>&1; }
host_reports() {  # the execd has sent load values: its queue instance is usable
    local line
    line=$(qstat -f -q "all.q@$NODE" 2>/dev/null | grep "all.q@" || true)
    [[ -n $line && ! $line =~ [[:space:]](au|u|E|d)[[:space:]]*$ && $line != *-NA-* ]]
}
no_jobs() { [[ -z $(qstat -u '*' 2>/dev/null) ]]; }

# qconf -A* and -M* read files; write each object's file and load it.
load_object() {  # load_object OPTION FILE-CONTENT
    local file
    file=$(mktemp "$STATE/qconf.XXXXXX")
    printf '%s\n' "$2" >"$file"
    qconf "$1" "$file" >>"$STATE/configure.log" 2>&1 || { rm -f "$file"; return 1; }
    rm -f "$file"
}

configure_cluster() {
    : >"$STATE/configure.log"
    # Consumable gpu: requested per slot (-l gpu=1), counted per host, nothing by default.
    local complexes
    complexes="$(qconf -sc | grep -v '^#' | grep -v '^gpu ')
gpu                 gpu        INT         <=    YES         YES        0        0"
    load_object -Mc "$complexes" || die "cannot add the gpu complex (see $STATE/configure.log)"
    load_object -Ae "hostname              $NODE
load_scaling          NONE
complex_values        gpu=$SLOTS
user_lists            NONE
xuser_lists           NONE
projects              NONE
xprojects             NONE
usage_scaling         NONE
report_variables      NONE" || die "cannot add exec host $NODE (see $STATE/configure.log)"
    load_object -Ahgrp "group_name @allhosts
hostlist $NODE" || die "cannot add @allhosts (see $STATE/configure.log)"
    qconf -as "$NODE" >>"$STATE/configure.log" 2>&1 || die "cannot make $NODE a submit host"
    # smp: N slots on one host (qsub -pe smp N), for multi-threaded renders.
    load_object -Ap "pe_name            smp
slots              $SLOTS
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    \$pe_slots
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE" || die "cannot add the smp parallel environment (see $STATE/configure.log)"
    # all.q from Grid Engine's template, edited by sed (qconf runs $EDITOR on a file, no shell).
    # No load thresholds: other work on a shared machine must not put the queue in alarm state.
    cat >"$STATE/edit-queue.sh" <<EOF
#!/bin/sh
exec sed -i -e 's/^hostlist .*/hostlist @allhosts/' -e 's/^slots .*/slots $SLOTS/' \\
    -e 's/^pe_list .*/pe_list smp/' -e 's|^shell .*|shell /bin/bash|' \\
    -e 's/^load_thresholds .*/load_thresholds NONE/' "\$1"
EOF
    chmod 755 "$STATE/edit-queue.sh"
    EDITOR="$STATE/edit-queue.sh" qconf -aq all.q >>"$STATE/configure.log" 2>&1 \
        || die "cannot add all.q (see $STATE/configure.log)"
    # A 1 s scheduling interval keeps tests fast (the default is 15 s).
    load_object -Msconf "$(qconf -ssconf | sed \
        -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
        -e 's/^flush_submit_sec .*/flush_submit_sec                  1/' \
        -e 's/^flush_finish_sec .*/flush_finish_sec                  1/')" \
        || die "cannot set the scheduler interval (see $STATE/configure.log)"
}

up() {
    [[ $(id -u) == 0 ]] || cannot "the daemons and this script's set-up need root"
    install_packages
    use_cluster
    if alive "$(pid_of qmaster)" && alive "$(pid_of execd)"; then
        say "already up in $STATE"
    else
        stop_daemons
        write_root
        /usr/sbin/sge_qmaster >"$STATE/qmaster.out" 2>&1 \
            || die "sge_qmaster did not start (see $STATE/qmaster.out, $STATE/spool/qmaster/messages)"
        wait_for 30 qmaster_answers \
            || die "sge_qmaster does not answer (see $STATE/spool/qmaster/messages)"
        configure_cluster
        /usr/sbin/sge_execd >"$STATE/execd.out" 2>&1 \
            || die "sge_execd did not start (see $STATE/execd.out)"
    fi
    wait_for 60 host_reports || die "queue all.q@$NODE is not usable: $(qstat -f 2>&1 | tail -n 3)
(see $STATE/spool/qmaster/messages, $STATE/spool/execd/*/messages)"
    say "up: all.q@$NODE with $SLOTS slots and gpu=$SLOTS, max_aj_tasks=$MAX_AJ, state in $STATE"
    echo "export SGE_ROOT=$STATE SGE_CELL=$CELL SGE_QMASTER_PORT=$PORT SGE_EXECD_PORT=$((PORT + 1))"
}

stop_pid() {  # stop_pid NAME SECONDS: SIGTERM, wait, then SIGKILL
    local name=$1 pid
    pid=$(pid_of "$name")
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_for "$2" gone "$pid"; then
            say "$name ($pid) ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
}

stop_daemons() {
    stop_pid execd 15
    stop_pid qmaster 30
}

down() {
    use_cluster
    if alive "$(pid_of qmaster)"; then
        # Delete jobs first so no shepherd or worker outlives the cluster.
        qdel -f -u '*' >/dev/null 2>&1 || true
        wait_for 20 no_jobs || true
    fi
    stop_daemons
    say "down ($STATE kept for its logs)"
}

status() {
    use_cluster
    local name pid rc=0
    for name in qmaster execd; do
        pid=$(pid_of "$name")
        if alive "$pid"; then echo "sge_$name: running (pid $pid)"
        else echo "sge_$name: not running"; rc=1
        fi
    done
    if ((rc == 0)); then
        qstat -f | head -n 20
        echo "export SGE_ROOT=$STATE SGE_CELL=$CELL SGE_QMASTER_PORT=$PORT SGE_EXECD_PORT=$((PORT + 1))"
    fi
    return $rc
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    *) sed -n '2,38p' "$0" >&2; exit 2 ;;
esac

