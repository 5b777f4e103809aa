"""One subject from .blend to dataset: load, check, centre, orbit-render, verify, record.

Mesh and USD subjects are imported (worker/subject.py) and then take the same path.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bpy

from ..submitter.formats import wanted_formats, write_formats
from ..submitter.formats.cameras import depth16_rel
from ..submitter.formats.depth16 import depth_exr_to_png16, too_far_warnings
from ..submitter.formats.nerfstudio import CAMERA_MODEL, ORTHO_CAMERA_MODEL
from ..submitter.model import views
from ..submitter.model.looks import pass_conventions, pass_folders, pass_keys
from ..submitter.model.settings import RenderSettings
from ..submitter.model.subject_formats import BLEND, subject_format
from ..submitter.model.task import Subject, WorkerTask
from . import orbit
from .animation import detect_animation
from .bounds import BoundsError, stable_world_bbox
from .camera import camera_record
from .checks import FrameCheck, check_frame, subject_in_view
from .evaluation import render_view_layer, show_what_renders
from .gpu import DeviceError
from .lighting import LightingError, apply_lighting
from .lighting_claim import OtherLightingError, claim_lighting, frame_files
from .missing import missing_files, missing_libraries
from .normalize import normalize
from .render import RenderError, pass_files, render_frame, setup
from .results import (
    NO_HIT_DEPTH,
    depth_path,
    frame_name,
    pass_path,
    read_result,
    rgb_path,
    update_result,
    write_transforms,
)
from .scene import SubjectError, subject_center
from .scratch import remove_orphans, scratch_dir
from .subject import load_subject
from .video import describe as describe_video
from .video import write_video

Progress = Callable[..., None]


def log(msg: str) -> None:
    print(f"[orbitfarm] {msg}", flush=True)


def _frame_done(out: str, frame: int, settings: RenderSettings) -> bool:
    """A frame is done when its files exist: they only appear, by rename, after their check."""
    if settings.rgb and not rgb_path(out, frame).is_file():
        return False
    if not all(pass_path(out, folder, ext, frame).is_file()
               for folder, ext in pass_folders(settings.passes)):
        return False
    return not (settings.depth and not depth_path(out, frame).is_file())


def _count_done(task: WorkerTask, subject: Subject) -> int:
    """Frames of the whole orbit (all chunks) whose files are in place."""
    return sum(_frame_done(subject.out, k, task.settings) for k in task.settings.frame_list())


class OtherSettingsError(SubjectError):
    """The output folder holds frames of other settings; its result.json must stay as it is."""


def _claim_settings(task: WorkerTask, subject: Subject) -> None:
    """Make the subject directory hold frames of these settings only.

    Frames rendered with other settings (or of unknown settings: no result.json) are never
    mixed with new ones: without --force the subject fails with a reason and nothing is
    touched; with --force they are deleted under the lock before the new settings hash is
    recorded. So any task that sees this hash can trust every frame file it finds, even after
    a kill -9.
    """
    base = _base_result(task, subject)
    if read_result(subject.out).get("settings_hash") == base["settings_hash"]:
        return  # nothing to claim; written later, once the lighting is claimed too

    def change(data: dict[str, Any]) -> None:
        if data.get("settings_hash") != base["settings_hash"]:
            stale = frame_files(subject.out)
            if stale and not task.force:
                raise OtherSettingsError(
                    f"{subject.out} already holds {len(stale)} frame file(s) rendered with other "
                    "settings (resolution, samples, orbit, ...); pass --force to replace them, "
                    "or render into another --out"
                )
            for path in stale:
                path.unlink()
            data.clear()
        data.update(base)
        data.setdefault("status", "rendering")
        data.setdefault("reason", "")
        data.setdefault("frames", {})

    update_result(subject.out, change)


def _base_result(task: WorkerTask, subject: Subject) -> dict[str, Any]:
    return {
        "subject": subject.name,
        "blend": subject.blend,
        "source_format": (subject_format(subject.blend) or BLEND).name,
        "blender_version": bpy.app.version_string,
        "settings_hash": task.settings.settings_hash(),
        "settings": task.settings.to_dict(),
        "no_hit_depth": NO_HIT_DEPTH,
    }


def _with_warnings(data: dict[str, Any], scene_warnings: list[str]) -> None:
    """result.json's warnings: the scene's, then every frame (of all chunks) showing nothing."""
    empty = sorted(name for name, f in data.get("frames", {}).items()
                   if f.get("subject_pixels") == 0)
    data["warnings"] = list(scene_warnings) + [
        f"frame {name}: the subject covers no pixel" for name in empty]


def _no_pixel_anywhere(data: dict[str, Any], frames_total: int) -> bool:
    """Every frame of the orbit is known to show nothing of the subject."""
    frames = data.get("frames", {})
    return len(frames) >= frames_total and all(
        f.get("subject_pixels") == 0 for f in frames.values())


def _finish(task: WorkerTask, subject: Subject, status: str, reason: str,
            scene_warnings: list[str] | None = None, **fields: Any) -> str:
    """Record the subject's status; returns the status recorded for it (rendered may become
    failed: the subject covers no pixel in any frame)."""
    base = _base_result(task, subject)
    frames_total = len(task.settings.frame_list())
    outcome = [status]

    def change(data: dict[str, Any]) -> None:
        if data.get("settings_hash") != base["settings_hash"]:
            data.pop("frames", None)
        data.update(base)
        data.update(fields)
        data.setdefault("frames", {})
        _with_warnings(data, scene_warnings or [])
        data["frames_done"] = _count_done(task, subject)
        data["frames_total"] = frames_total
        recorded, why = status, reason
        if status == "rendered" and data["frames_done"] < frames_total:
            # Another chunk of this subject is still rendering, or failed: "rendered" is only
            # ever written when every frame of the orbit is in place.
            if data.get("status") == "failed":
                return
            recorded = "rendering"
        elif status == "rendered" and _no_pixel_anywhere(data, frames_total):
            recorded, why = "failed", (
                f"the subject covers no pixel in any of the {frames_total} frames (a flat "
                "subject seen edge-on, or too small to see? try another --elevation)")
            outcome[0] = "failed"
        data["status"] = recorded
        data["reason"] = why

    update_result(subject.out, change)
    return outcome[0]


def render_subject(task: WorkerTask, subject: Subject, progress: Progress) -> str:
    """Render one subject; never raises. Returns rendered | skipped | failed."""
    started = time.perf_counter()
    log(f"subject {subject.name}: {subject.blend}")
    warnings: list[str] = []  # filled by _render as it learns them; kept if it fails
    try:
        return _render(task, subject, progress, started, warnings)
    except (SubjectError, BoundsError, DeviceError, RenderError, LightingError) as err:
        exc: Exception = err
        reason = str(err)
    except Exception as err:  # one subject's crash must not stop the others
        exc = err
        traceback.print_exc()
        reason = f"internal error: {type(err).__name__}: {err}"
    log(f"subject {subject.name}: FAILED: {reason}")
    progress(subject.name, status="failed", reason=reason, warnings=len(warnings))
    if isinstance(exc, (OtherSettingsError, OtherLightingError)):
        return "failed"  # result.json still describes the frames that are there
    try:
        return _finish(task, subject, "failed", reason, warnings)
    except Exception:
        traceback.print_exc()
        return "failed"


def _render(task: WorkerTask, subject: Subject, progress: Progress, started: float,
            warnings: list[str]) -> str:
    settings = task.settings
    out = subject.out
    Path(out).mkdir(parents=True, exist_ok=True)
    # Decide first: nothing in the folder changes (transforms.json included) unless it holds
    # frames of these settings only, or --force cleared the others (issue 16 item 1), and
    # (claim_lighting, once the scene is loaded) of the lighting these settings resolve to.
    _claim_settings(task, subject)
    scene, imported = load_subject(subject.blend)
    warnings += missing_files() + imported.warnings
    view_layer = render_view_layer(scene)
    warnings += show_what_renders(scene)
    for note in warnings:
        log(f"subject {subject.name}: warning: {note}")
    scene.frame_set(scene.frame_start)
    t_load = time.perf_counter() - started

    world_box = stable_world_bbox(scene)
    if world_box is None and imported.fields:  # check_renders found triangles: a bug if here
        raise SubjectError("the imported geometry has no bounding box")
    if world_box is None:
        libraries = missing_libraries()
        if libraries:
            raise SubjectError("no renderable geometry: the linked librar"
                               + ("y " if len(libraries) == 1 else "ies ")
                               + ", ".join(repr(p) for p in libraries) + " cannot be found")
        reason = "no renderable geometry (no visible mesh, curve, text, ... in the scene)"
        log(f"subject {subject.name}: skipped: {reason}")
        progress(subject.name, status="skipped", reason=reason, warnings=len(warnings))
        return _finish(task, subject, "skipped", reason, warnings, animation=[],
                       **imported.fields)

    t_check = time.perf_counter()
    animation = detect_animation(scene)
    t_check = time.perf_counter() - t_check
    warnings += animation.warnings
    evidence = imported.cache_evidence + animation.evidence
    if evidence:
        reason = "animated subject: " + "; ".join(evidence)
        log(f"subject {subject.name}: skipped: {reason}")
        progress(subject.name, status="skipped", reason=reason, warnings=len(warnings))
        return _finish(task, subject, "skipped", reason, warnings, animation=evidence,
                       **imported.fields)
    if settings.normalize != "none":
        if imported.fields:
            imported.fields["normalize"] = normalize(scene, world_box, settings.normalize)
            world_box = stable_world_bbox(scene) or world_box
        else:
            warnings.append(f"--normalize {settings.normalize} applies to imported mesh/USD "
                            "subjects only: this .blend is rendered in its own units")

    offset, original_center = subject_center(world_box)
    # The box in the centred frame (subject at the origin), where poses are expressed.
    box = ([a + o for a, o in zip(world_box[0], offset, strict=True)],
           [b + o for b, o in zip(world_box[1], offset, strict=True)])
    bound = orbit.bounding_radius(*box)

    lighting = apply_lighting(scene, settings, log)
    claim_lighting(out, lighting, task.force)  # what `auto` resolves to may have changed
    for orphan in remove_orphans(out):
        log(f"subject {subject.name}: removed {orphan.name}/ of a worker that is gone")
    tmp_dir = scratch_dir(out)
    x, y, z = original_center
    rs = setup(scene, settings, bound, tmp_dir, log, center=(x, y, z), view_layer=view_layer)
    warnings += rs.warnings
    all_frames = settings.frame_list()
    mine = task.frames if task.frames is not None else all_frames
    poses = {k: views.view_pose(settings, k, rs.radius) for k in all_frames}
    # After the claim (at the top): the failure is recorded for these settings, not other ones.
    inside = orbit.views_inside_box(poses, box)
    if inside:
        raise SubjectError(
            f"the camera of {len(inside)} view(s) (first: view {inside[0]}) sits inside the "
            f"subject's bounding box at radius {rs.radius:.4g}: use a larger --radius"
            + (" or --radius-range" if settings.layout == "random" else ""))
    if settings.poses:
        # Loadable by nerfstudio from the first frame on (formats/nerfstudio.py rewrites it
        # with depth16 paths once the subject is complete).
        write_transforms(out, rs.intrinsics.to_dict(), [
            {"file_path": f"rgb/{frame_name(k)}.png", "depth_exr_path": f"depth/{frame_name(k)}.exr",
             "frame": k, **views.view_point(settings, k).record(), "transform_matrix": poses[k],
             **pass_keys(settings.passes, k)}
            for k in all_frames
        ], {**camera_record(rs.intrinsics),
            "camera_model": ORTHO_CAMERA_MODEL if rs.intrinsics.orthographic else CAMERA_MODEL,
            "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
            "camera_convention": "opengl (nerfstudio/Blender): +X right, +Y up, looking down -Z",
            "lighting": lighting, "background": settings.background,
            **({"passes": pass_conventions(settings.passes)} if settings.passes else {}),
            "radius": rs.radius, "centering_offset": offset, "original_center": original_center,
            "depth": "planar, scene units", "no_hit_depth": NO_HIT_DEPTH,
            "settings_hash": settings.settings_hash(), "views": views.layout_record(settings),
        })

    # Resume: keep the frame files of these settings (claimed above) that exist.
    todo = [k for k in mine if task.force or not _frame_done(out, k, settings)]
    t_setup = time.perf_counter() - started
    log(f"subject {subject.name}: static, centred by {[round(c, 4) for c in offset]}, radius "
        f"{rs.radius:.4g}, device {rs.device}; {len(todo)} of {len(mine)} frames to render "
        f"(load {t_load:.2f}s, ready {t_setup:.2f}s)")
    common = {"animation": [], "centering_offset": offset, "original_center": original_center,
              "radius": rs.radius, "device": rs.device, "intrinsics": rs.intrinsics.to_dict(),
              "denoiser": rs.denoiser, "animation_frames_checked": animation.frames_checked,
              "views": views.layout_record(settings),
              "timing": {"load_seconds": round(t_load, 4),
                         "animation_check_seconds": round(t_check, 4),
                         "ready_seconds": round(t_setup, 4)},
              **imported.fields,
              "lighting": lighting, "background": settings.background,
              "passes": pass_conventions(settings.passes)}
    status = "rendered"
    if not todo:
        status = _finish(task, subject, "rendered", "", warnings, **common)

    done_now: dict[str, dict[str, Any]] = {}
    last_write = 0.0
    total = len(mine)
    base_done = total - len(todo)
    # Each frame's check (decode PNG/EXR, look at the depth), its 16-bit depth PNG and the
    # result.json updates run on a thread while Blender renders the next frame (the render
    # releases the GIL): on a GPU node they cost no wall time, and many small subjects in one
    # --group are not slowed by them. One thread, so its jobs run in the order given; it only
    # touches files: bpy is never used off the main thread.
    checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orbitfarm-check")
    records: list[Future[None]] = []
    depth16 = settings.poses and settings.depth and "depth16" in wanted_formats(settings.formats)
    too_far: dict[int, int] = {}  # frame -> depth pixels beyond the 16-bit PNG's range
    made: set[Path] = set()  # output folders known to exist

    def render_parked(k: int) -> tuple[Path | None, Path | None, dict[str, Path]]:
        """Render orbit frame k into temp files of its own (the next render reuses the names)."""
        rgb_tmp, depth_tmp = render_frame(rs, poses[k], settings.rgb)
        extra = {folder: _park(tmp, k) if tmp.is_file() else None
                 for folder, tmp in pass_files(rs).items()}
        missing = [folder for folder, tmp in extra.items() if tmp is None]
        if missing:
            raise RenderError(f"frame {k}: Blender wrote no {', '.join(missing)} pass file")
        return _park(rgb_tmp, k), _park(depth_tmp, k), extra  # type: ignore[return-value]

    def check(k: int, files: tuple[Path | None, Path | None, Any]) -> Future[Checked]:
        return checker.submit(_check_and_derive, k, files[0], files[1], settings.width,
                              settings.height,
                              subject_in_view(box[0], box[1], poses[k], rs.intrinsics), depth16)

    def record(frames: dict[str, dict[str, Any]], done: int, scene_warnings: list[str]) -> None:
        _record_frames(task, subject, frames, common, scene_warnings)
        progress(subject.name, status="rendering", frames_done=done, frames_total=total)

    def settle(i: int, k: int, files: tuple[Path | None, Path | None, dict[str, Path]],
               verdict: Future[Checked], render_wall: float, render_s: float) -> None:
        """Frame k's check verdict; one re-render if it failed; then publish it by rename."""
        nonlocal done_now, last_write
        t0 = time.perf_counter()
        checked, png16, far = verdict.result()
        if checked.problem is not None:  # a frame that fails its check is rendered once more
            log(f"subject {subject.name}: frame {k} failed its check: {checked.problem}")
            files = render_parked(k)
            checked, png16, far = check(k, files).result()
            if checked.problem is not None:
                log(f"subject {subject.name}: frame {k} failed its check: {checked.problem}")
                raise SubjectError(f"frame {k} failed its check twice: {checked.problem}")
        published = [(files[0], rgb_path(out, k)), (files[1], depth_path(out, k))] + [
            (files[2][folder], pass_path(out, folder, ext, k))
            for folder, ext in pass_folders(settings.passes)]
        # After the EXR it comes from, so write_formats finds it up to date (depth16.py).
        published.append((png16, Path(out) / depth16_rel(k)))
        for tmp, final in published:
            if tmp is not None:
                if final.parent not in made:
                    final.parent.mkdir(exist_ok=True)
                    made.add(final.parent)
                os.replace(tmp, final)
        if far:
            too_far[k] = far
        seconds = render_wall + time.perf_counter() - t0
        done_now[frame_name(k)] = {"seconds": round(seconds, 4),
                                   "render_seconds": round(render_s, 4),
                                   "subject_pixels": checked.subject_pixels}
        log(f"subject {subject.name}: frame {base_done + i}/{total} (orbit frame {k}) "
            f"{seconds:.2f}s" + (" (the subject covers no pixel)"
                                 if checked.subject_pixels == 0 else ""))
        now = time.perf_counter()
        if now - last_write >= 1.0 or i == len(todo):
            last_write = now
            records.append(checker.submit(record, done_now, base_done + i, list(warnings)))
            done_now = {}

    # Between renders this thread makes many short system calls, each of which gives up the
    # GIL; with the default 5 ms switch interval each would wait out the checker's turn.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        pending: tuple | None = None  # the previous frame, rendered, its check under way
        for i, k in enumerate(todo, 1):
            if not task.force and _frame_done(out, k, settings):
                continue  # published meanwhile by another job sharing this --out
            t0 = time.perf_counter()
            files = render_parked(k)
            render_wall = time.perf_counter() - t0
            render_s = rs.render_seconds[-1] if rs.render_seconds else render_wall
            if pending is not None:  # first: its check ran while this frame rendered, and
                settle(*pending)     # the thread is idle, so the two never wait for the GIL
            pending = (i, k, files, check(k, files), render_wall, render_s)
        if pending is not None:
            settle(*pending)
    finally:
        sys.setswitchinterval(switch_interval)
        # Pending records still run (their frames are published); pending checks are harmless.
        checker.shutdown(wait=True)
        shutil.rmtree(tmp_dir, ignore_errors=True)  # unpublished frames never reach rgb/, depth/
        if done_now:
            _record_frames(task, subject, done_now, common, warnings)
    for written in records:
        written.result()  # a record that could not be written (disk full) fails the subject
    # Dataset formats (submitter/formats/), once every frame of the subject is in place.
    dataset_warnings = too_far_warnings(too_far)
    if settings.poses and _count_done(task, subject) == len(all_frames):
        dataset_warnings += write_formats(out, settings.formats, settings.holdout)
    for warning in dataset_warnings:  # in result.json too: a depth16 pixel lost is never silent
        log(f"subject {subject.name}: warning: {warning}")
    warnings += dataset_warnings
    if settings.video and settings.rgb and _count_done(task, subject) == len(all_frames):
        notes = write_video(out, settings.video, [rgb_path(out, k) for k in all_frames])
        warnings += notes
        if not notes:
            common["video"] = describe_video(settings.video, len(all_frames))
    if todo:
        status = _finish(task, subject, "rendered", "", warnings, **common)
    if status == "failed":
        reason = read_result(out).get("reason", "")
        log(f"subject {subject.name}: FAILED: {reason}")
        progress(subject.name, status="failed", reason=reason, warnings=_warning_count(out))
        return "failed"
    progress(subject.name, status="rendered", frames_done=total, frames_total=total,
             warnings=_warning_count(out))
    log(f"subject {subject.name}: rendered {len(todo)} frame(s) in "
        f"{time.perf_counter() - started:.2f}s")
    return "rendered"


def _warning_count(out: str) -> int:
    """How many warnings the subject's result.json lists (shown by `status` and the panel)."""
    return len(read_result(out).get("warnings") or [])


def _park(path: Path | None, frame: int) -> Path | None:
    """Rename a fresh temp output to a per-frame temp name (same folder: never published)."""
    if path is None:
        return None
    parked = path.with_name(f"{frame:04d}-{path.name}")
    os.replace(path, parked)
    return parked


Checked = tuple[FrameCheck, Path | None, int]  # verdict, parked depth16 PNG, pixels too far


def _check_and_derive(k: int, rgb: Path | None, depth: Path | None, width: int, height: int,
                      expect_subject: bool, depth16: bool) -> Checked:
    """Frame k's check; for a good frame with depth, its depth16 PNG parked beside the EXR."""
    checked = check_frame(rgb, depth, width, height, expect_subject)
    if checked.problem is not None or not depth16 or depth is None:
        return checked, None, 0
    png = depth.with_name(f"{k:04d}-depth16.png")
    return checked, png, depth_exr_to_png16(depth, png)


def _record_frames(task: WorkerTask, subject: Subject, frames: dict[str, dict[str, Any]],
                   common: dict[str, Any], scene_warnings: list[str]) -> None:
    base = _base_result(task, subject)

    def change(data: dict[str, Any]) -> None:
        if data.get("settings_hash") != base["settings_hash"]:
            data["frames"] = {}
        data.update(base)
        data.update(common)
        data.setdefault("frames", {}).update(frames)
        _with_warnings(data, scene_warnings)
        data.setdefault("status", "rendered")
        data.setdefault("reason", "")
        data["frames_done"] = _count_done(task, subject)
        data["frames_total"] = len(task.settings.frame_list())

    update_result(subject.out, change)
