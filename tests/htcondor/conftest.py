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
BLENDER = "/usr/bin/blender"  # inside the pool's root


@dataclass
class Pool:
    """A running test pool."""

    state: Path
    env: dict[str, str]
    blender: str


@pytest.fixture(scope="session")
def condor_pool() -> Iterator[Pool]:
    """Bring an HTCondor pool up for the session; CONDOR_CONFIG points the bindings at it."""
    pytest.importorskip("htcondor2", reason="HTCONDOR TESTS SKIPPED: pip install htcondor")
    state = Path(tempfile.mkdtemp(prefix="orbitfarm-condor-test-"))
    port = free_port_base(41000, 50000, step=2)
    env = dict(os.environ, ORBITFARM_CONDOR_DIR=str(state), ORBITFARM_CONDOR_PORT=str(port),
               ORBITFARM_CONDOR_BLENDER="1")
    started = time.monotonic()
    bring_up(CLUSTER_SH, env, state, label="HTCONDOR", what="HTCondor pool", timeout=1800)
    config = str(state / "client" / "condor_config")
    try:
        with environ({"CONDOR_CONFIG": config}):
            import htcondor2

            htcondor2.reload_config()  # the bindings read their configuration when imported
            print(f"\ntest HTCondor pool up in {time.monotonic() - started:.1f} s: {state}")
            yield Pool(state=state, env=dict(env, CONDOR_CONFIG=config), blender=BLENDER)
    finally:
        down = bring_down(CLUSTER_SH, env)
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
