#!/usr/bin/env bash
# The Debian packages orbitfarm's tests and demo need beyond Python itself.
#   tools/system_deps.sh           the shared libraries `import bpy` loads (every bpy wheel)
#   tools/system_deps.sh --window  Xvfb and xwd, for the real-window layer (`make test-window`)
#   tools/system_deps.sh --web     Chromium, the headless browser of the web-page layer (`make test-web`)
# Missing ones are installed with apt-get when run as root; otherwise the one `apt-get install`
# line to run is printed and the script exits 1. Nothing happens when all are installed.
set -euo pipefail

# import bpy: X11 client libraries, GL (libgl1), OpenMP (libgomp1, the 4.2 wheel) and
# libxxf86vm1 (4.2); EEVEE and Workbench render through EGL (libegl1).
PACKAGES=(libx11-6 libxext6 libxrender1 libxi6 libxfixes3 libxkbcommon0 libsm6 libice6 libgl1
    libegl1 libgomp1 libxxf86vm1)
if [[ "${1:-}" == "--window" ]]; then
    PACKAGES=(xvfb x11-apps)  # x11-apps: xwd, the screenshots
fi
if [[ "${1:-}" == "--web" ]]; then
    PACKAGES=(chromium)  # Playwright drives it; its own browser downloads are unreachable here
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system_deps: not a Debian/Ubuntu system; install the equivalents of: ${PACKAGES[*]}" >&2
    exit 0
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
    echo "system_deps: bpy needs system libraries that are missing. Run as root:" >&2
    echo "  sudo $line" >&2
    exit 1
fi
echo "system_deps: $line" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them only when the install needs it.
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
