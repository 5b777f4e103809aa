#!/usr/bin/env bash
# A throwaway Kubernetes v1.20.2 control plane on this machine (loopback only), for orbitfarm's
# tests: real kube-apiserver, kube-controller-manager (Job controller, garbage collector, node
# lifecycle) and kube-scheduler, on Debian's etcd-server; NO kubelet: a stand-in node agent
# (tests/kubernetes/node_agent.py) plays one node with fake nvidia.com/gpu capacity and runs each
# pod's command as a local process. Needs root and Debian/Ubuntu (apt) the first time.
#
#   bash tests/kubernetes/cluster.sh install  fetch Debian bookworm's `kubernetes` source
#                                             (the v1.20.2 tree with its vendor/) and Go 1.15
#                                             from bullseye, build the three binaries (~6 min on
#                                             2 cores, 1.6 GB RSS; cached), install etcd-server
#   bash tests/kubernetes/cluster.sh up       install if missing, start everything, wait for the
#                                             node to be Ready; prints the kubeconfig to use
#   bash tests/kubernetes/cluster.sh down     stop every process by its PID
#
# Why 1.20: no Kubernetes >= 1.21 control plane can be installed from the reachable registries.
# 1.20 has no Indexed Jobs (the server drops completionMode), so the orbitfarm target uses its
# one-pod-per-task mode there, as it does against any server older than 1.24.
#
# Settings (environment):
#   ORBITFARM_K8S_DIR    state directory (default /tmp/orbitfarm-k8s)
#   ORBITFARM_K8S_PORT   base port (default 36400): etcd +0/+1, API (plain HTTP on 127.0.0.1,
#                        the deprecated --insecure-port 1.20 still has) +2, API TLS +3
#   ORBITFARM_K8S_GPUS   nvidia.com/gpu capacity of the stand-in node (default 2)
#   ORBITFARM_K8S_PYTHON Python with the `kubernetes` client for the node agent (default python3)
#   ORBITFARM_CACHE      cache root (default ~/.cache/orbitfarm); binaries in $ORBITFARM_CACHE/k8s120
# Exit codes: 0 ok, 1 something failed (see the logs named), 3 cannot be installed here.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${ORBITFARM_K8S_DIR:-/tmp/orbitfarm-k8s}
PORT=${ORBITFARM_K8S_PORT:-36400}
GPUS=${ORBITFARM_K8S_GPUS:-2}
PYTHON=${ORBITFARM_K8S_PYTHON:-python3}
CACHE=${ORBITFARM_CACHE:-$HOME/.cache/orbitfarm}/k8s120
BIN=$CACHE/bin
API=http://127.0.0.1:$((PORT + 2))
NODE=orbitfarm-stand-in
VERSION_LDFLAGS="-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=20 -X k8s.io/component-base/version.gitVersion=v1.20.2 -X k8s.io/component-base/version.gitTreeState=clean"

say() { printf 'k8s cluster.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
cannot() { say "cannot install Kubernetes 1.20 here: $*"; exit 3; }

apt_private() {
    # A private apt configuration: bookworm sources + bullseye binaries, lists in the cache;
    # the machine's own apt sources are not touched.
    mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/archives/partial"
    cat >"$CACHE/apt/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main
EOF
    APT_OPTS=(-o "Dir::Etc::SourceList=$CACHE/apt/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
              -o "Dir::State::Lists=$CACHE/apt/lists" -o "Dir::Cache::Archives=$CACHE/apt/archives"
              -o "Dir::Cache=$CACHE/apt" -o "APT::Architecture=amd64" -o "APT::Sandbox::User=root")
    apt-get "${APT_OPTS[@]}" update -qq >"$CACHE/apt.log" 2>&1 || cannot "apt-get update failed: $CACHE/apt.log"
}

install_etcd() {
    command -v etcd >/dev/null && return 0
    [[ $(id -u) == 0 ]] || cannot "need root to install etcd-server"
    local policy=/usr/sbin/policy-rc.d own=0
    [[ -e $policy ]] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; own=1; }
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server
    } >"${TMPDIR:-/tmp}/orbitfarm-etcd-apt.log" 2>&1 || { ((own)) && rm -f "$policy"; cannot "apt-get install etcd-server failed"; }
    ((own)) && rm -f "$policy"
    return 0
}

install() {
    install_etcd
    if [[ -x $BIN/kube-apiserver && -x $BIN/kube-controller-manager && -x $BIN/kube-scheduler ]]; then
        return 0
    fi
    command -v apt-get >/dev/null || cannot "no apt-get"
    command -v dpkg-source >/dev/null || cannot "no dpkg-source (apt-get install dpkg-dev)"
    apt_private
    mkdir -p "$CACHE/src" "$CACHE/debs"
    if ! ls "$CACHE"/src/kubernetes_*.dsc >/dev/null 2>&1; then
        (cd "$CACHE/src" && apt-get "${APT_OPTS[@]}" source --download-only kubernetes) \
            >>"$CACHE/apt.log" 2>&1 || cannot "cannot fetch the kubernetes source: $CACHE/apt.log"
    fi
    if [[ ! -d $CACHE/src/tree ]]; then
        (cd "$CACHE/src" && dpkg-source --no-check -x kubernetes_*.dsc tree) >>"$CACHE/apt.log" 2>&1
    fi
    if [[ ! -x $CACHE/go/usr/lib/go-1.15/bin/go ]]; then
        (cd "$CACHE/debs" && apt-get "${APT_OPTS[@]}" download golang-1.15-go golang-1.15-src) \
            >>"$CACHE/apt.log" 2>&1 || cannot "cannot fetch Go 1.15 from bullseye: $CACHE/apt.log"
        rm -rf "$CACHE/go" && mkdir -p "$CACHE/go"
        for deb in "$CACHE"/debs/golang-1.15-*.deb; do dpkg -x "$deb" "$CACHE/go"; done
    fi
    say "building kube-apiserver, kube-controller-manager, kube-scheduler v1.20.2 (several minutes)"
    mkdir -p "$BIN"
    (
        cd "$CACHE/src/tree"
        export GOROOT=$CACHE/go/usr/lib/go-1.15 GOPATH=$CACHE/gopath GOCACHE=$CACHE/gocache \
            GOFLAGS=-mod=vendor CGO_ENABLED=0 GO111MODULE=on GOPROXY=off
        "$GOROOT/bin/go" build -p 2 -ldflags "$VERSION_LDFLAGS" -o "$BIN/" \
            ./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kube-scheduler
    ) >"$CACHE/build.log" 2>&1 || die "the build failed: $CACHE/build.log"
    say "built into $BIN"
}

start() {  # name, then argv: runs in its own process group, PID in STATE/name.pid
    local name=$1
    shift
    setsid "$@" >"$STATE/$name.log" 2>&1 </dev/null &
    echo $! >"$STATE/$name.pid"
}

alive() { [[ -f $STATE/$1.pid ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

wait_for() {  # what, command...
    local what=$1 i
    shift
    for ((i = 0; i < 240; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    die "$what did not come up; see the logs in $STATE"
}

up() {
    install
    alive kube-apiserver && { say "already up: $API"; return 0; }
    mkdir -p "$STATE/etcd" "$STATE/certs"
    [[ -f $STATE/sa.key ]] || openssl genrsa -out "$STATE/sa.key" 2048 2>/dev/null
    openssl rsa -in "$STATE/sa.key" -pubout -out "$STATE/sa.pub" 2>/dev/null
    start etcd etcd --data-dir "$STATE/etcd" --name orbitfarm \
        --listen-client-urls "http://127.0.0.1:$PORT" --advertise-client-urls "http://127.0.0.1:$PORT" \
        --listen-peer-urls "http://127.0.0.1:$((PORT + 1))" \
        --initial-advertise-peer-urls "http://127.0.0.1:$((PORT + 1))" \
        --initial-cluster "orbitfarm=http://127.0.0.1:$((PORT + 1))"
    wait_for etcd curl -sf "http://127.0.0.1:$PORT/health"
    start kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$PORT" \
        --insecure-port $((PORT + 2)) --insecure-bind-address 127.0.0.1 \
        --secure-port $((PORT + 3)) --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
        --cert-dir "$STATE/certs" --authorization-mode AlwaysAllow \
        --service-cluster-ip-range 10.254.0.0/24 --disable-admission-plugins ServiceAccount \
        --service-account-key-file "$STATE/sa.pub" --service-account-signing-key-file "$STATE/sa.key" \
        --service-account-issuer https://kubernetes.default.svc --allow-privileged
    wait_for kube-apiserver curl -sf "$API/readyz"
    start kube-controller-manager "$BIN/kube-controller-manager" --master "$API" \
        --leader-elect=false --port 0 --secure-port 0 --controllers '*,-serviceaccount-token' \
        --node-monitor-grace-period 40s --pod-eviction-timeout 5m
    start kube-scheduler "$BIN/kube-scheduler" --master "$API" --leader-elect=false --port 0 \
        --secure-port 0
    start node-agent "$PYTHON" "$HERE/node_agent.py" --server "$API" --node "$NODE" --gpus "$GPUS"
    cat >"$STATE/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: orbitfarm-test, cluster: {server: "$API"}}]
users: [{name: orbitfarm-test, user: {}}]
contexts: [{name: orbitfarm-test, context: {cluster: orbitfarm-test, user: orbitfarm-test, namespace: default}}]
current-context: orbitfarm-test
EOF
    wait_for "the stand-in node" node_ready
    for name in kube-controller-manager kube-scheduler node-agent; do
        alive "$name" || die "$name exited; see $STATE/$name.log"
    done
    say "up: API $API, kubeconfig $STATE/kubeconfig (node $NODE is a STAND-IN, not a kubelet)"
}

node_ready() {
    curl -sf "$API/api/v1/nodes/$NODE" | grep -q '"type": "Ready"' && \
        curl -sf "$API/api/v1/namespaces/default/serviceaccounts" >/dev/null
}

down() {
    local name pid
    for name in node-agent kube-scheduler kube-controller-manager kube-apiserver etcd; do
        [[ -f $STATE/$name.pid ]] || continue
        pid=$(cat "$STATE/$name.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null || true
        fi
        rm -f "$STATE/$name.pid"
    done
    say "down"
}

case ${1:-} in
    install) install ;;
    up) up ;;
    down) down ;;
    *) say "usage: $0 install|up|down"; exit 2 ;;
esac
