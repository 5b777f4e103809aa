"""A real throwaway Ray head for the session (tests/ray/cluster.sh), up and down by itself.

Ray 2.60 from PyPI in its own venv under the orbitfarm cache; the head has 2 CPUs and 2 fake
GPUs (Ray schedules `num_gpus` against them and sets CUDA_VISIBLE_DEVICES) and binds loopback
only. It is stopped by PID, never with `ray stop`. Each session gets its own state directory and
ports. Tests skip, loudly, only when Ray cannot be installed here; any other failure fails them.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clusters import bring_down, bring_up, free_port_base  # noqa: E402

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


@pytest.fixture(scope="session")
def ray_head() -> Iterator[RayHead]:
    """Bring a Ray head up for the session; its Jobs API address."""
    state = Path(tempfile.mkdtemp(prefix="ofray-", dir="/tmp"))  # short: Ray's sockets live here
    # Above Ray's default worker-port range (10002-19999): a GCS port inside it aborts the head.
    port = free_port_base(26000, 60000, step=100, offsets=(*range(9), 20))
    env = dict(os.environ, ORBITFARM_RAY_DIR=str(state), ORBITFARM_RAY_PORT=str(port),
               ORBITFARM_RAY_CPUS=str(GPUS))
    started = time.monotonic()
    bring_up(CLUSTER_SH, env, state, label="RAY", what="Ray head", timeout=900)
    print(f"\ntest Ray head up in {time.monotonic() - started:.1f} s: {state}")
    try:
        cache = Path(os.environ.get("ORBITFARM_CACHE") or Path.home() / ".cache" / "orbitfarm")
        yield RayHead(state=state, address=(state / "address").read_text().strip(), gpus=GPUS,
                      venv=cache / "ray-venv")
    finally:
        down = bring_down(CLUSTER_SH, env)
        assert down.returncode == 0, down.stderr
        shutil.rmtree(state, ignore_errors=True)
