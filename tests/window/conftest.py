"""Fixtures for the real-window tests (marker `window`): an Xvfb display and the real Blender.

The real Blender is ORBITFARM_TEST_BLENDER (tools/real_blender.sh's wrapper; `make test-window`
sets it); Xvfb runs on the host and Blender in its root reaches it through /tmp/.X11-unix.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from xshot import SCREEN  # noqa: E402


@pytest.fixture(scope="session")
def real_blender() -> str:
    path = os.environ.get("ORBITFARM_TEST_BLENDER")
    if not path:
        pytest.skip("ORBITFARM_TEST_BLENDER is not set (make test-window sets it)")
    return path


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """A private Xvfb display (the server picks a free number); stopped by its PID."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail("Xvfb is not installed: `make test-window` installs it (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    try:
        yield f":{number}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots are kept for people to look at (make test prints the folder)."""
    root = Path(os.environ.get("ORBITFARM_ARTIFACTS")
                or Path(__file__).resolve().parents[2] / "test-artifacts")
    folder = root / "window"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
