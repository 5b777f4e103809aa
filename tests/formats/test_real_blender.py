"""write_formats inside a real Blender without numpy (Debian's), as the worker runs it there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from format_truth import HOLDOUT

pytestmark = pytest.mark.realblender

SCRIPT = f"""
import sys
sys.path.insert(0, sys.argv[-2])
try:
    import numpy
    raise SystemExit("this Blender has numpy: the pure-Python path would not be tested")
except ImportError:
    pass
from orbitfarm.submitter.formats import write_formats
print("WARNINGS", write_formats(sys.argv[-1], ["colmap", "opencv", "nerf-synthetic"], {HOLDOUT}))
"""


@pytest.fixture(scope="session")  # before the package-scoped render, so a skip costs nothing
def blender() -> str:
    path = os.environ.get("ORBITFARM_TEST_BLENDER")
    if not path:
        pytest.skip("ORBITFARM_TEST_BLENDER is not set (the real-Blender layer sets it)")
    return path


def test_formats_without_numpy_in_real_blender_match(blender, cube_formats, tmp_path):
    out, _ = cube_formats
    subject = tmp_path / "cube"
    shutil.copytree(out, subject)
    written = ["depth16", "colmap", "opencv_cameras.json", "transforms_train.json",
               "transforms_test.json"]
    for name in written:
        path = subject / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "orbitfarm").symlink_to(Path(__file__).resolve().parents[2])
    script = tmp_path / "formats.py"
    script.write_text(SCRIPT)
    run = subprocess.run([blender, "-b", "--factory-startup", "--python-exit-code", "1",
                          "--python", str(script), "--", str(tmp_path / "pkg"), str(subject)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "WARNINGS []" in run.stdout, run.stdout + run.stderr
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if not path.is_file() or rel.parts[0] not in written:
            continue
        if path.suffix == ".png":
            assert (subject / rel).read_bytes() == path.read_bytes(), rel
        else:  # Python 3.12+ sums floats with compensation: the last digit may differ
            ours, theirs = (_tokens(f.read_text()) for f in (subject / rel, path))
            assert len(ours) == len(theirs), rel
            for a, b in zip(ours, theirs, strict=True):
                assert a == b or float(a) == pytest.approx(float(b), rel=1e-12, abs=1e-12), rel


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,\[\]{}:]+", text) if t]
