"""A real throwaway Ray head for the session (tests/ray/cluster.sh), up and down by itself.

Ray 2.60 from PyPI in its own venv under the orbitfarm cache; the head has 2 CPUs and 2 fake
GPUs (Ray schedules `num_gpus` against them and sets CUDA_VISIBLE_DEVICES) and binds loopback
only. It is stopped by PID, never with `ray stop`. Each session gets its own state directory and
ports. Tests skip, loudly, only when Ray cannot be installed here; any other failure fails them.
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
GPUS = 2


@dataclass
class RayHead:
    """A running test head."""

    state: Path
    address: str  # the Jobs API (dashboard)
    gpus: int
    venv: Path  # the venv with Ray (its bin/ray can start more heads)


def _ports_free(base: int) -> bool:
    for port in (*range(base, base + 9), base + 20):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _free_port_base() -> int:
    # Above Ray's default worker-port range (10002-19999): a GCS port inside it aborts the head.
    for base in range(26000 + os.getpid() % 300 * 100, 60000, 100):
        if _ports_free(base):
            return base
    raise RuntimeError("no free ports for the test Ray head")


@pytest.fixture(scope="session")
def ray_head() -> Iterator[RayHead]:
    """Bring a Ray head up for the session; its Jobs API address."""
    state = Path(tempfile.mkdtemp(prefix="ofray-", dir="/tmp"))  # short: Ray's sockets live here
    port = _free_port_base()
    env = dict(os.environ, ORBITFARM_RAY_DIR=str(state), ORBITFARM_RAY_PORT=str(port),
               ORBITFARM_RAY_CPUS=str(GPUS))
    started = time.monotonic()
    proc = subprocess.run(["bash", str(CLUSTER_SH), "up"], env=env, capture_output=True,
                          text=True, timeout=900)
    if proc.returncode == 3:
        pytest.skip(f"RAY TESTS SKIPPED: Ray cannot be installed here: "
                    f"{proc.stderr.strip().splitlines()[-1]}")
    if proc.returncode != 0:
        subprocess.run(["bash", str(CLUSTER_SH), "down"], env=env, capture_output=True)
        pytest.fail(f"the test Ray head did not come up:\n{proc.stderr[-3000:]}")
    print(f"\ntest Ray head up in {time.monotonic() - started:.1f} s: {state}")
    try:
        cache = Path(os.environ.get("ORBITFARM_CACHE") or Path.home() / ".cache" / "orbitfarm")
        yield RayHead(state=state, address=(state / "address").read_text().strip(), gpus=GPUS,
                      venv=cache / "ray-venv")
    finally:
        down = subprocess.run(["bash", str(CLUSTER_SH), "down"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert down.returncode == 0, down.stderr
        shutil.rmtree(state, ignore_errors=True)
