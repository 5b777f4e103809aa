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


# Hypothesis: every run of the suite tries the same examples (derandomize) and keeps no
# example database, so a failure once seen is never replayed from a .hypothesis/ folder in
# the clone: the suite is red exactly while the code is wrong, for everyone, on every run.
# Exploring new examples is a deliberate act: HYPOTHESIS_PROFILE=explore (random, database
# in a temp dir, failures printed as a reproducible blob to paste into @reproduce_failure).
_EXPLORED: tempfile.TemporaryDirectory | None = None


def _hypothesis_profiles() -> None:
    try:
        from hypothesis import settings
        from hypothesis.database import DirectoryBasedExampleDatabase
    except ImportError:  # the compat venvs without hypothesis collect no property tests
        return
    settings.register_profile("suite", database=None, derandomize=True, print_blob=True)
    profile = os.environ.get("HYPOTHESIS_PROFILE", "suite")
    if profile == "explore":  # removed with the session, like the Blender user folder above
        global _EXPLORED
        _EXPLORED = tempfile.TemporaryDirectory(prefix="orbitfarm-hypothesis-")
        settings.register_profile("explore", derandomize=False, print_blob=True,
                                  database=DirectoryBasedExampleDatabase(_EXPLORED.name))
    settings.load_profile(profile)


_hypothesis_profiles()
