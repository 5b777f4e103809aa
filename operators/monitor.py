"""The jobs list: which jobs the panel shows, and live progress polled off the main thread.

A bpy.app.timers callback (main thread) applies finished polls to the WindowManager's job rows
and, while any job is unfinished, starts the next poll on a short-lived thread (status may
talk to a cluster, so it never runs on the main thread).
"""

from __future__ import annotations

import os
import queue
import threading
import traceback
from pathlib import Path
from typing import Any

import bpy

from . import bridge

POLL_SECONDS = 2.0
RECENT_LIMIT = 20

_results: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
_in_flight = threading.Event()


def summarize(job_path: str, online: bool = True) -> dict[str, Any]:
    """Plain-data progress of one job (any thread; no bpy). Offline: cluster jobs not polled."""
    from ..submitter import jobs, report

    try:
        job = jobs.open_job(job_path)
        if not online and bridge.profile_needs_network(job.spec.target):
            return {"detail": "not polled: Blender's online access is off"}
        status = jobs.status(job)
    except bridge.user_errors() as exc:  # e.g. the job folder was moved or deleted
        return {"state": "unknown", "detail": f"cannot read job: {exc}"}
    except Exception as exc:  # a bug: loud in the console, visible in the row
        traceback.print_exc()
        return {"state": "unknown", "detail": f"status failed: {type(exc).__name__}: {exc}"}
    # The job's web page follows what the panel shows (throttled: submitter/report/write.py).
    report.keep_current(job, status)
    counts = {k: v for k, v in status.totals.items() if v}
    label = describe(job)
    if status.finished:
        state = "finished" if status.failed_tasks == 0 else "finished with failures"
    else:
        state = "running" if counts.get("running") else "queued"
    detail = ", ".join(f"{n} {s}" for s, n in counts.items())
    # One line per reason (a worker's reason may span lines; the log has it in full).
    reasons = [f"{r.name}: {jobs.one_line(r.reason)[0]}" for r in status.subjects if r.reason]
    if reasons:
        detail += " | " + "; ".join(reasons[:3])
    warned = [r for r in status.subjects if r.warnings]
    if warned:
        detail += " | warnings (missing files, ...) in " + ", ".join(
            os.path.join(r.out, "result.json") for r in warned[:3])
    return {
        "state": state,
        "frames_done": status.frames_done,
        "frames_total": status.frames_total,
        "failed_tasks": status.failed_tasks,
        "warnings": sum(r.warnings for r in status.subjects),
        "finished": status.finished,
        "detail": detail,
        "label": label,
    }


def describe(job: Any) -> str:
    """What a job renders, for its row: "monkey, torus · 24 frames (1-10)" (target: below)."""
    names = [Path(source).stem for source in job.spec.sources] or ["?"]
    settings = job.settings
    subjects = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
    frames = f"{settings.view_count} frames"
    if settings.frame_range:
        frames += f" ({settings.frame_range})"
    return f"{subjects} · {frames}"


def apply(item: Any, data: dict[str, Any]) -> None:
    """Copy a summarize() result into a job row (main thread); thumbnails once it finished."""
    for key in ("state", "frames_done", "frames_total", "failed_tasks", "warnings", "finished",
                "detail", "label"):
        if key in data:
            setattr(item, key, data[key])
    if item.finished and item.frames_done:
        _make_thumbnails(item.path)


def _make_thumbnails(job_path: str) -> None:
    from ..submitter import jobs
    from . import thumbnails

    if thumbnails.icons_for(job_path) is not None:
        return
    try:
        job = jobs.open_job(job_path)
        thumbnails.make(job_path, [Path(jobs.outputs_dir(job, s.name)) for s in job.plan.subjects])
    except Exception:  # a thumbnail must never break the jobs list; the console says why
        traceback.print_exc()


def find(runtime: Any, job_path: str) -> Any | None:
    for item in runtime.jobs:
        if item.path == job_path:
            return item
    return None


def add_job(context: bpy.types.Context, job: Any, from_session: bool) -> Any:
    """Add (or refresh) a job row, newest first; returns the row."""
    runtime = bridge.runtime(context)
    path = str(job.path)
    item = find(runtime, path)
    if item is None:
        item = runtime.jobs.add()
        item.path, item.job_id = path, str(job.id)
        item.target = str(job.spec.target.get("name") or job.spec.target.get("kind", ""))
        item.label = describe(job)
        runtime.jobs.move(len(runtime.jobs) - 1, 0)
        item = runtime.jobs[0]
    item.from_session = item.from_session or from_session
    runtime.jobs_index = 0
    return item


def jobs_under(out_root: str) -> list[Path]:
    """Job folders in an output root (OUT/.orbitfarm/jobs/<id>), newest first."""
    folder = Path(out_root) / ".orbitfarm" / "jobs"
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if (p / "job.yaml").is_file()]
    return sorted(found, key=lambda p: p.name, reverse=True)[:RECENT_LIMIT]


def load_list(context: bpy.types.Context) -> None:
    """Add recent jobs (this account's index and the scene's output root) to the list."""
    from ..submitter import jobs

    runtime = bridge.runtime(context)
    known = {item.path for item in runtime.jobs}
    entries = [(s.path, s.id, s.target) for s in jobs.recent_jobs(limit=RECENT_LIMIT) if s.exists]
    try:
        props, prefs = bridge.scene_settings(context), bridge.addon_prefs(context)
        root = bridge.output_root(props, prefs, bpy.data.filepath)
        entries += [(str(p), p.name, "") for p in jobs_under(root)]
    except bridge.UIError:
        pass  # no output folder chosen yet: only the index
    for path, job_id, target in entries:
        if path not in known:
            item = runtime.jobs.add()
            item.path, item.job_id, item.target = path, job_id, target
            known.add(path)


def refresh_blocking(context: bpy.types.Context) -> None:
    """Reload the list and poll every job now, on this thread (scripts and tests)."""
    load_list(context)
    online = bpy.app.online_access
    for item in bridge.runtime(context).jobs:
        apply(item, summarize(item.path, online))


def _poll(paths: list[str], online: bool) -> None:
    try:
        for path in paths:
            _results.put((path, summarize(path, online)))
    finally:
        _in_flight.clear()


def poll_now(runtime: Any, only_unfinished: bool = True) -> None:
    """Start a poll of the listed jobs on a thread, unless one is running."""
    paths = [item.path for item in runtime.jobs if not (only_unfinished and item.finished)]
    if paths and not _in_flight.is_set():
        _in_flight.set()
        threading.Thread(target=_poll, args=(paths, bpy.app.online_access),
                         name="orbitfarm-poll", daemon=True).start()


def tick() -> float | None:
    """Timer callback: apply results, start the next poll while jobs are unfinished."""
    runtime = getattr(bpy.context.window_manager, "orbitfarm", None)
    if runtime is None:
        return None
    changed = False
    while True:
        try:
            path, data = _results.get_nowait()
        except queue.Empty:
            break
        item = find(runtime, path)
        if item is not None:
            apply(item, data)
            changed = True
    poll_now(runtime)
    if changed:
        from .background import redraw_all

        redraw_all()
    return POLL_SECONDS


def _first_load() -> None:
    """One-shot timer after enabling: show recent jobs, then follow them."""
    try:
        load_list(bpy.context)
    except bridge.user_errors() as exc:  # e.g. an unreadable jobs index: the list stays empty
        print(f"orbitfarm: recent jobs not loaded: {exc}")
    start()


def start(load_recent: bool = False) -> None:
    """Follow the jobs list live (idempotent); load_recent fills it first (on enable)."""

    if load_recent:
        if not bpy.app.timers.is_registered(_first_load):
            bpy.app.timers.register(_first_load, first_interval=1.0)
        return
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=0.5, persistent=True)


def stop() -> None:
    """Stop following (unregister)."""
    for callback in (_first_load, tick):
        if bpy.app.timers.is_registered(callback):
            bpy.app.timers.unregister(callback)
