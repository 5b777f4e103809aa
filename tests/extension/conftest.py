"""Extension tests: build the zip once, then run each test's Blender side in a fresh process.

Each test's Blender-side function (beside it in its test file) installs the built zip with
bpy.ops.extensions.package_install_files into its own BLENDER_USER_RESOURCES (in_blender.py),
so no test can leak registered classes, scene state or preferences into another.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
IN_BLENDER = HERE / "in_blender.py"
sys.path[:0] = [str(HERE), str(HERE.parent)]  # in_blender.py; tests/ for subjects.py


def _load_builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_extension",
                                                  REPO / "tools" / "build_extension.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def builder() -> Any:
    return _load_builder()


@pytest.fixture(scope="session")
def built_zip(tmp_path_factory: pytest.TempPathFactory, builder: Any) -> Path:
    """The extension zip, built with this bpy wheel's own Blender builder (validated)."""
    return builder.build(tmp_path_factory.mktemp("ext-build"))


class ScenarioRunner:
    """Runs a test's Blender-side function in a fresh bpy process with private user/config/state
    dirs."""

    def __init__(self, zip_path: Path, root: Path) -> None:
        self.zip_path = zip_path
        self.root = root
        self.env = dict(os.environ)
        for var in ("BLENDER_USER_RESOURCES", "XDG_CONFIG_HOME", "ORBITFARM_HOME",
                    "XDG_STATE_HOME"):
            folder = root / var.lower()
            folder.mkdir(parents=True, exist_ok=True)
            self.env[var] = str(folder)
        self.env["PYTHONUNBUFFERED"] = "1"

    def __call__(self, function: Callable[[dict[str, Any]], Any], process_timeout: float = 300,
                 **args: Any) -> dict[str, Any]:
        """Run `function` (defined in a test file) in Blender; fail with its output unless it
        exits 0; return its result."""
        name = function.__name__
        cmd = [sys.executable, str(IN_BLENDER), str(self.zip_path),
               inspect.getfile(function), name, json.dumps(args)]
        try:
            done = subprocess.run(cmd, env=self.env, cwd=self.root, capture_output=True,
                                  text=True, timeout=process_timeout)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"scenario {name} timed out after {process_timeout}s:\n{exc.stdout}\n{exc.stderr}")
        if done.returncode != 0:
            pytest.fail(f"scenario {name} failed (exit {done.returncode}):\n"
                        f"--- stdout ---\n{done.stdout[-6000:]}\n--- stderr ---\n"
                        f"{done.stderr[-6000:]}")
        for line in reversed(done.stdout.splitlines()):
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT "):])
        return {}


@pytest.fixture
def scenario(built_zip: Path, tmp_path: Path) -> ScenarioRunner:
    return ScenarioRunner(built_zip, tmp_path / "env")
