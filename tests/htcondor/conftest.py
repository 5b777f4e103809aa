"""A real throwaway HTCondor pool for the session (tests/htcondor/cluster.sh), up and down by itself.

The pool runs Debian trixie's minicondor chrooted (the root is built once and cached under the
cache directory), with Debian's blender inside so jobs really render. It sees this machine's /tmp,
the shared filesystem of these tests; jobs run as the pool's job user, so each test works in a
world-writable folder under /tmp with umask 0. Each session has its own state directory and port.
Tests skip, loudly, only when this machine cannot build or run the pool at all.
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
BLENDER = "/usr/bin/blender"  # inside the pool's root


@dataclass
class Pool:
    """A running test pool."""

    state: Path
    env: dict[str, str]
    blender: str


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def condor_pool() -> Iterator[Pool]:
    """Bring an HTCondor pool up for the session; CONDOR_CONFIG points the bindings at it."""
    pytest.importorskip("htcondor2", reason="HTCONDOR TESTS SKIPPED: pip install htcondor")
    state = Path(tempfile.mkdtemp(prefix="orbitfarm-condor-test-"))
    port = next(p for p in range(41000 + os.getpid() % 500 * 2, 50000, 2) if _port_free(p))
    env = dict(os.environ, ORBITFARM_CONDOR_DIR=str(state), ORBITFARM_CONDOR_PORT=str(port),
               ORBITFARM_CONDOR_BLENDER="1")
    started = time.monotonic()
    proc = subprocess.run(["bash", str(CLUSTER_SH), "up"], env=env, capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode == 3:
        shutil.rmtree(state, ignore_errors=True)
        pytest.skip(f"HTCONDOR TESTS SKIPPED: this machine cannot run the pool: "
                    f"{proc.stderr.strip().splitlines()[-1]}")
    if proc.returncode != 0:
        subprocess.run(["bash", str(CLUSTER_SH), "down"], env=env, capture_output=True)
        shutil.rmtree(state, ignore_errors=True)
        pytest.fail(f"the test HTCondor pool did not come up:\n{proc.stderr[-3000:]}")
    config = str(state / "client" / "condor_config")
    previous = os.environ.get("CONDOR_CONFIG")
    os.environ["CONDOR_CONFIG"] = config
    import htcondor2

    htcondor2.reload_config()  # the bindings read their configuration when imported
    print(f"\ntest HTCondor pool up in {time.monotonic() - started:.1f} s: {state}")
    try:
        yield Pool(state=state, env=dict(env, CONDOR_CONFIG=config), blender=BLENDER)
    finally:
        down = subprocess.run(["bash", str(CLUSTER_SH), "down"], env=env, capture_output=True,
                              text=True, timeout=120)
        if previous is None:
            os.environ.pop("CONDOR_CONFIG", None)
        else:
            os.environ["CONDOR_CONFIG"] = previous
        assert down.returncode == 0, down.stderr
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder on the shared filesystem the pool's job user may write into (umask 0)."""
    folder = Path(tempfile.mkdtemp(prefix="orbitfarm-condor-work-"))
    folder.chmod(0o777)
    old = os.umask(0)
    try:
        yield folder
    finally:
        os.umask(old)
        shutil.rmtree(folder, ignore_errors=True)
