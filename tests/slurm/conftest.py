"""A real throwaway SLURM cluster for the session (tests/slurm/cluster.sh), up and down by itself.

Beside it run slurmrestd (REST tests) and an sshd on 127.0.0.1 standing in for a login node.

Each test session gets its own state directory and ports, so two sessions (or a cluster a user
started with `make slurm-up`) never share daemons. MaxArraySize is small so array splitting is
exercised with a handful of tasks. Tests skip, loudly, only when this machine cannot run SLURM
at all (not root, no apt, apt unreachable); any other failure to come up fails the tests.
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
from clusters import bring_down, bring_up, environ, free_port_base  # noqa: E402

HERE = Path(__file__).resolve().parent
CLUSTER_SH = HERE / "cluster.sh"
MAX_ARRAY_SIZE = 4
MIN_JOB_AGE = 5  # squeue forgets finished jobs soon, so the jobcomp fallback gets exercised
CPUS = 4


@dataclass
class Cluster:
    """A running test cluster."""

    state: Path
    conf: str
    rest_url: str
    max_array_size: int
    env: dict[str, str]

    def run(self, *argv: str) -> str:
        """Run a SLURM client command against this cluster; its stdout."""
        return subprocess.run(list(argv), env=self.env, check=True, capture_output=True,
                              text=True, timeout=60).stdout

    @property
    def ssh_config(self) -> Path:
        """ssh config with the host `orbitfarm-login`: an sshd standing in for a login node."""
        return self.state / "ssh" / "config"

    def jobcomp(self) -> str:
        path = self.state / "jobcomp.txt"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Cluster]:
    """Bring a SLURM cluster (with slurmrestd) up for the session; SLURM_CONF points at it."""
    state = Path(tempfile.mkdtemp(prefix="orbitfarm-slurm-test-"))
    state.chmod(0o755)  # munged refuses sockets below a 0700 directory
    port = free_port_base(17000, 30000, step=8, offsets=(0, 1, 3))
    env = dict(os.environ, ORBITFARM_SLURM_DIR=str(state), ORBITFARM_SLURM_PORT=str(port),
               ORBITFARM_SLURM_MAX_ARRAY_SIZE=str(MAX_ARRAY_SIZE),
               ORBITFARM_SLURM_MIN_JOB_AGE=str(MIN_JOB_AGE), ORBITFARM_SLURM_CPUS=str(CPUS),
               ORBITFARM_SLURM_REST="1", ORBITFARM_SLURM_SSH="1")
    started = time.monotonic()
    bring_up(CLUSTER_SH, env, state, label="SLURM", what="SLURM cluster", timeout=900)
    conf = str(state / "slurm.conf")
    env["SLURM_CONF"] = conf
    print(f"\ntest SLURM cluster up in {time.monotonic() - started:.1f} s: {state}")
    try:
        with environ({"SLURM_CONF": conf}):  # the target's sbatch/squeue/scontrol inherit it
            yield Cluster(state=state, conf=conf, rest_url=f"http://127.0.0.1:{port + 3}",
                          max_array_size=MAX_ARRAY_SIZE, env=env)
    finally:
        down = bring_down(CLUSTER_SH, env)
        assert down.returncode == 0, down.stderr
        shutil.rmtree(state, ignore_errors=True)
