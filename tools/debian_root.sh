# Shared helpers for the debootstrap roots the tests use (sourced by real_blender.sh and
# fresh_demo.sh; not run on its own). Needs root.

say() { echo "${SAY_PREFIX:-debian_root}: $*" >&2; }

# The Debian mirror the host's apt sources already name (deb822 .sources or one-line .list), so
# the roots come from wherever the host's apt works; never a hard-coded host. DEBIAN_MIRROR wins.
host_mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
    local uri
    uri=$(cat "${files[@]}" 2>/dev/null | grep -v '^\s*#' |
        grep -oE '(https?|file)://[^ ]+' | sed 's:/*$::' |
        grep -E '/debian$' | head -n 1 || true)
    if [[ -z "$uri" ]]; then
        say "no Debian mirror (a URI ending in /debian) in /etc/apt/sources*; set DEBIAN_MIRROR"
        return 1
    fi
    echo "$uri"
}

need_debootstrap() {
    if [[ $(id -u) -ne 0 ]]; then
        say "building a Debian root needs root (debootstrap, chroot). Run as root (sudo)."
        return 1
    fi
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap on the host"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2 ||
            { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -q --no-install-recommends debootstrap >&2; }
    fi
}

# debootstrap --variant=minbase SUITE into DIR, once: DIR/.debootstrap-done marks it complete.
minbase_root() {
    local suite=$1 dir=$2 mirror
    [[ -f "$dir/.debootstrap-done" ]] && return 0
    mirror=$(host_mirror) || return 1
    rm -rf "$dir"
    say "debootstrap --variant=minbase $suite from $mirror (1-2 minutes)"
    debootstrap --variant=minbase "$suite" "$dir" "$mirror" >&2 || return 1
    touch "$dir/.debootstrap-done"
}

# Run a command chrooted into DIR with /dev, /proc, /sys and DNS, in a private mount namespace
# (nothing stays mounted afterwards). Extra binds: ROOT_BINDS="host:inside host2:inside2".
in_root() {
    local dir=$1
    shift
    unshare --mount --propagation private -- /bin/bash -c '
        set -e; root=$1; shift
        mount --rbind /dev "$root/dev"; mount -t proc proc "$root/proc"; mount --rbind /sys "$root/sys"
        cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
        for pair in ${ROOT_BINDS:-}; do
            mkdir -p "${pair%%:*}" "$root${pair#*:}"
            mount --bind "${pair%%:*}" "$root${pair#*:}"
        done
        exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            DEBIAN_FRONTEND=noninteractive "$@"' bash "$dir" "$@"
}
