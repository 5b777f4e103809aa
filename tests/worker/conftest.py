"""Worker test fixtures: generated subjects and a one-call `orbitfarm render`.

tests/ and tests/worker/ go on sys.path so tests can `import subjects` and `import worker_helpers`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import subjects as subjects_module  # noqa: E402
from orbitfarm.submitter import cli  # noqa: E402


@pytest.fixture(scope="session")
def subjects():
    return subjects_module


@pytest.fixture
def render(capfd):
    """render(blends, out, *options) -> (exit code, combined log text)."""

    def run(blends, out, *options):
        code = cli.main(["render", *map(str, blends), "--out", str(out), *options])
        captured = capfd.readouterr()
        return code, captured.out + captured.err

    return run
