"""A real throwaway Grid Engine cluster for the session (tests/sge/cluster.sh), up and down by itself.

Each test session gets its own state directory (its SGE_ROOT) and ports, so two sessions (or a
cluster a user started with `make sge-up`) never share daemons. max_aj_tasks is small so array
splitting is exercised with a handful of tasks. Tests skip, loudly, only when this machine cannot
run Grid Engine at all (not root, no apt, apt unreachable); any other failure fails the tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CLUSTER_SH = HERE / "cluster.sh"
MAX_AJ_TASKS = 3
SLOTS = 4
SGE_VARIABLES = ("SGE_ROOT", "SGE_CELL", "SGE_QMASTER_PORT", "SGE_EXECD_PORT")


@dataclass
class Cluster:
    """A running test cluster."""

    root: Path  # SGE_ROOT = the state directory
    env: dict[str, str]
    max_aj_tasks: int
    slots: int

    def run(self, *argv: str, cwd: str | Path | None = None, check: bool = True) -> str:
        """Run a Grid Engine client command against this cluster; its stdout."""
        return subprocess.run(list(argv), env=self.env, check=check, capture_output=True,
                              text=True, timeout=60, cwd=cwd).stdout


def _ports_free(base: int, count: int = 2) -> bool:
    for port in range(base, base + count):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _free_port_base() -> int:
    for base in range(31000 + os.getpid() % 500 * 4, 40000, 4):
        if _ports_free(base):
            return base
    raise RuntimeError("no free ports for the test cluster")


@pytest.fixture(scope="session")
def sge_cluster() -> Iterator[Cluster]:
    """Bring a Grid Engine cluster up for the session; SGE_* point the clients at it."""
    root = Path(tempfile.mkdtemp(prefix="orbitfarm-sge-test-"))
    port = _free_port_base()
    env = dict(os.environ, ORBITFARM_SGE_DIR=str(root), ORBITFARM_SGE_PORT=str(port),
               ORBITFARM_SGE_MAX_AJ=str(MAX_AJ_TASKS), ORBITFARM_SGE_SLOTS=str(SLOTS))
    started = time.monotonic()
    proc = subprocess.run(["bash", str(CLUSTER_SH), "up"], env=env, capture_output=True,
                          text=True, timeout=900)
    if proc.returncode == 3:
        pytest.skip(f"GRID ENGINE TESTS SKIPPED: this machine cannot run Grid Engine: "
                    f"{proc.stderr.strip().splitlines()[-1]}")
    if proc.returncode != 0:
        subprocess.run(["bash", str(CLUSTER_SH), "down"], env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"the test Grid Engine cluster did not come up:\n{proc.stderr[-3000:]}")
    values = dict(SGE_ROOT=str(root), SGE_CELL="default", SGE_QMASTER_PORT=str(port),
                  SGE_EXECD_PORT=str(port + 1))
    env.update(values)
    previous = {name: os.environ.get(name) for name in SGE_VARIABLES}
    os.environ.update(values)  # the target's qsub/qstat/qacct inherit them
    print(f"\ntest Grid Engine cluster up in {time.monotonic() - started:.1f} s: {root}")
    try:
        yield Cluster(root=root, env=env, max_aj_tasks=MAX_AJ_TASKS, slots=SLOTS)
    finally:
        down = subprocess.run(["bash", str(CLUSTER_SH), "down"], env=env, capture_output=True,
                              text=True, timeout=120)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        assert down.returncode == 0, down.stderr
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sge_login(sge_cluster, tmp_path) -> Iterator[Path]:
    """An sshd on 127.0.0.1 standing in for a submit host: its own host key and authorized key
    under tmp_path (nothing in /etc/ssh is used); its sessions get the cluster's SGE_* like a
    login node's profile would. Yields an ssh config naming the host `orbitfarm-sge-login`;
    stopped by PID."""
    folder = tmp_path / "ssh"
    folder.mkdir(mode=0o700)
    for key in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(folder / key)], check=True)
    shutil.copy(folder / "client.pub", folder / "authorized_keys")
    port = next(p for p in range(_free_port_base() + 2, 40000) if _ports_free(p, 1))
    settings = " ".join(f"{name}={sge_cluster.env[name]}" for name in SGE_VARIABLES)
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host'}\n"
        f"PidFile {folder / 'sshd.pid'}\nAuthorizedKeysFile {folder / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"SetEnv {settings}\n")
    config = folder / "config"
    config.write_text(
        f"Host orbitfarm-sge-login\n    HostName 127.0.0.1\n    Port {port}\n"
        f"    User {os.environ.get('USER') or 'root'}\n    IdentityFile {folder / 'client'}\n"
        "    IdentitiesOnly yes\n    StrictHostKeyChecking no\n"
        "    UserKnownHostsFile /dev/null\n    LogLevel ERROR\n")
    Path("/run/sshd").mkdir(exist_ok=True)
    # sshd insists on being started by its absolute path; it daemonizes and writes its PID.
    subprocess.run(["/usr/sbin/sshd", "-f", str(folder / "sshd_config"), "-E",
                    str(folder / "sshd.log")], check=True)
    deadline = time.monotonic() + 20
    while not (folder / "sshd.pid").is_file() or _ports_free(port, 1):
        assert time.monotonic() < deadline, (folder / "sshd.log").read_text()
        time.sleep(0.2)
    pid = int((folder / "sshd.pid").read_text())
    try:
        yield config
    finally:
        os.kill(pid, 15)
