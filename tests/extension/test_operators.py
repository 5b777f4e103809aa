"""The operators in background mode, through the installed extension and the real bpy wheel.

Renders are tiny (48x36, 2 samples, 2-3 frames) on the local target, through the same worker and
job core the CLI uses.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import subjects
from in_blender import (
    MODULE,
    bpy,
    expect_error,
    ext,
    install,
    open_blend,
    png_pixel,
    render_check,
    result_problems,
    tiny_settings,
    wait_for_job,
)

RENDER_TIMEOUT = 240


def test_preview_orbit_and_remove(scenario, bpy_python, tmp_path):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    result = scenario(preview_orbit, blend=info["path"], center=info["center"])
    assert result["radius"] > 1.0


# Blender side (runs in a fresh bpy process, see in_blender.py)

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
    # The open preview follows the settings live (no second click): frames, elevation.
    props = scene.orbitfarm
    props.frames = 12
    camera = scene.camera
    assert scene.frame_end == 12, scene.frame_end
    stops = set()
    for frame in range(1, 13):
        scene.frame_set(frame)
        stops.add(tuple(round(v, 3) for v in camera.matrix_world.translation))
    assert len(stops) == 12, stops  # twelve distinct orbit positions now, not eight
    props.elevation_angle = math.radians(-45.0)  # the panel's field, in Blender's angle unit
    assert abs(props.elevation + 45.0) < 1e-4, props.elevation
    scene.frame_set(12)
    assert abs((scene.camera.matrix_world.translation - centre).normalized().z
               + math.sqrt(0.5)) < 0.01
    props.margin_percent = 50.0  # "50 %" in the panel = margin factor 1.5
    assert abs(props.margin - 1.5) < 1e-6 and abs(props.margin_percent - 50.0) < 1e-4
    far = (scene.camera.matrix_world.translation - centre).length
    props.margin_percent = 10.0
    assert (scene.camera.matrix_world.translation - centre).length < far  # closer again
    # Clicking again rebuilds instead of stacking cameras.
    assert bpy.ops.orbitfarm.preview_orbit() == {"FINISHED"}
    assert sum(o.type == "CAMERA" for o in bpy.data.objects) == 1 + (before_camera is not None)
    assert bpy.ops.orbitfarm.remove_preview() == {"FINISHED"}
    assert {o.name for o in bpy.data.objects} == before_objects
    assert (scene.camera.name if scene.camera else None) == before_camera
    assert (scene.frame_start, scene.frame_end) == before_range
    # Without a preview, changing settings creates nothing.
    props.frames = 6
    assert {o.name for o in bpy.data.objects} == before_objects
    return {"radius": distances[0]}


def test_preflight_reports_missing_texture_with_hint(scenario, bpy_python, tmp_path):
    info = subjects.make_subject(bpy_python, tmp_path / "textured.blend", "textured")
    texture = Path(info["texture"])
    texture.unlink()
    animated = subjects.make_subject(bpy_python, tmp_path / "animated.blend", "animated")
    result = scenario(preflight_missing_texture, blend=info["path"], texture_name=texture.name,
                      animated=animated["path"], out=str(tmp_path / "out"))
    assert any(texture.name in p["message"] for p in result["problems"])


# Blender side (runs in a fresh bpy process, see in_blender.py)

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


@pytest.mark.render
def test_submit_scene_to_local_target(scenario, bpy_python, tmp_path):
    folder = tmp_path / "my scene ü $(x)"
    folder.mkdir()
    info = subjects.make_subject(bpy_python, folder / "cube.blend", "cube")
    result = scenario(submit_local, process_timeout=2 * RENDER_TIMEOUT + 60,
                      blend=info["path"], out=str(tmp_path / "out"),
                      out_copy=str(tmp_path / "out copy"), timeout=RENDER_TIMEOUT)
    assert result["status"]["frames_done"] == 3


# Blender side (runs in a fresh bpy process, see in_blender.py)

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

    # The row says what it renders; the panel's thumbnails show the front view: the red
    # subject in RGB and a colour-mapped hit (black where nothing was hit) in depth.
    row = next(j for j in wm.jobs if j.path == job_path)
    assert row.label == f"{blend.stem} · 3 frames", row.label
    thumbs = ext("operators.thumbnails")
    assert thumbs.icons_for(job_path) is not None
    folder = Path(bpy.utils.extension_path_user(MODULE, path="thumbnails"))
    rgb_thumb = next(folder.glob(f"{job_id}-*-rgb.png"))
    depth_thumb = next(folder.glob(f"{job_id}-*-depth.png"))
    centre = png_pixel(rgb_thumb)
    assert centre[0] > 0.5 and centre[1] < 0.25, centre
    assert sum(png_pixel(depth_thumb)[:3]) > 0.3
    assert sum(png_pixel(depth_thumb, 0.02, 0.02)[:3]) < 0.05

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


@pytest.mark.render
def test_batch_submit_three_files(scenario, bpy_python, tmp_path):
    folder = tmp_path / "batch"
    colors = {"red.blend": [0.8, 0.0, 0.0], "green.blend": [0.0, 0.8, 0.0],
              "blue.blend": [0.0, 0.0, 0.8]}
    places = {"red.blend": folder, "green.blend": folder / "sub",
              "blue.blend": folder / "sub" / "deeper"}
    for name, color in colors.items():
        places[name].mkdir(parents=True, exist_ok=True)
        subjects.make_subject(bpy_python, places[name] / name, "cube", color=tuple(color))
    shutil.copy(folder / "red.blend", folder / "red.blend1")  # Blender's backup: skipped
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "ghost.blend").write_bytes(b"not a subject")  # hidden: skipped
    result = scenario(batch_submit, process_timeout=RENDER_TIMEOUT + 60, folder=str(folder),
                      out=str(tmp_path / "out"), colors=colors, timeout=RENDER_TIMEOUT)
    assert result["status"]["frames_total"] == 6


# Blender side (runs in a fresh bpy process, see in_blender.py)

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


def test_cluster_target_needs_online_access_and_profiles_validate(scenario, bpy_python, tmp_path):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    result = scenario(network_and_profiles, blend=info["path"], out=str(tmp_path / "out"))
    assert "online" in result["error"].lower()


# Blender side (runs in a fresh bpy process, see in_blender.py)

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


@pytest.mark.render
def test_modal_submit_esc_aborts_and_timer_path_submits(scenario, bpy_python, tmp_path):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    result = scenario(modal_submit, process_timeout=RENDER_TIMEOUT + 60, blend=info["path"],
                      out=str(tmp_path / "out"), timeout=RENDER_TIMEOUT)
    assert any(s.startswith("Submitted job") for s in result["statuses"])


# Blender side (runs in a fresh bpy process, see in_blender.py)

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
