"""Dataset-format test fixtures: one real orbit render of a known cube, all formats on.

tests/, tests/worker/ and this folder go on sys.path (`subjects`, `format_truth`). OpenCV reads EXR
only with OPENCV_IO_ENABLE_OPENEXR set before its first EXR read, so it is set here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

USES_READERS = ("test_consumers.py", "test_writers.py", "test_real_blender.py",
                "test_views_formats.py")

os.environ["OPENCV_IO_ENABLE_OPENEXR"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worker"))
sys.path.insert(0, str(Path(__file__).resolve().parent))



@pytest.fixture(scope="package")
def cube_formats(tmp_path_factory):
    """A 2-unit cube orbited in 6 frames at 25 degrees, 160x120, every format written.

    Returns (subject folder, half size of the centred cube).
    """
    import subjects
    from format_truth import ELEVATION, FRAMES, HOLDOUT
    from orbitfarm.submitter import cli

    root = tmp_path_factory.mktemp("formats")
    info = subjects.make_subject(sys.executable, root / "cube.blend", "cube", size=2.0)
    code = cli.main(["render", info["path"], "--out", str(root / "out"), "--frames", str(FRAMES),
                     "--elevation", str(ELEVATION), "--resolution", "160x120", "--samples", "1",
                     "--format", "nerf-synthetic", "--format", "colmap", "--format", "opencv",
                     "--holdout", str(HOLDOUT)])
    assert code == 0
    half = [(b - a) / 2 for a, b in zip(info["bbox_min"], info["bbox_max"], strict=True)]
    return root / "out" / "cube", half


def pytest_ignore_collect(collection_path, config):
    """The compat venvs (bpy 4.2 / 5.0 / 5.3, run with `-m compat`) lack some consumers' readers
    (pycolmap; OpenCV came later for the turntable movie): they run only the compat tests here;
    in the main venv a missing reader fails loudly instead."""
    import importlib.util

    return ("compat" in (config.option.markexpr or "") and collection_path.name in USES_READERS
            and any(importlib.util.find_spec(m) is None for m in ("cv2", "pycolmap")))
