#!/usr/bin/env bash
# A throwaway single-node Ray cluster on this machine (loopback only), for orbitfarm's tests and
# for trying the `ray` target against a real Ray head.
#
#   bash tests/ray/cluster.sh install   make the Ray venv (cached), nothing started
#   bash tests/ray/cluster.sh up        install if missing, start a head, wait for its Jobs API
#   bash tests/ray/cluster.sh status    the head's PID and what the Jobs API answers
#   bash tests/ray/cluster.sh down      stop the head by its PID (never `ray stop`, which kills
#                                       every Ray process on the machine by name)
#
# `up` prints the Jobs API address to put in a profile (`address: http://127.0.0.1:PORT`).
# The head has ORBITFARM_RAY_CPUS CPUs and as many fake GPUs (Ray accepts `--num-gpus` with no
# GPU and hands out CUDA_VISIBLE_DEVICES ids), so `num_gpus: 1` tasks are scheduled and
# fitted like on a GPU node. Ray comes from PyPI into its own venv under the orbitfarm cache
# (it is only needed on the cluster, never by the submitter); the head's PATH starts with that
# venv, so the Jobs API's `python` entrypoints run with Ray importable.
#
# Settings (environment):
#   ORBITFARM_RAY_DIR    state directory: PID, log, Ray's temp dir (default /tmp/orbitfarm-ray;
#                        keep it short: Ray's unix sockets live under it)
#   ORBITFARM_RAY_PORT   base port (default 26380): GCS +0, client server +1, dashboard (Jobs
#                        API) +2, node manager +3, object manager +4, metrics +5, agent +6/+7,
#                        runtime env agent +8, worker ports +20..+99. Keep it outside 10002-19999:
#                        a GCS port inside Ray's default worker-port range makes the head abort.
#   ORBITFARM_RAY_CPUS   CPUs and fake GPUs of the head (default 2)
#   ORBITFARM_CACHE      cache root (default ~/.cache/orbitfarm): the venv is $ORBITFARM_CACHE/ray-venv
# Exit codes: 0 ok, 1 the head failed (see the log named), 3 Ray cannot be installed here.
set -euo pipefail

STATE=${ORBITFARM_RAY_DIR:-/tmp/orbitfarm-ray}
PORT=${ORBITFARM_RAY_PORT:-26380}
CPUS=${ORBITFARM_RAY_CPUS:-2}
CACHE=${ORBITFARM_CACHE:-$HOME/.cache/orbitfarm}
RAY_VERSION=2.60.0
VENV="$CACHE/ray-venv"
PYTHON=${ORBITFARM_RAY_PYTHON:-$(command -v python3.11 || command -v python3)}

say() { printf 'ray cluster.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
cannot() { say "cannot install Ray here: $*"; exit 3; }

install() {
    [[ -x $VENV/bin/ray && -f $VENV/.ready-$RAY_VERSION ]] && return 0
    [[ -n $PYTHON ]] || cannot "no python3"
    say "installing ray[default]==$RAY_VERSION into $VENV"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    "$PYTHON" -m venv "$VENV" || cannot "python -m venv failed"
    { "$VENV/bin/pip" install -q --upgrade pip \
        && "$VENV/bin/pip" install -q "ray[default]==$RAY_VERSION"; } \
        >"$CACHE/ray-venv-install.log" 2>&1 \
        || { rm -rf "$VENV"; cannot "pip failed, see $CACHE/ray-venv-install.log"; }
    touch "$VENV/.ready-$RAY_VERSION"
}

running() { [[ -f $STATE/head.pid ]] && kill -0 "$(cat "$STATE/head.pid")" 2>/dev/null; }

up() {
    ((PORT < 10002 || PORT > 19999)) || die "ORBITFARM_RAY_PORT=$PORT is inside Ray's worker-port range 10002-19999"
    install
    running && { say "already up (PID $(cat "$STATE/head.pid"))"; print_address; return 0; }
    mkdir -p "$STATE"
    local url="http://127.0.0.1:$((PORT + 2))"
    # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0: single-machine mode, every Ray process binds and
    # advertises 127.0.0.1 (otherwise Ray advertises this host's routable address).
    # setsid: the head and everything it starts form their own process group, so `down` can
    # reach stragglers by group id even if the head itself died.
    env PATH="$VENV/bin:$PATH" RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_USAGE_STATS_ENABLED=0 \
        setsid "$VENV/bin/ray" start --head --block \
        --num-cpus "$CPUS" --num-gpus "$CPUS" \
        --node-ip-address 127.0.0.1 --dashboard-host 127.0.0.1 --include-dashboard true \
        --port "$PORT" --ray-client-server-port $((PORT + 1)) --dashboard-port $((PORT + 2)) \
        --node-manager-port $((PORT + 3)) --object-manager-port $((PORT + 4)) \
        --metrics-export-port $((PORT + 5)) --dashboard-agent-listen-port $((PORT + 6)) \
        --dashboard-agent-grpc-port $((PORT + 7)) --runtime-env-agent-port $((PORT + 8)) \
        --min-worker-port $((PORT + 20)) --max-worker-port $((PORT + 99)) \
        --object-store-memory 200000000 --temp-dir "$STATE/tmp" --disable-usage-stats \
        >"$STATE/head.log" 2>&1 </dev/null &
    echo $! >"$STATE/head.pid"
    echo "$url" >"$STATE/address"
    local i
    for ((i = 0; i < 120; i++)); do
        running || die "the Ray head exited; see $STATE/head.log"
        # Ready when the Jobs API answers and the node has registered its resources.
        if curl -sf "$url/api/version" >/dev/null 2>&1 \
            && curl -sf "$url/nodes?view=summary" 2>/dev/null | grep -q '"GPU"'; then
            print_address
            return 0
        fi
        sleep 0.5
    done
    die "the Ray head did not answer on $url within 60 s; see $STATE/head.log"
}

print_address() { say "Jobs API: $(cat "$STATE/address")"; }

down() {
    [[ -f $STATE/head.pid ]] || { say "not running"; return 0; }
    local pid
    pid=$(cat "$STATE/head.pid")
    if kill -0 "$pid" 2>/dev/null; then
        # SIGTERM: `ray start --block` drains the node and stops every process it started.
        kill -TERM "$pid"
        local i
        for ((i = 0; i < 60 && $(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0); i++)); do
            sleep 0.5
        done
    fi
    # Anything left in the head's process group (started by setsid above, so the group id is
    # the head's PID) is ours alone.
    if pgrep -g "$pid" >/dev/null 2>&1; then
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/head.pid"
    say "down"
}

status() {
    if running; then
        say "head PID $(cat "$STATE/head.pid")"
        curl -sf "$(cat "$STATE/address")/api/version" && echo
    else
        say "not running"
    fi
}

case ${1:-} in
    install) install ;;
    up) up ;;
    down) down ;;
    status) status ;;
    *) say "usage: $0 install|up|status|down"; exit 2 ;;
esac
