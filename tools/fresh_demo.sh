#!/usr/bin/env bash
# Prove the README's claim on every landing: on a fresh minimal Debian bookworm with only what the
# README asks for (make, python3, python3-venv), `make demo` works.
#
#   tools/fresh_demo.sh          (root; `make test-fresh` runs it)
#
# The pristine root (debootstrap --variant=minbase bookworm) is cached under
# ${ORBITFARM_CACHE:-$HOME/.cache/orbitfarm}/bookworm-fresh/base; every run copies it, installs
# the README's prerequisites, copies this working tree in (tracked and new files, not ignored
# ones such as .venv/) and runs `make demo` as root there, so the Makefile itself must install
# the system libraries bpy needs. apt's and pip's downloads are cached beside the base, so a
# second run downloads nothing; the copy is deleted afterwards (kept when the demo fails).
# The log goes to $ORBITFARM_ARTIFACTS/fresh-demo.log (default: test-artifacts/).
set -euo pipefail

HERE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ORBITFARM_CACHE:-$HOME/.cache/orbitfarm}"
HERE="$CACHE/bookworm-fresh"
BASE="$HERE/base"
RUN="$HERE/run"
ARTIFACTS="${ORBITFARM_ARTIFACTS:-$HERE_REPO/test-artifacts}"
LOG="$ARTIFACTS/fresh-demo.log"
# What the README's "Requirements" names for a fresh Debian; keep the two in step.
README_PACKAGES="make python3 python3-venv"

SAY_PREFIX=fresh_demo
# shellcheck source=tools/debian_root.sh
source "$HERE_REPO/tools/debian_root.sh"

need_debootstrap
mkdir -p "$HERE/apt-archives" "$HERE/apt-lists" "$HERE/pip" "$ARTIFACTS"
start=$SECONDS
minbase_root bookworm "$BASE"

say "fresh copy of the bookworm root"
rm -rf "$RUN"
cp -a "$BASE" "$RUN"
mkdir -p "$RUN/src/orbitfarm"
(cd "$HERE_REPO" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -I{} find {} -maxdepth 0 -type f -print0 |
    tar --null -T - -cf -) | tar -xf - -C "$RUN/src/orbitfarm"

# The host's CA trust goes in (and pip is pointed at it): where TLS to PyPI passes a
# site's inspecting proxy, a machine of this kind trusts that proxy the same way.
cert_env=""
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    # (its own name: installing ca-certificates in the root rewrites the usual bundle)
    cp /etc/ssl/certs/ca-certificates.crt "$RUN/etc/host-ca-certificates.crt"
    cert_env="export PIP_CERT=/etc/host-ca-certificates.crt SSL_CERT_FILE=/etc/host-ca-certificates.crt"
fi
export ROOT_BINDS="$HERE/apt-archives:/var/cache/apt/archives $HERE/apt-lists:/var/lib/apt/lists $HERE/pip:/root/.cache/pip"
say "apt-get install $README_PACKAGES, then make demo (log: $LOG)"
set +e
in_root "$RUN" /bin/bash -c "
    set -e
    $cert_env
    rm -f /etc/apt/apt.conf.d/docker-clean  # keep downloaded .debs in the cache
    apt-get update -q
    apt-get install -y -q --no-install-recommends $README_PACKAGES
    cd /src/orbitfarm
    time make demo
" >"$LOG" 2>&1
status=$?
set -e
if [[ $status -ne 0 ]]; then
    say "FAILED (exit $status) after $((SECONDS - start)) s; the root is kept in $RUN. Last lines:"
    tail -n 40 "$LOG" >&2
    exit 1
fi
grep -q "demo: monkey: rendered" "$LOG" && grep -q "demo: torus: rendered" "$LOG" || {
    say "make demo exited 0 but did not report both subjects rendered; see $LOG"
    exit 1
}
rm -rf "$RUN"
say "make demo passed on a fresh bookworm root in $((SECONDS - start)) s (log: $LOG)"
