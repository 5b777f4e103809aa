"""Fixtures for tests that need a real Blender executable (marker `realblender`).

The executable's path comes from ORBITFARM_TEST_BLENDER (`make test-realblender` sets it to the
wrapper tools/real_blender.sh builds: Debian trixie's blender 4.3.2, Python 3.13); without it
these tests skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: subjects.py


@pytest.fixture(scope="session")
def real_blender() -> str:
    path = os.environ.get("ORBITFARM_TEST_BLENDER")
    if not path:
        pytest.skip("ORBITFARM_TEST_BLENDER is not set (make test-realblender sets it)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"ORBITFARM_TEST_BLENDER={path} is not an executable file")
    return path


@pytest.fixture(scope="session")
def real_blender_version(real_blender: str) -> str:
    """`Blender X.Y.Z` as the executable reports it (proves which Blender the tests ran)."""
    done = subprocess.run([real_blender, "--version"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    first = next(line for line in done.stdout.splitlines() if line.startswith("Blender "))
    return first.split()[1]
