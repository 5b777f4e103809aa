"""Blender-side test scenarios; each runs in a fresh bpy process started by conftest.py.

    python scenarios.py EXTENSION.zip SCENARIO '{"arg": ...}'

Every scenario installs the built zip with package_install_files (the only way the preferences
entry exists), does its checks with plain asserts and prints `RESULT {json}` for the pytest side.
The process ends with os._exit so a Blender exit-time hang can never stall the suite.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

# The editable source install is importable as `orbitfarm` in the test venvs; the extension must
# never reach it (an absolute self-import would work here and break in a real Blender).
sys.modules["orbitfarm"] = None  # type: ignore[assignment]

import bpy  # noqa: E402

MODULE = "bl_ext.user_default.orbitfarm"
SCENARIOS: dict[str, Any] = {}


def scenario(fn: Any) -> Any:
    SCENARIOS[fn.__name__] = fn
    return fn


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


# ---- install / register ------------------------------------------------------------------------

@scenario
def install_cycle(args: dict[str, Any]) -> dict[str, Any]:
    """Install from the zip, enable, disable, enable again (twice); nothing leaks."""
    module = install(args["zip"])
    first = registered_names()
    assert {"ORBITFARM_OT_submit", "ORBITFARM_PT_orbit", "ORBITFARM_PT_orbit_view3d",
            "ORBITFARM_UL_batch_files", "ORBITFARM_UL_jobs"} <= first, sorted(first)
    assert bpy.ops.orbitfarm.submit.get_rna_type() is not None
    prefs = bpy.context.preferences.addons[MODULE].preferences
    assert prefs is not None and type(prefs).bl_idname == MODULE, type(prefs).bl_idname
    assert hasattr(prefs, "output_root") and hasattr(prefs, "blender_executable")

    # Bundled wheels were installed into the extensions' site-packages and are importable there.
    site = Path(bpy.utils.user_resource("EXTENSIONS")) / ".local" / "lib"
    site_packages = next(site.glob("python3*/site-packages"))
    assert (site_packages / "yaml" / "__init__.py").is_file(), list(site_packages.iterdir())
    assert (site_packages / "blender_asset_tracer" / "__init__.py").is_file()
    import blender_asset_tracer
    import yaml

    assert yaml.safe_load("a: 1") == {"a": 1}
    assert blender_asset_tracer.__file__

    # Defaults: scene properties -> RenderSettings equal the CLI's defaults exactly.
    bridge = ext("operators.bridge")
    spec = ext("submitter.spec")
    from_props = bridge.settings_from_props(bpy.context.scene.orbitfarm)
    assert from_props.to_dict() == spec.RenderSettings().to_dict(), from_props
    # Every field survives scene properties both ways (non-default values).
    custom = spec.RenderSettings(frames=24, frame_range="1-10x3,20", width=320, height=200,
                                 radius=7.25, elevation=-12.5, engine="eevee", samples=8,
                                 device="cpu", rgb=False, depth=True, poses=False,
                                 transparent=True, margin=1.3).validate()
    props = bpy.context.scene.orbitfarm
    bridge.props_from_settings(props, custom)
    assert bridge.settings_from_props(props).to_dict() == custom.to_dict()
    assert bpy.ops.orbitfarm.reset_settings() == {"FINISHED"}
    assert bridge.settings_from_props(props).to_dict() == spec.RenderSettings().to_dict()

    # Relative imports only: nothing imported the source checkout's `orbitfarm`.
    assert sys.modules.get("orbitfarm") is None
    loaded = sorted(m for m in sys.modules if m.startswith(MODULE))
    assert f"{MODULE}.registration" in loaded

    for _ in range(2):
        monitor = ext("operators.monitor")
        assert bpy.app.timers.is_registered(monitor._first_load)  # loads recent jobs on enable
        disable()
        assert not bpy.app.timers.is_registered(monitor._first_load)
        assert not bpy.app.timers.is_registered(monitor.tick)
        assert not registered_names(), registered_names()
        assert not hasattr(bpy.types.Scene, "orbitfarm")
        assert not hasattr(bpy.types.WindowManager, "orbitfarm")
        enable()
        assert registered_names() == first
        assert bpy.context.scene.orbitfarm.frames == spec.RenderSettings().frames
    assert module.__file__
    return {"version": bpy.app.version_string, "classes": len(first), "modules": len(loaded)}


# ---- panels ------------------------------------------------------------------------------------

class Recorder:
    """Stand-in for UILayout: checks every property and operator a draw() uses really exists."""

    def __init__(self, log: dict[str, set]) -> None:
        object.__setattr__(self, "_log", log)

    def __getattr__(self, name: str) -> Any:
        if name not in bpy.types.UILayout.bl_rna.functions:
            raise AttributeError(f"UILayout has no {name!r} in Blender {bpy.app.version_string}")
        if name in ("row", "column", "box", "split", "grid_flow", "column_flow"):
            return lambda *a, **k: Recorder(self._log)
        handler = getattr(self, "_" + name, None)
        return handler or (lambda *a, **k: None)

    def __setattr__(self, name: str, value: Any) -> None:
        assert name in bpy.types.UILayout.bl_rna.properties, f"UILayout.{name} does not exist"

    def _prop(self, data: Any, prop: str, **kw: Any) -> None:
        assert prop in data.bl_rna.properties, f"{data.bl_rna.identifier}.{prop} does not exist"
        self._log["props"].add(f"{data.bl_rna.identifier}.{prop}")

    def _operator(self, idname: str, **kw: Any) -> Any:
        module, name = idname.split(".")
        rna = getattr(getattr(bpy.ops, module), name).get_rna_type()  # KeyError: unregistered
        self._log["operators"].add(idname)
        return OperatorProps(rna)

    def _template_list(self, listtype: str, list_id: str, data: Any, prop: str,
                       active_data: Any, active_prop: str, **kw: Any) -> None:
        assert issubclass(getattr(bpy.types, listtype), bpy.types.UIList), listtype
        self._prop(data, prop)
        self._prop(active_data, active_prop)
        self._log["lists"].add(listtype)


class OperatorProps:
    """What layout.operator() returns: only the operator's real properties may be set."""

    def __init__(self, rna: Any) -> None:
        object.__setattr__(self, "_rna", rna)

    def __setattr__(self, name: str, value: Any) -> None:
        assert name in self._rna.properties, f"{self._rna.identifier} has no property {name}"


class FakePanel:
    """`self` for a draw(): its layout is the recorder; other attributes come from `real`."""

    def __init__(self, layout: Recorder, real: Any = None) -> None:
        self.layout = layout
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def draw_everything(log: dict[str, set]) -> list[str]:
    """Run every orbitfarm panel's poll/draw, every UIList's draw_item and the preferences."""
    drawn = []
    context = bpy.context
    for name in sorted(registered_names()):
        cls = getattr(bpy.types, name)
        if issubclass(cls, bpy.types.Panel):
            if hasattr(cls, "poll") and not cls.poll(context):
                continue
            cls.draw(FakePanel(Recorder(log)), context)
            drawn.append(name)
        elif issubclass(cls, bpy.types.UIList):
            wm = context.window_manager.orbitfarm
            items = wm.jobs if "jobs" in name else context.scene.orbitfarm.batch_files
            owner = wm if "jobs" in name else context.scene.orbitfarm
            for i, item in enumerate(items):
                cls.draw_item(cls, context, Recorder(log), owner, item, 0, owner, "", i)
            drawn.append(name)
    prefs = context.preferences.addons[MODULE].preferences
    type(prefs).draw(FakePanel(Recorder(log), prefs), context)
    drawn.append("preferences")
    return drawn


@scenario
def draw_panels(args: dict[str, Any]) -> dict[str, Any]:
    """Every panel draws in an empty state and a busy/populated state against the recorder."""
    install(args["zip"])
    log: dict[str, set] = {"props": set(), "operators": set(), "lists": set()}
    empty = draw_everything(log)

    s = bpy.context.scene.orbitfarm
    wm = bpy.context.window_manager.orbitfarm
    s.radius_mode = "FIXED"
    for name, status in (("a.blend", "OK"), ("b.blend", "ERROR")):
        item = s.batch_files.add()
        item.path, item.status, item.message = f"/tmp/x/{name}", status, "missing texture t.png"
    job = wm.jobs.add()
    job.job_id, job.path, job.state = "20260101-000000-abcd", "/nowhere", "running"
    job.frames_done, job.frames_total, job.failed_tasks, job.detail = 3, 8, 1, "1 running"
    problem = wm.problems.add()
    problem.severity, problem.message, problem.hint = "error", "missing t.png", "restore it"
    wm.preflight_done, wm.busy, wm.progress, wm.status = True, True, 0.4, "Packaging"
    wm.error = "something went wrong " * 8
    full = draw_everything(log)

    panels = [n for n in full if n.startswith("ORBITFARM_PT_")]
    assert len(panels) == 10, panels
    assert {"ORBITFARM_UL_batch_files", "ORBITFARM_UL_jobs"} <= set(full)
    # Every operator the extension registers is reachable from some panel.
    registered_ops = {f"orbitfarm.{n[len('ORBITFARM_OT_'):]}" for n in registered_names()
                      if n.startswith("ORBITFARM_OT_")}
    assert registered_ops <= log["operators"], registered_ops - log["operators"]
    return {"empty": len(empty), "full": len(full), "props": len(log["props"]),
            "operators": sorted(log["operators"])}


# ---- operators in background mode ---------------------------------------------------------------

def open_blend(path: str) -> None:
    assert bpy.ops.wm.open_mainfile(filepath=path, load_ui=False) == {"FINISHED"}


def result_problems() -> list[dict[str, str]]:
    wm = bpy.context.window_manager.orbitfarm
    return [{"severity": p.severity, "subject": p.subject, "message": p.message, "hint": p.hint}
            for p in wm.problems]


@scenario
def preview_orbit(args: dict[str, Any]) -> dict[str, Any]:
    """Preview builds an orbiting camera around the subject; Remove restores the scene."""
    from mathutils import Vector

    install(args["zip"])
    open_blend(args["blend"])
    scene = bpy.context.scene
    before_objects = {o.name for o in bpy.data.objects}
    before_camera = scene.camera.name if scene.camera else None
    before_range = (scene.frame_start, scene.frame_end)
    scene.orbitfarm.frames = 8
    scene.orbitfarm.elevation = 30.0
    assert bpy.ops.orbitfarm.preview_orbit() == {"FINISHED"}
    camera = scene.camera
    assert camera is not None and camera.name != before_camera
    centre = Vector(args["center"])
    positions, distances = [], []
    for frame in range(1, 9):
        scene.frame_set(frame)
        pos = camera.matrix_world.translation.copy()
        positions.append(pos)
        distances.append((pos - centre).length)
        # The camera looks at the subject's centre: its -Z axis points there.
        view = -(camera.matrix_world.to_3x3() @ Vector((0, 0, 1)))
        assert view.angle(centre - pos) < 0.02, (frame, view, centre - pos)
        elevation = (pos - centre).normalized().z
        assert abs(elevation - 0.5) < 0.01, elevation  # sin(30 degrees)
    assert max(distances) - min(distances) < 1e-3 * max(distances), distances
    assert len({(round(p.x, 3), round(p.y, 3)) for p in positions}) == 8
    # Clicking again rebuilds instead of stacking cameras.
    assert bpy.ops.orbitfarm.preview_orbit() == {"FINISHED"}
    assert sum(o.type == "CAMERA" for o in bpy.data.objects) == 1 + (before_camera is not None)
    assert bpy.ops.orbitfarm.remove_preview() == {"FINISHED"}
    assert {o.name for o in bpy.data.objects} == before_objects
    assert (scene.camera.name if scene.camera else None) == before_camera
    assert (scene.frame_start, scene.frame_end) == before_range
    return {"radius": distances[0]}


@scenario
def preflight_missing_texture(args: dict[str, Any]) -> dict[str, Any]:
    """Preflight on a scene whose texture is missing reports it, with what to do."""
    install(args["zip"])
    open_blend(args["blend"])
    assert bpy.ops.orbitfarm.preflight() == {"FINISHED"}
    wm = bpy.context.window_manager.orbitfarm
    problems = result_problems()
    missing = [p for p in problems if p["severity"] == "error" and args["texture_name"] in
               p["message"]]
    assert missing, problems
    assert all(p["hint"] for p in problems), problems
    assert wm.preflight_done and not wm.preflight_ok

    # Submit runs the same preflight first: refused, nothing written, problems listed.
    wm.problems.clear()
    bpy.context.scene.orbitfarm.output_dir = args["out"]
    message = expect_error(bpy.ops.orbitfarm.submit, dirty_policy="SAVED")
    assert "Nothing was submitted" in message and args["texture_name"] in message, message
    assert any(args["texture_name"] in p["message"] for p in result_problems())
    assert not Path(args["out"]).exists()

    # An animated subject would be skipped; a missing local Blender is an error. Both say why.
    open_blend(args["animated"])
    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs.blender_executable = "/nonexistent/blender"
    assert bpy.ops.orbitfarm.preflight() == {"FINISHED"}
    more = result_problems()
    assert any(p["severity"] == "warning" and "animated" in p["message"] for p in more), more
    assert any(p["severity"] == "error" and "/nonexistent/blender" in p["message"]
               and "preferences" in p["hint"] for p in more), more
    assert not any(args["texture_name"] in p["message"] for p in more), more
    return {"problems": problems + more}


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


@scenario
def submit_local(args: dict[str, Any]) -> dict[str, Any]:
    """Submit through the blocking operator path to the local target; frames really render."""
    install(args["zip"])
    blend = Path(args["blend"])
    open_blend(str(blend))
    tiny_settings(frames=3)
    s = bpy.context.scene.orbitfarm
    wm = bpy.context.window_manager.orbitfarm
    s.output_dir = args["out"]
    on_disk = blend.read_bytes()

    # Unsaved changes (the bpy wheel always reports them): refuse, never save over the file.
    message = expect_error(bpy.ops.orbitfarm.submit)
    assert "unsaved changes" in message and "unsaved changes" in wm.error, message
    assert not wm.jobs

    assert bpy.ops.orbitfarm.submit(dirty_policy="SAVED") == {"FINISHED"}, wm.error
    job = wm.jobs[0]
    assert job.from_session and job.job_id
    job_id, job_path = job.job_id, job.path  # rows are re-ordered when jobs are added
    done = wait_for_job(job_path, args["timeout"])
    assert done["frames_done"] == done["frames_total"] == 3 and not done["failed_tasks"], done
    checked = render_check(Path(args["out"]) / blend.stem, 3, [0.8, 0.0, 0.0])

    # Contact sheet: first RGB cell shows the red subject, the depth cell a colour-mapped hit.
    assert bpy.ops.orbitfarm.contact_sheet() == {"FINISHED"}
    sheet = bpy.data.images[f"orbitfarm sheet {job_id}"]
    w, h = sheet.size
    px = list(sheet.pixels)
    sheet_mod = ext("operators.contact_sheet")
    cell_h = round(sheet_mod.CELL_WIDTH * 36 / 48)
    gap = sheet_mod.GAP

    def at(x: int, y_from_top: int) -> tuple[float, ...]:
        y = h - 1 - y_from_top
        i = (y * w + x) * 4
        return tuple(px[i:i + 4])

    rgb_cell = at(gap + sheet_mod.CELL_WIDTH // 2, gap + cell_h // 2)
    depth_cell = at(gap + sheet_mod.CELL_WIDTH // 2, 2 * gap + cell_h + cell_h // 2)
    depth_corner = at(gap + 1, 2 * gap + cell_h + 1)
    assert rgb_cell[0] > 0.5 and rgb_cell[1] < 0.25, rgb_cell
    assert sum(depth_cell[:3]) > 0.3, depth_cell  # a hit: coloured
    assert sum(depth_corner[:3]) < 0.05, depth_corner  # no hit: black
    assert w == 3 * sheet_mod.CELL_WIDTH + 4 * gap and h == 2 * cell_h + 3 * gap, (w, h)

    # A copy of the current (changed) state renders the change; the file on disk is untouched.
    bpy.data.materials[0].node_tree.nodes["Emission"].inputs["Color"].default_value = (
        0.0, 0.8, 0.0, 1.0)
    s.output_dir = args["out_copy"]
    s.frames = 2
    assert bpy.ops.orbitfarm.submit(dirty_policy="COPY") == {"FINISHED"}, wm.error
    copy_job = wm.jobs[0]
    assert copy_job.path != job_path and wm.jobs[1].path == job_path
    done_copy = wait_for_job(copy_job.path, args["timeout"])
    assert done_copy["frames_done"] == 2, done_copy
    render_check(Path(args["out_copy"]) / blend.stem, 2, [0.0, 0.8, 0.0])
    assert blend.read_bytes() == on_disk
    assert bpy.data.filepath == str(blend)

    # A new session's list (empty) is refilled from the jobs index, with final progress.
    copy_path = copy_job.path
    wm.jobs.clear()
    assert bpy.ops.orbitfarm.refresh_jobs() == {"FINISHED"}
    rows = {j.path: j for j in wm.jobs}
    assert {job_path, copy_path} <= set(rows), list(rows)
    assert rows[job_path].frames_done == 3 and rows[job_path].finished
    assert not rows[job_path].from_session
    # Retry and cancel on a finished job change nothing and say so.
    wm.jobs_index = list(rows).index(job_path)
    assert bpy.ops.orbitfarm.retry_job() == {"FINISHED"}
    assert bpy.ops.orbitfarm.cancel_job() == {"FINISHED"}
    assert bpy.ops.orbitfarm.refresh_jobs() == {"FINISHED"}
    row = next(j for j in wm.jobs if j.path == job_path)
    assert row.finished and row.frames_done == 3 and row.failed_tasks == 0, row.detail
    return {"job": job_id, "status": done, **checked}


@scenario
def batch_submit(args: dict[str, Any]) -> dict[str, Any]:
    """Three files added as a folder, preflighted and submitted as one job (none opened)."""
    install(args["zip"])
    tiny_settings(frames=2)
    s = bpy.context.scene.orbitfarm
    wm = bpy.context.window_manager.orbitfarm
    s.output_dir = args["out"]
    assert bpy.ops.orbitfarm.batch_add_folder(directory=args["folder"]) == {"FINISHED"}
    assert bpy.ops.orbitfarm.batch_add_folder(directory=args["folder"]) == {"FINISHED"}
    listed = sorted(Path(f.path).name for f in s.batch_files)
    assert listed == sorted(args["colors"]), listed  # once each; backups/hidden skipped
    assert bpy.ops.orbitfarm.batch_preflight() == {"FINISHED"}
    assert [f.status for f in s.batch_files] == ["OK"] * 3, [(f.path, f.message)
                                                             for f in s.batch_files]
    assert bpy.ops.orbitfarm.batch_submit() == {"FINISHED"}, wm.error
    assert bpy.data.filepath == ""  # nothing was opened in the UI
    done = wait_for_job(wm.jobs[0].path, args["timeout"])
    assert done["frames_done"] == done["frames_total"] == 6 and not done["failed_tasks"], done
    for name, color in args["colors"].items():
        render_check(Path(args["out"]) / Path(name).stem, 2, color)
    # Remove and clear edit the list only.
    s.batch_index = 0
    assert bpy.ops.orbitfarm.batch_remove() == {"FINISHED"} and len(s.batch_files) == 2
    assert bpy.ops.orbitfarm.batch_clear() == {"FINISHED"} and len(s.batch_files) == 0
    return {"status": done}


@scenario
def network_and_profiles(args: dict[str, Any]) -> dict[str, Any]:
    """A cluster target is refused while online access is off; profiles edit/validate/save."""
    install(args["zip"])
    wm = bpy.context.window_manager.orbitfarm
    profiles_ops = ext("operators.profiles_ops")
    path = profiles_ops.profiles_file()
    assert not path.exists()
    assert bpy.ops.orbitfarm.edit_profiles() == {"FINISHED"}
    text = bpy.data.texts[profiles_ops.TEXT_NAME]
    text.from_string("targets: [oops")
    message = expect_error(bpy.ops.orbitfarm.save_profiles)
    assert "not saved" in message and str(path) in message, message
    assert not path.exists()  # an invalid file is never written
    text.from_string("targets:\n  cluster:\n    kind: slurm\n    partition: debug\n")
    assert bpy.ops.orbitfarm.save_profiles() == {"FINISHED"}
    assert "cluster" in path.read_text()
    names = [n for n, _ in ext("operators.bridge").profile_choices()]
    assert names[0] == "local" and "cluster" in names, names

    open_blend(args["blend"])
    s = bpy.context.scene.orbitfarm
    s.output_dir = args["out"]
    s.target = "cluster"
    assert not bpy.app.online_access
    message = expect_error(bpy.ops.orbitfarm.submit, dirty_policy="SAVED")
    assert "Allow Online Access" in message and wm.error and wm.error in message, message
    assert not Path(args["out"]).exists()
    assert bpy.ops.orbitfarm.preflight() == {"FINISHED"}
    assert any("online access" in p["message"] and "Allow Online Access" in p["hint"]
               for p in result_problems()), result_problems()
    return {"error": message}


class FakeWindowManager:
    """The real WindowManager, with timers and modal handlers stubbed: background mode has no
    event loop, so the test plays the timer events itself."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.timers = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def event_timer_add(self, step: float, window: Any = None) -> object:
        self.timers += 1
        return object()

    def event_timer_remove(self, timer: Any) -> None:
        self.timers -= 1

    def modal_handler_add(self, operator: Any) -> bool:
        return True


class FakeContext:
    def __init__(self) -> None:
        self.window_manager = FakeWindowManager(bpy.context.window_manager)
        self.window = object()
        self.scene = bpy.context.scene
        self.preferences = bpy.context.preferences


class Event:
    def __init__(self, type: str, value: str = "NOTHING") -> None:
        self.type, self.value = type, value


def play_modal(probe: Any, context: FakeContext, timeout: float, esc: bool = False) -> tuple:
    """Feed timer events (and an Esc first if asked) until the modal operator ends."""
    statuses = set()
    if esc:
        assert probe.modal(context, Event("ESC", "PRESS")) == {"RUNNING_MODAL"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe.modal(context, Event("TIMER"))
        statuses.add(context.window_manager.orbitfarm.status)
        if result != {"PASS_THROUGH"}:
            return result, statuses
        time.sleep(0.05)
    raise AssertionError("modal operator did not finish")


@scenario
def modal_submit(args: dict[str, Any]) -> dict[str, Any]:
    """The UI path: packaging on a thread drained by timer events; Esc aborts cleanly."""
    install(args["zip"])
    open_blend(args["blend"])
    tiny_settings(frames=2)
    submit_ops = ext("operators.submit_ops")
    bridge = ext("operators.bridge")
    bpy.context.scene.orbitfarm.output_dir = args["out"]

    class Probe(submit_ops.SubmitBase):
        def __init__(self) -> None:
            self.reports: list[tuple[set, str]] = []
            self.background = True

        def report(self, kind: set, text: str) -> None:
            self.reports.append((kind, text))

    context = FakeContext()
    runtime = context.window_manager.orbitfarm
    request = bridge.build_request(context, [args["blend"]])

    # Esc while packaging: nothing is submitted, nothing half-made is left behind.
    aborted = Probe()
    gate = submit_ops.submit_work(request)

    def wait_for_esc(progress: Any, cancel: Any) -> Any:
        assert cancel.wait(30), "Esc never arrived"
        return gate(progress, cancel)

    assert aborted.start_background(context, wait_for_esc, "Packaging…") == {"RUNNING_MODAL"}
    assert runtime.busy
    result, _ = play_modal(aborted, context, 60, esc=True)
    assert result == {"CANCELLED"}, aborted.reports
    assert runtime.error.startswith("Aborted") and "internal error" not in runtime.error, (
        runtime.error)
    aborted_message = runtime.error
    assert not runtime.busy and context.window_manager.timers == 0
    jobs_folder = Path(args["out"]) / ".orbitfarm" / "jobs"
    assert not jobs_folder.exists() or not any(jobs_folder.iterdir()), list(jobs_folder.iterdir())
    assert len(runtime.jobs) == 0

    # Busy guard: a second background task is refused while one runs.
    done = Probe()
    done.request = lambda ctx: request  # what ORBITFARM_OT_submit builds from the scene
    assert done.execute(context) == {"RUNNING_MODAL"}
    second = Probe()
    second.request = lambda ctx: request
    assert second.execute(context) == {"CANCELLED"}
    assert "busy" in second.reports[-1][1], second.reports
    result, statuses = play_modal(done, context, 120)
    assert result == {"FINISHED"}, done.reports
    assert not runtime.busy and context.window_manager.timers == 0
    assert len(runtime.jobs) == 1 and runtime.jobs[0].from_session
    assert any(s.startswith("Submitted job") for s in statuses), statuses
    finished = wait_for_job(runtime.jobs[0].path, args["timeout"])
    assert finished["frames_done"] == 2, finished
    return {"statuses": sorted(statuses), "aborted": aborted_message}


def _run() -> int:
    zip_path, name = sys.argv[1], sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    args["zip"] = zip_path
    try:
        result = SCENARIOS[name](args)
    except BaseException:
        traceback.print_exc()
        return 1
    print("RESULT " + json.dumps(result or {}, default=str))
    return 0


if __name__ == "__main__":
    code = _run()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
