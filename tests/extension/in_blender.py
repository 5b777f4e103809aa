"""The Blender side of the extension tests: helpers, and the runner of one test's Blender part.

    python in_blender.py EXTENSION.zip TEST_FILE FUNCTION '{"arg": ...}'

Each extension test keeps its Blender-side part (a plain function, named like the test without
`test_`) next to it in its own test file; conftest.py's `scenario` fixture runs that function
here, in a fresh bpy process that installs the built zip with package_install_files (the only
way the preferences entry exists). The function asserts with plain asserts and returns a dict
that the test receives. The process ends with os._exit so a Blender exit-time hang can never
stall the suite. Imported by the test files too (for the helper names; bpy is importable there).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import bpy

MODULE = "bl_ext.user_default.orbitfarm"


def install(zip_path: str) -> Any:
    """Install and enable the zip like a user would; return the add-on's module."""
    result = bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=zip_path, enable_on_install=True)
    assert result == {"FINISHED"}, result
    assert MODULE in bpy.context.preferences.addons, list(bpy.context.preferences.addons.keys())
    return sys.modules[MODULE]


def enable() -> None:
    assert bpy.ops.preferences.addon_enable(module=MODULE) == {"FINISHED"}
    assert MODULE in bpy.context.preferences.addons


def disable() -> None:
    assert bpy.ops.preferences.addon_disable(module=MODULE) == {"FINISHED"}
    assert MODULE not in bpy.context.preferences.addons


def ext(name: str) -> Any:
    """A submodule of the installed extension (e.g. 'operators.bridge')."""
    import importlib

    return importlib.import_module(f"{MODULE}.{name}")


def expect_error(operator: Any, **kwargs: Any) -> str:
    """Call an operator that must refuse; background mode raises its ERROR report."""
    try:
        result = operator(**kwargs)
    except RuntimeError as exc:
        return str(exc)
    raise AssertionError(f"{operator.idname_py()} should have failed, returned {result}")


def registered_names() -> set[str]:
    return {n for n in dir(bpy.types) if n.startswith("ORBITFARM_")}


def wait_for_job(job_path: str, timeout: float) -> dict[str, Any]:
    """Refresh the jobs list through the operator until the job is finished."""
    wm = bpy.context.window_manager
    deadline = time.monotonic() + timeout
    while True:
        assert bpy.ops.orbitfarm.refresh_jobs() == {"FINISHED"}
        row = next(j for j in wm.orbitfarm.jobs if j.path == job_path)
        if row.finished:
            return {"state": row.state, "frames_done": row.frames_done,
                    "frames_total": row.frames_total, "failed_tasks": row.failed_tasks,
                    "detail": row.detail}
        if time.monotonic() > deadline:
            from importlib import import_module

            jobs = import_module(f"{MODULE}.submitter.jobs")
            raise AssertionError(f"job not finished after {timeout}s: {row.detail}\n"
                                 + jobs.logs(jobs.open_job(job_path)))
        time.sleep(1.0)


def png_pixel(path: Path, fx: float = 0.5, fy: float = 0.5) -> tuple[float, ...]:
    """RGBA of a pixel (fractions of width/height) read with Blender's loader."""
    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        w, h = image.size
        x, y = int(fx * (w - 1)), int(fy * (h - 1))
        i = (y * w + x) * 4
        return tuple(image.pixels[i:i + 4])
    finally:
        bpy.data.images.remove(image)


def tiny_settings(frames: int = 4) -> None:
    s = bpy.context.scene.orbitfarm
    s.frames = frames
    s.width, s.height = 48, 36
    s.use_custom_samples, s.samples = True, 2
    s.device = "cpu"
    s.engine = "cycles"


def open_blend(path: str) -> None:
    assert bpy.ops.wm.open_mainfile(filepath=path, load_ui=False) == {"FINISHED"}


def result_problems() -> list[dict[str, str]]:
    wm = bpy.context.window_manager.orbitfarm
    return [{"severity": p.severity, "subject": p.subject, "message": p.message, "hint": p.hint}
            for p in wm.problems]


def render_check(subject_dir: Path, frames: int, color: list[float]) -> dict[str, Any]:
    """RGB frames show the subject's colour at the centre; depth is a finite hit there."""
    rgb = sorted((subject_dir / "rgb").glob("*.png"))
    depth = sorted((subject_dir / "depth").glob("*.exr"))
    assert [p.name for p in rgb] == [f"{k:04d}.png" for k in range(1, frames + 1)], rgb
    assert len(depth) == frames, depth
    pixel = png_pixel(rgb[0])
    corner = png_pixel(rgb[0], 0.0, 0.0)
    dominant = max(range(3), key=lambda i: color[i])
    assert pixel[dominant] > 0.5 and all(pixel[i] < 0.25 for i in range(3) if i != dominant), (
        pixel, color)
    assert corner[dominant] < 0.3, corner  # the background is not the subject
    d = png_pixel(depth[0])[0]
    assert 0.1 < d < 1e9, d
    assert (subject_dir / "transforms.json").is_file()
    return {"center_rgb": pixel, "center_depth": d}


def _run() -> int:
    zip_path, test_file, name = sys.argv[1], sys.argv[2], sys.argv[3]
    args = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    args["zip"] = zip_path
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here), str(here.parent)]  # in_blender, and tests/ for subjects.py
    try:
        spec = importlib.util.spec_from_file_location(f"blender_side_{Path(test_file).stem}",
                                                      test_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        result = getattr(module, name)(args)
    except BaseException:
        traceback.print_exc()
        return 1
    print("RESULT " + json.dumps(result or {}, default=str))
    return 0


if __name__ == "__main__":
    # The editable source install is importable as `orbitfarm` in the test venvs; the extension
    # must never reach it (an absolute self-import would work here and break in a real Blender).
    sys.modules["orbitfarm"] = None  # type: ignore[assignment]
    code = _run()
    sys.stdout.flush()
    sys.stderr.flush()
    shutil.rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's own removal
    os._exit(code)
