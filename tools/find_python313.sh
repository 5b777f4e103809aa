#!/usr/bin/env bash
# Print the path of a Python 3.13 interpreter (Blender 5.1+ embeds 3.13, so bpy 5.1-5.3 wheels need
# it), or say on stderr how to get one and exit 1. Each candidate must really run as 3.13: pyenv's
# `python3.13` shim exists on PATH but fails unless PYENV_VERSION is set.
set -uo pipefail

candidates=()
[[ -n "${PYTHON313:-}" ]] && candidates+=("$PYTHON313")
if command -v pyenv >/dev/null 2>&1; then
    prefix=$(pyenv prefix 3.13 2>/dev/null) && candidates+=("$prefix/bin/python3.13")
fi
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin /root/.pyenv/versions/3.13*/bin; do
    candidates+=("$dir/python3.13")
done
command -v python3.13 >/dev/null 2>&1 && candidates+=("$(command -v python3.13)")
candidates+=(/usr/bin/python3.13 /usr/local/bin/python3.13)

for python in "${candidates[@]}"; do
    if [[ -x "$python" ]] &&
        "$python" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
        echo "$python"
        exit 0
    fi
done
cat >&2 <<'MSG'
No Python 3.13 found (needed for the bpy 5.3 layer, like Blender 5.1+). Get one of:
  pyenv install 3.13            # then make finds it under ~/.pyenv/versions/3.13*
  apt-get install python3.13 python3.13-venv   # Debian trixie / Ubuntu 24.10+
or pass its path: make test PYTHON313=/path/to/python3.13
MSG
exit 1
