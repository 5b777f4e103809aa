"""Drives a real Blender window like an artist would; run by test_panel_window.py.

    blender SCENE.blend --python driver.py      (ORBITFARM_WINDOW_ARGS = JSON, see below)

A persistent timer walks through the steps, one per redraw-and-wait: show the 3D Viewport
sidebar on its orbitfarm tab and Properties › Output, press Preview Orbit, Preflight and Submit
(each operator invoked in the sidebar's own area and region, the way a click calls it), watch
the jobs list until the job is finished, and after each step asks the test for a screenshot
(NAME.request in the shots folder; the test answers with NAME.png, taken with xwd) and waits. It writes result.json (what the UI state was at each step and
where each region sits in the window) and quits. With "baseline": true it only takes the first
screenshot (the same window without the extension) for the test to compare against.

ARGS: shots (folder for PNGs + result.json), out (output folder), baseline, timeout (seconds).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import bpy

MODULE = "bl_ext.user_default.orbitfarm"
ARGS: dict[str, Any] = json.loads(os.environ["ORBITFARM_WINDOW_ARGS"])
SHOTS = Path(ARGS["shots"])
RESULT: dict[str, Any] = {"steps": {}, "errors": []}
STEPS: list[Any] = []
STATE: dict[str, Any] = {"index": 0, "since": time.monotonic()}


def window() -> Any:
    return bpy.context.window_manager.windows[0]


def area(kind: str) -> Any:
    return next(a for a in window().screen.areas if a.type == kind)


def region(area_: Any, kind: str) -> Any:
    return next(r for r in area_.regions if r.type == kind)


def sidebar_override() -> dict[str, Any]:
    view3d = area("VIEW_3D")
    return {"window": window(), "screen": window().screen, "area": view3d,
            "region": region(view3d, "UI")}


def rect(r: Any) -> dict[str, int]:
    """A region's rectangle in screenshot pixels (origin top-left; Blender's is bottom-left)."""
    return {"x": r.x, "y": window().height - (r.y + r.height), "w": r.width, "h": r.height}


def redraw() -> None:
    for a in window().screen.areas:
        a.tag_redraw()


def shot(name: str, **facts: Any) -> None:
    """Ask the test for a screenshot (it runs xwd on the host) and record the UI state."""
    (SHOTS / f"{name}.request").write_text(name)
    RESULT["steps"][name] = {"png": str(SHOTS / f"{name}.png"), **facts}
    RESULT["window"] = {"w": window().width, "h": window().height}
    RESULT["regions"] = {
        "sidebar": rect(region(area("VIEW_3D"), "UI")),
        "properties": rect(region(area("PROPERTIES"), "WINDOW")),
        "viewport": rect(region(area("VIEW_3D"), "WINDOW")),
    }


def shot_taken(name: str) -> bool:
    return (SHOTS / f"{name}.png").is_file()


def runtime() -> Any:
    return bpy.context.window_manager.orbitfarm


def step(wait: float) -> Any:
    """Register a step that runs `wait` seconds after the previous one (time to redraw)."""
    def add(fn: Any) -> Any:
        STEPS.append((wait, fn))
        return fn
    return add


@step(2.0)
def show_panels() -> bool:
    area("PROPERTIES").spaces.active.context = "OUTPUT"
    if ARGS.get("baseline"):
        area("VIEW_3D").spaces.active.show_region_ui = True  # Blender's own sidebar tabs
    else:
        # What an artist does: Render › Orbit Dataset (orbitfarm), the menu entry's operator.
        entries = bpy.types.TOPBAR_MT_render._dyn_ui_initialize()
        RESULT["menu_entries"] = [f.__module__ for f in entries]
        with bpy.context.temp_override(window=window(), screen=window().screen):
            RESULT["show_panel"] = sorted(bpy.ops.orbitfarm.show_panel())
    redraw()
    return True


@step(1.5)
def screenshot_panel() -> bool:
    category = region(area("VIEW_3D"), "UI").active_panel_category
    # The operator switches tabs once the sidebar has drawn: on a loaded machine give it up to
    # 8 s (the test then fails on the category if it never switched).
    if not ARGS.get("baseline") and category != "orbitfarm":
        STATE.setdefault("panel_asked", time.monotonic())
        if time.monotonic() - STATE["panel_asked"] < 8:
            return False
    shot("01-panel", category=category)
    return True


@step(0.0)
def after_panel_shot() -> bool:
    if not shot_taken("01-panel"):
        return False
    if ARGS.get("baseline"):
        finish()
        return False
    s = bpy.context.scene.orbitfarm
    # The settings an artist would type for a quick look (then File › Save, as before Submit).
    s.frames, s.width, s.height, s.use_custom_samples, s.samples = 4, 64, 48, True, 4
    s.output_dir = ARGS["out"]
    bpy.ops.wm.save_mainfile()
    return True


@step(1.0)
def preview_orbit() -> bool:
    scene = bpy.context.scene
    before = {"camera": scene.camera.name if scene.camera else None, "frame_end": scene.frame_end}
    with bpy.context.temp_override(**sidebar_override()):
        done = bpy.ops.orbitfarm.preview_orbit("INVOKE_DEFAULT")
    # Look through the orbit camera, as an artist does (Numpad 0) to judge the framing.
    area("VIEW_3D").spaces.active.region_3d.view_perspective = "CAMERA"
    RESULT["preview"] = {"result": sorted(done), "before": before,
                         "camera": scene.camera.name if scene.camera else None,
                         "frame_end": scene.frame_end}
    redraw()
    return True


@step(1.5)
def screenshot_preview() -> bool:
    shot("02-preview")
    return True


@step(0.0)
def preflight() -> bool:
    if not shot_taken("02-preview"):
        return False
    with bpy.context.temp_override(**sidebar_override()):
        done = bpy.ops.orbitfarm.preflight("INVOKE_DEFAULT")
    RESULT["preflight"] = {"result": sorted(done)}
    redraw()
    return True


@step(1.5)
def screenshot_preflight() -> bool:
    rt = runtime()
    if rt.busy:  # preflight runs in the background from the UI; wait for its verdict
        return False
    RESULT["preflight"].update(done=bool(rt.preflight_done), error=rt.error,
                               problems=[p.message for p in rt.problems])
    shot("03-preflight")
    return True


@step(0.0)
def submit() -> bool:
    if not shot_taken("03-preflight"):
        return False
    # The preview made the file dirty; 'COPY' is what the dialog's "current state" choice runs.
    with bpy.context.temp_override(**sidebar_override()):
        done = bpy.ops.orbitfarm.submit("INVOKE_DEFAULT", dirty_policy="COPY")
    RESULT["submit"] = {"result": sorted(done)}
    STATE["submitted"] = time.monotonic()
    return True


@step(1.0)
def watch_jobs() -> bool:
    """Repeat until the jobs list shows the job finished (the panel's monitor refreshes it)."""
    rt = runtime()
    redraw()
    thumbnails = sys.modules[f"{MODULE}.operators.thumbnails"]
    rows = [{"id": j.job_id, "label": j.label, "state": j.state, "finished": bool(j.finished),
             "thumbnails": thumbnails.icons_for(j.path) is not None,
             "frames_done": j.frames_done, "frames_total": j.frames_total,
             "failed": j.failed_tasks, "detail": j.detail} for j in rt.jobs]
    RESULT["jobs"] = rows
    RESULT["submit"]["status"], RESULT["submit"]["error"] = rt.status, rt.error
    if rows and rows[0]["finished"] and (rows[0]["thumbnails"] or rows[0]["failed"]):
        rt.jobs_index = 0
        return True
    if rt.error and not rt.busy and not rows:
        raise RuntimeError(f"submit failed: {rt.error}")
    if time.monotonic() - STATE["submitted"] > ARGS["timeout"]:
        raise TimeoutError(f"job not finished after {ARGS['timeout']} s: {rows}")
    return False  # again in a second


@step(2.0)
def screenshot_finished() -> bool:
    shot("04-finished")
    return True


@step(0.0)
def after_finished_shot() -> bool:
    if not shot_taken("04-finished"):
        return False
    finish()
    return False


def finish() -> None:
    STATE["finished"] = True
    (SHOTS / "result.json").write_text(json.dumps(RESULT, indent=1))
    bpy.app.timers.register(lambda: os._exit(0), first_interval=0.2)


def tick() -> float | None:
    try:
        wait, fn = STEPS[STATE["index"]]
        if time.monotonic() - STATE["since"] < wait:
            return 0.1
        if fn():
            STATE["index"] += 1
            STATE["since"] = time.monotonic()
            return 0.1
        if STATE.get("finished"):
            return None
        return 1.0 if fn is watch_jobs else 0.2  # not yet: ask again
    except Exception:  # noqa: BLE001 - the test reads the traceback from result.json
        RESULT["errors"].append(traceback.format_exc())
        finish()
        return None


SHOTS.mkdir(parents=True, exist_ok=True)
bpy.app.timers.register(tick, first_interval=1.0, persistent=True)
