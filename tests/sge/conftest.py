"""A real throwaway Grid Engine cluster for the session (tests/sge/cluster.sh), up and down by itself.

Each test session gets its own state directory (its SGE_ROOT) and ports, so two sessions (or a
cluster a user started with `make sge-up`) never share daemons. max_aj_tasks is small so array
splitting is exercised with a handful of tasks. Tests skip, loudly, only when this machine cannot
run Grid Engine at all (not root, no apt, apt unreachable); any other failure fails the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clusters import bring_down, bring_up, environ, free_port_base, ports_free  # noqa: E402

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


@pytest.fixture(scope="session")
def sge_cluster() -> Iterator[Cluster]:
    """Bring a Grid Engine cluster up for the session; SGE_* point the clients at it."""
    root = Path(tempfile.mkdtemp(prefix="orbitfarm-sge-test-"))
    port = free_port_base(31000, 40000, step=4, offsets=(0, 1))
    env = dict(os.environ, ORBITFARM_SGE_DIR=str(root), ORBITFARM_SGE_PORT=str(port),
               ORBITFARM_SGE_MAX_AJ=str(MAX_AJ_TASKS), ORBITFARM_SGE_SLOTS=str(SLOTS))
    started = time.monotonic()
    bring_up(CLUSTER_SH, env, root, label="GRID ENGINE", what="Grid Engine cluster",
             timeout=900)
    values = dict(SGE_ROOT=str(root), SGE_CELL="default", SGE_QMASTER_PORT=str(port),
                  SGE_EXECD_PORT=str(port + 1))
    env.update(values)
    print(f"\ntest Grid Engine cluster up in {time.monotonic() - started:.1f} s: {root}")
    try:
        with environ(values):  # qsub/qstat/qacct inherit them
            yield Cluster(root=root, env=env, max_aj_tasks=MAX_AJ_TASKS, slots=SLOTS)
    finally:
        down = bring_down(CLUSTER_SH, env)
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
    first = free_port_base(31000, 40000, step=4, offsets=(0, 1)) + 2
    port = next(p for p in range(first, 40000) if ports_free([p]))
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
    while not (folder / "sshd.pid").is_file() or ports_free([port]):
        assert time.monotonic() < deadline, (folder / "sshd.log").read_text()
        time.sleep(0.2)
    pid = int((folder / "sshd.pid").read_text())
    try:
        yield config
    finally:
        os.kill(pid, 15)
