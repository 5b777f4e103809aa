"""Test-wide set-up: keep Blender's user files in a temp dir and expose the bpy runtime."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Importing bpy writes under ~/.config/blender; workers inherit this environment too. The folder
# is removed when the test session ends (TemporaryDirectory's finalizer).
if "BLENDER_USER_RESOURCES" not in os.environ:
    _USER_RESOURCES = tempfile.TemporaryDirectory(prefix="orbitfarm-blender-user-")
    os.environ["BLENDER_USER_RESOURCES"] = _USER_RESOURCES.name


@pytest.fixture(scope="session")
def bpy_python() -> str:
    """A Python that can import bpy: the one running the tests (make test sets that up)."""
    import importlib.util

    if importlib.util.find_spec("bpy") is None:
        pytest.fail("the test Python has no bpy module: run the suite with `make test`")
    return sys.executable


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
