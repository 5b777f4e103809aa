"""`address: local`: a Ray head on this machine, started on demand and kept for later jobs.

The head runs `ray start --head --block` (the profile's `ray:` executable, else `ray` on PATH)
bound to 127.0.0.1, in its own process group; its PID and Jobs API address are kept in
${ORBITFARM_CACHE:-~/.cache/orbitfarm}/ray-local/, so every later submit, status or cancel finds
the same head. Stop it with stop_local_head() (by PID; never `ray stop`, which kills every Ray process by name).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from ..base import TargetError

READY_TIMEOUT = 90.0
_PORT_SPAN = 100  # GCS +0, client +1, dashboard +2, ..., workers +20..+99


def local_dir() -> Path:
    """Where the local head's PID, address and log live (beside orbitfarm's other caches)."""
    cache = os.environ.get("ORBITFARM_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                               "orbitfarm")
    return Path(cache) / "ray-local"


def _answers(address: str) -> bool:
    import requests

    try:
        return requests.get(f"{address}/api/version", timeout=2).ok
    except requests.RequestException:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _free_base() -> int:
    # Outside Ray's default worker-port range 10002-19999: a GCS port inside it aborts the head.
    for base in range(40000 + os.getpid() % 100 * _PORT_SPAN, 60000, _PORT_SPAN):
        ports = (*range(base, base + 9), base + 20)
        try:
            for port in ports:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise TargetError("no free ports for a local Ray head")


def _gpu_count() -> int:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def ensure_local_head(ray: str | None = None, cpus: int | None = None,
                      gpus: int | None = None) -> str:
    """The Jobs API address of this machine's orbitfarm Ray head, starting it if needed."""
    folder = local_dir()
    pid_file, address_file = folder / "head.pid", folder / "address"
    if pid_file.exists() and address_file.exists():
        address = address_file.read_text().strip()
        if _alive(int(pid_file.read_text())) and _answers(address):
            return address
    executable = shutil.which(ray or "ray")
    if executable is None:
        raise TargetError(f"`address: local` needs Ray on this machine: `{ray or 'ray'}` not "
                          "found (pip install 'ray[default]', or `ray: /path/to/ray`)")
    folder.mkdir(parents=True, exist_ok=True)
    base = _free_base()
    address = f"http://127.0.0.1:{base + 2}"
    argv = [executable, "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
            "--dashboard-host", "127.0.0.1", "--include-dashboard", "true",
            "--num-cpus", str(cpus or os.cpu_count() or 1),
            "--num-gpus", str(_gpu_count() if gpus is None else gpus),
            "--port", str(base), "--ray-client-server-port", str(base + 1),
            "--dashboard-port", str(base + 2), "--node-manager-port", str(base + 3),
            "--object-manager-port", str(base + 4), "--metrics-export-port", str(base + 5),
            "--dashboard-agent-listen-port", str(base + 6),
            "--dashboard-agent-grpc-port", str(base + 7),
            "--runtime-env-agent-port", str(base + 8),
            "--min-worker-port", str(base + 20), "--max-worker-port", str(base + 99),
            "--disable-usage-stats"]
    # The driver's `python` must be the one with Ray: put Ray's bin folder first on PATH.
    # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0: every Ray process binds and advertises 127.0.0.1.
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0",
               PATH=f"{Path(executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    log = folder / "head.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    pid_file.write_text(str(proc.pid))
    address_file.write_text(address)
    deadline = time.monotonic() + READY_TIMEOUT
    while not _answers(address):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_local_head()
            raise TargetError(f"the local Ray head did not start; see {log}")
        time.sleep(0.5)
    return address


def stop_local_head(timeout: float = 40.0) -> bool:
    """Stop this machine's orbitfarm Ray head by PID (it drains, then exits); False: none."""
    pid_file = local_dir() / "head.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    stopped = False
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.25)
            try:
                os.waitpid(pid, os.WNOHANG)  # our own child when started by this process
            except ChildProcessError:
                pass
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)  # the head's own process group (start_new_session)
        stopped = True
    pid_file.unlink(missing_ok=True)
    return stopped
