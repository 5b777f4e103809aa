#!/usr/bin/env bash
# A real Kubernetes 1.20 control plane on this machine (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) plus a stand-in node agent, for orbitfarm's tests and for trying the kubernetes
# target against a real API server. Needs root the first time (apt-get) and about 6 minutes of CPU.
#
#   bash tests/kubernetes/controlplane.sh build   build the three binaries once (cached)
#   bash tests/kubernetes/controlplane.sh up      build if needed, start everything, wait until ready
#   bash tests/kubernetes/controlplane.sh down    stop everything by PID, remove the state directory
#   bash tests/kubernetes/controlplane.sh path    print the directory holding the cached binaries
#
# `up` prints the line to paste into a shell: export KUBECONFIG=<state>/kubeconfig
#
# Why v1.20 built from source: no newer control plane can be installed from the registries this
# project may use. Debian bookworm's `kubernetes` source package is the complete v1.20.2 tree; it
# builds offline (vendored modules) with Go 1.15, which Debian bullseye ships as golang-1.15-go.
# Both come through a private apt configuration under the cache (the host's apt is not touched;
# the mirror is the one the host's apt already uses), and the binaries are cached under
# ${ORBITFARM_CACHE:-~/.cache/orbitfarm}/k8s-1.20/bin/. etcd is Debian's `etcd-server`.
#
# There is no kubelet: tests/kubernetes/node_agent.py is a STAND-IN node that registers a Node with
# nvidia.com/gpu capacity and runs each bound pod's command as a local process (no containers,
# no images). Everything else (API server, scheduler, Job controller, garbage collector) is real.
#
# Settings (environment):
#   ORBITFARM_K8S_DIR     state directory (default /tmp/orbitfarm-k8s)
#   ORBITFARM_K8S_PORT    the API server's secure port on 127.0.0.1 (default 16443)
#   ORBITFARM_K8S_GPUS    nvidia.com/gpu capacity of the stand-in node (default 2)
#   ORBITFARM_K8S_AGENT   0: start no node agent (default 1)
#   ORBITFARM_K8S_PYTHON  Python with the `kubernetes` client for the agent (default: python3)
#   ORBITFARM_CACHE       cache directory (default ~/.cache/orbitfarm)
# Exit codes: 0 ok, 1 a daemon failed (see the logs named), 3 it cannot be set up here.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${ORBITFARM_CACHE:-$HOME/.cache/orbitfarm}
K8S_CACHE="$CACHE/k8s-1.20"
BIN="$K8S_CACHE/bin"
STATE=${ORBITFARM_K8S_DIR:-/tmp/orbitfarm-k8s}
PORT=${ORBITFARM_K8S_PORT:-16443}
ETCD_PORT=$((PORT + 1))
ETCD_PEER_PORT=$((PORT + 2))
GPUS=${ORBITFARM_K8S_GPUS:-2}
AGENT=${ORBITFARM_K8S_AGENT:-1}
PYTHON=${ORBITFARM_K8S_PYTHON:-python3}
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler)

# shellcheck source=../../tools/debian_root.sh
source "$HERE/../../tools/debian_root.sh"
# shellcheck source=../cluster_procs.sh
source "$HERE/../cluster_procs.sh"

say() { printf 'controlplane.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
cannot() { say "cannot set up the control plane here: $*"; exit 3; }

pid_of() { [[ -s $STATE/$1.pid ]] && tr -dc '0-9' <"$STATE/$1.pid" || true; }

host_packages() {  # install host packages the build or the plane needs, if missing
    local missing=() pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    [[ $(id -u) -eq 0 ]] || cannot "needs root to install: ${missing[*]}"
    say "installing ${missing[*]}"
    local apt=(apt-get -q -o DPkg::Lock::Timeout=600)  # other users of apt may hold its lock
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2 ||
        { "${apt[@]}" update >&2 && DEBIAN_FRONTEND=noninteractive \
            "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2; } ||
        cannot "apt-get install ${missing[*]} failed"
}

# apt with its own sources (bullseye binaries, bookworm sources), lists and archives under the
# cache, so Go 1.15 never lands in the host's package database.
private_apt() {
    local dir="$K8S_CACHE/apt"
    apt-get -q -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$dir/lists" -o Dir::Cache::Archives="$dir/archives" \
        -o Dir::State::status=/dev/null -o APT::Sandbox::User=root "$@"
}

fetch_sources() {
    local dir="$K8S_CACHE/apt" mirror
    [[ -f "$K8S_CACHE/.sources-done" ]] && return 0
    mirror=$(host_mirror) || cannot "no Debian mirror"
    mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$K8S_CACHE/dl"
    cat >"$dir/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main
EOF
    say "apt update (private lists: bullseye binaries, bookworm sources)"
    private_apt update >&2 || cannot "apt update of the private lists failed"
    (cd "$K8S_CACHE/dl" && private_apt download golang-1.15-go golang-1.15-src >&2) ||
        cannot "cannot download golang-1.15-go from bullseye"
    (cd "$K8S_CACHE/dl" && private_apt source --download-only kubernetes >&2) ||
        cannot "cannot download the kubernetes source package from bookworm"
    touch "$K8S_CACHE/.sources-done"
}

unpack() {
    local deb dsc
    [[ -f "$K8S_CACHE/.unpack-done" ]] && return 0
    rm -rf "$K8S_CACHE/go" "$K8S_CACHE/src"
    mkdir -p "$K8S_CACHE/go"
    for deb in "$K8S_CACHE"/dl/golang-1.15-*.deb; do
        dpkg-deb -x "$deb" "$K8S_CACHE/go"
    done
    dsc=$(ls "$K8S_CACHE"/dl/kubernetes_*.dsc | head -n1)
    say "unpacking $(basename "$dsc")"
    dpkg-source --no-check -x "$dsc" "$K8S_CACHE/src" >&2 || die "dpkg-source -x failed"
    touch "$K8S_CACHE/.unpack-done"
}

# pkg/generated/openapi is generated at build time (not in the source tree): run openapi-gen the
# way v1.20's Makefile.generated_files does, in GOPATH mode (gengo v1.20 loads packages that way).
gen_openapi() {
    local src="$K8S_CACHE/src" gopath="$K8S_CACHE/gopath" tool="$K8S_CACHE/tools/openapi-gen"
    local out="$src/pkg/generated/openapi/zz_generated.openapi.go" dirs
    [[ -s $out ]] && return 0
    say "generating $out"
    mkdir -p "$gopath/src/k8s.io" "$K8S_CACHE/tools"
    ln -sfn "$src" "$gopath/src/k8s.io/kubernetes"
    cd "$gopath/src/k8s.io/kubernetes"
    GOFLAGS=-mod=vendor nice -n 10 go build -o "$tool" k8s.io/kube-openapi/cmd/openapi-gen
    dirs=$(grep -Rl --include='*.go' '^// *+k8s:' pkg vendor/k8s.io |
        xargs grep -l '+k8s:openapi-gen=' |
        grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' |
        xargs -n1 dirname | LC_ALL=C sort -u | sed 's:^:k8s.io/kubernetes/:' | paste -sd, -)
    GO111MODULE=off GOFLAGS='' nice -n 10 "$tool" --logtostderr -i "$dirs" \
        -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
        -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
        -r "$K8S_CACHE/tmp/openapi-violations.report"
    [[ -s $out ]]
}

build() {
    local goroot="$K8S_CACHE/go/usr/lib/go-1.15" c missing=0
    for c in "${COMPONENTS[@]}"; do [[ -x "$BIN/$c" ]] || missing=1; done
    ((missing)) || { say "binaries cached in $BIN"; return 0; }
    host_packages rsync make dpkg-dev
    fetch_sources
    unpack
    [[ -x "$goroot/bin/go" ]] || die "no go binary in $goroot"
    mkdir -p "$K8S_CACHE/gopath" "$K8S_CACHE/gocache" "$K8S_CACHE/tmp" "$BIN"
    say "building ${COMPONENTS[*]} with Go 1.15 (about 6 minutes on 2 cores)"
    # The generators run scripts from hack/ and from TMPDIR: keep both executable, on this fs.
    find "$K8S_CACHE/src/hack" -name '*.sh' -exec chmod +x {} +
    local started=$SECONDS
    (
        cd "$K8S_CACHE/src"
        export GOROOT="$goroot" PATH="$goroot/bin:$PATH" GOPATH="$K8S_CACHE/gopath"
        export GOCACHE="$K8S_CACHE/gocache" TMPDIR="$K8S_CACHE/tmp" GOFLAGS=-mod=vendor
        export GO111MODULE=on GOPROXY=off CGO_ENABLED=0
        # The version stamped into the binaries (the server reports it; the target reads it).
        local ld="-s -w -X k8s.io/client-go/pkg/version.gitVersion=v1.20.2"
        ld+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=20"
        ld+=" -X k8s.io/component-base/version.gitVersion=v1.20.2"
        ld+=" -X k8s.io/component-base/version.gitMajor=1"
        ld+=" -X k8s.io/component-base/version.gitMinor=20"
        (gen_openapi) || exit 1
        for c in "${COMPONENTS[@]}"; do
            say "go build ./cmd/$c"
            nice -n 10 go build -p 2 -ldflags "$ld" -o "$BIN/$c.partial" "./cmd/$c"
            mv "$BIN/$c.partial" "$BIN/$c"
        done
    ) >&2 || die "build failed"
    say "built in $((SECONDS - started)) s: $BIN"
}

# -- certificates and kubeconfig ---------------------------------------------------------------

certificates() {  # a CA, the API server's serving cert, an admin client cert, the SA key pair
    local pki="$STATE/pki"
    [[ -s $pki/admin.crt ]] && return 0
    mkdir -p "$pki"
    (
        cd "$pki"
        openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=orbitfarm-test-ca \
            -keyout ca.key -out ca.crt
        openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout apiserver.key \
            -out apiserver.csr
        printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,%s\n' \
            'DNS:kubernetes.default,DNS:kubernetes.default.svc' >san.ext
        openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
            -extfile san.ext -out apiserver.crt
        # system:masters: the admin (and the controllers, which use the same kubeconfig here).
        openssl req -newkey rsa:2048 -nodes -subj /O=system:masters/CN=orbitfarm-admin \
            -keyout admin.key -out admin.csr
        openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
            -out admin.crt
        openssl genrsa -out sa.key 2048
        openssl rsa -in sa.key -pubout -out sa.pub
    ) >"$STATE/pki.log" 2>&1 || die "openssl failed (see $STATE/pki.log)"
    # A static token too: the same admin identity for clients that prefer bearer tokens.
    local token
    token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s,orbitfarm-token-admin,orbitfarm-token-admin,system:masters\n' "$token" \
        >"$pki/tokens.csv"
    printf '%s\n' "$token" >"$pki/admin.token"
    chmod 600 "$pki"/*.key "$pki/tokens.csv" "$pki/admin.token"
}

kubeconfig() {
    local pki="$STATE/pki"
    cat >"$STATE/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: orbitfarm-test
  cluster:
    server: https://127.0.0.1:$PORT
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: orbitfarm-test
  context: {cluster: orbitfarm-test, user: admin, namespace: default}
current-context: orbitfarm-test
EOF
}

# -- daemons -----------------------------------------------------------------------------------

start() {  # start NAME COMMAND...: in its own session, output to NAME.log, PID to NAME.pid
    local name=$1
    shift
    setsid "$@" </dev/null >"$STATE/$name.log" 2>&1 &
    echo $! >"$STATE/$name.pid"
}

stop() {  # stop NAME: SIGTERM its process group, SIGKILL after 10 s
    local name=$1 pid
    pid=$(pid_of "$name")
    [[ -n $pid ]] || return 0
    if alive "$pid"; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        if ! wait_for 10 eval "! alive $pid"; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            wait_for 5 eval "! alive $pid" || say "warning: $name ($pid) does not stop"
        fi
    fi
    rm -f "$STATE/$name.pid"
}

api() {  # api PATH: GET from the API server as the admin
    curl -sf --max-time 2 --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" \
        --key "$STATE/pki/admin.key" "https://127.0.0.1:$PORT$1"
}

api_ready() { api /readyz >/dev/null; }
node_ready() { api /api/v1/nodes/orbitfarm-standin | grep -Eq '"type": ?"Ready"'; }

check_alive() {
    local name
    for name in "$@"; do
        alive "$(pid_of "$name")" || die "$name exited: $(tail -n 5 "$STATE/$name.log" 2>/dev/null)"
    done
}

up() {
    build
    host_packages etcd-server openssl curl
    if alive "$(pid_of etcd)"; then die "already up in $STATE (down first)"; fi
    mkdir -p "$STATE"
    certificates
    kubeconfig
    local pki="$STATE/pki" started=$SECONDS
    start etcd etcd --name orbitfarm --data-dir "$STATE/etcd" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "orbitfarm=http://127.0.0.1:$ETCD_PEER_PORT"
    # ServiceAccount admission off: pods need no token secret (there is no kubelet to mount it).
    start kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$PORT" \
        --insecure-port 0 --tls-cert-file "$pki/apiserver.crt" \
        --tls-private-key-file "$pki/apiserver.key" --client-ca-file "$pki/ca.crt" \
        --token-auth-file "$pki/tokens.csv" --authorization-mode RBAC \
        --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
        --service-account-issuer https://kubernetes.default.svc \
        --service-cluster-ip-range 10.0.0.0/24 --disable-admission-plugins ServiceAccount \
        --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
        --kubelet-preferred-address-types InternalIP
    wait_for 90 api_ready || { check_alive etcd kube-apiserver; die "API server not ready"; }
    start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$STATE/kubeconfig" \
        --leader-elect=false --port 0 --secure-port 0 --root-ca-file "$pki/ca.crt" \
        --service-account-private-key-file "$pki/sa.key"
    start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$STATE/kubeconfig" \
        --leader-elect=false --port 0 --secure-port 0
    if [[ $AGENT == 1 ]]; then
        start node-agent "$PYTHON" "$HERE/node_agent.py" --kubeconfig "$STATE/kubeconfig" \
            --gpus "$GPUS" --state "$STATE/agent" --tls-cert "$pki/apiserver.crt" \
            --tls-key "$pki/apiserver.key"
        wait_for 60 node_ready || { check_alive node-agent; die "the stand-in node is not ready"; }
    fi
    sleep 1
    check_alive etcd kube-apiserver kube-controller-manager kube-scheduler
    say "up in $((SECONDS - started)) s (Kubernetes v1.20.2, stand-in node: $AGENT)"
    echo "export KUBECONFIG=$STATE/kubeconfig"
}

down() {
    local name
    for name in node-agent kube-scheduler kube-controller-manager kube-apiserver etcd; do
        stop "$name"
    done
    if [[ -f $STATE/kubeconfig ]]; then rm -rf "$STATE"; fi
    say "down"
}

cmd="${1:-}"
case "$cmd" in
build) build ;;
up) up ;;
down) down ;;
path) echo "$BIN" ;;
*) say "usage: $0 build|up|down|path"; exit 2 ;;
esac
