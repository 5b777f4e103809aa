"""Preflight operators: check the open scene or the batch files before submitting."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import bpy
from bpy.types import Operator

from . import bridge
from .background import BackgroundOperator, ProgressFn, run_blocking
from .bridge import OpResult

ERROR, WARNING = "error", "warning"


def _problem(severity: str, subject: str, message: str, hint: str) -> Any:
    from ..submitter.jobs.preflight import Problem

    return Problem(severity, subject, message, hint)


def scene_problems(context: bpy.types.Context) -> list[Any]:
    """What only the open Blender knows: unsaved changes and animation in the open scene."""
    from ..worker.animation import detect_animation

    name = Path(bpy.data.filepath).name or "untitled"
    found = []
    state = bridge.file_state()
    if state == "unsaved":
        found.append(_problem(WARNING, name, "the file has never been saved",
                              "Submit will offer to render a copy of the current state; "
                              "or save it first (File › Save As)"))
    elif state == "dirty":
        found.append(_problem(WARNING, name, "the file has unsaved changes",
                              "save it (Ctrl S) to render them; Submit asks whether to render the "
                              "saved version or a copy of the current state"))
    evidence = detect_animation(context.scene, budget=5.0).evidence  # the UI waits on it
    if evidence:
        found.append(_problem(WARNING, name, "the subject is animated and would be skipped: "
                              + "; ".join(evidence[:3]),
                              "orbit datasets need a static subject: apply or remove the animation"))
    return found


def target_problems(settings: Any, target_name: str, profile: dict) -> list[Any]:
    """Engine/target mismatches and a missing local Blender, known without the network."""
    found = []
    blender = profile.get("blender") if profile.get("kind", "local") == "local" else None
    if blender and not (os.path.isfile(blender) and os.access(blender, os.X_OK)):
        found.append(_problem(ERROR, target_name, f"Blender for local jobs not found: {blender}",
                              "fix 'Blender for Local Jobs' in the orbitfarm preferences (empty: "
                              "this Blender) or the target profile"))
    if settings.engine == "eevee" and profile.get("kind", "local") != "local":
        found.append(_problem(WARNING, target_name, "EEVEE on a headless cluster target",
                              "EEVEE needs a GPU with EGL on every node; choose Cycles (or "
                              "Workbench) unless your nodes are set up for it"))
    return found


def reachability(target_name: str, profile: dict) -> list[Any]:
    """Ask the target whether it can accept work now (may talk to the network: thread-safe)."""
    from ..submitter.targets import make_target
    from ..submitter.targets.base import TargetError

    try:
        make_target(profile).check()
    except TargetError as exc:
        return [_problem(ERROR, target_name, f"target unreachable: {exc}",
                         "fix the profile in the orbitfarm preferences (targets.yaml) or pick "
                         "another target")]
    return []


def fill_problems(context: bpy.types.Context, problems: list[Any]) -> bool:
    """Show these problems in the panel; return True when none is an error."""
    runtime = bridge.runtime(context)
    runtime.problems.clear()
    for p in problems:
        item = runtime.problems.add()
        item.severity, item.subject, item.message, item.hint = (
            p.severity, p.subject, p.message, p.hint)
    runtime.preflight_done = True
    runtime.preflight_ok = not any(p.severity == ERROR for p in problems)
    return runtime.preflight_ok


def mark_batch(settings: Any, problems: list[Any]) -> None:
    """Give each batch file the status of its own problems (OK when it has none)."""
    for item in settings.batch_files:
        path = bpy.path.abspath(item.path)
        mine = [p for p in problems if p.subject in (path, str(Path(path).resolve()))]
        if any(p.severity == ERROR for p in mine):
            item.status = "ERROR"
        elif mine:
            item.status = "WARNING"
        else:
            item.status = "OK"
        item.message = "; ".join(p.message for p in mine)[:1000]


class PreflightBase(BackgroundOperator):
    """Collects main-thread checks, then runs file tracing and the target check on a thread."""

    def collect(self, context: bpy.types.Context) -> tuple[list[str], list[Any]]:
        """(files to trace, problems found on the main thread)."""
        raise NotImplementedError

    def work(self, context: bpy.types.Context) -> Any:
        files, early = self.collect(context)
        props = bridge.scene_settings(context)
        settings = bridge.settings_from_props(props)
        name = props.target or "local"
        profile = dict(bridge.target_profile(name))
        if profile.get("kind", "local") == "local":
            profile.update(bridge.local_runtime_options(bridge.addon_prefs(context), profile))
        early = early + target_problems(settings, name, profile)
        online = not bridge.profile_needs_network(profile) or bpy.app.online_access

        def run(progress: ProgressFn, cancel: threading.Event) -> Any:
            from ..submitter.jobs import preflight

            progress("Checking files…", 0.1)
            report = preflight.check(files)
            problems = list(early) + list(report.problems)
            if online:
                progress("Checking the target…", 0.8)
                problems += reachability(name, profile)
            else:
                problems.append(_problem(WARNING, name, "target not checked: Blender's online "
                                         "access is disabled", bridge.ONLINE_HINT))
            return files, problems

        return run

    def on_done(self, context: bpy.types.Context, result: Any) -> OpResult:
        files, problems = result
        ok = fill_problems(context, problems)
        self.apply_to_batch(context, problems)
        errors = sum(p.severity == ERROR for p in problems)
        text = (f"Preflight: {errors} error(s), {len(problems) - errors} warning(s)"
                if problems else "Preflight: no problems found")
        # The panel lists the result under the buttons; a status line would say it twice.
        bridge.runtime(context).status = ""
        self.report({"INFO"} if ok else {"WARNING"}, text)
        return {"FINISHED"}

    def apply_to_batch(self, context: bpy.types.Context, problems: list[Any]) -> None:
        """Batch preflight marks each file; the scene preflight has nothing to mark."""

    def prepare(self, context: bpy.types.Context) -> Any:
        """The work to run, or None after reporting why there is none."""
        if self.refuse_if_busy(context):
            return None
        try:
            return self.work(context)
        except bridge.user_errors() as exc:
            self.report({"ERROR"}, str(exc))
            return None

    def execute(self, context: bpy.types.Context) -> OpResult:
        run = self.prepare(context)
        if run is None:
            return {"CANCELLED"}
        ok, result = run_blocking(self, context, run)
        return self.on_done(context, result) if ok else {"CANCELLED"}

    def invoke(self, context: bpy.types.Context, event: Any) -> OpResult:
        run = self.prepare(context)
        if run is None:
            return {"CANCELLED"}
        return self.start_background(context, run, "Preflight…")


class ORBITFARM_OT_preflight(PreflightBase, Operator):
    """Check the open scene for problems before submitting (textures, animation, target)"""

    bl_idname = "orbitfarm.preflight"
    bl_label = "Preflight"

    def collect(self, context: bpy.types.Context) -> tuple[list[str], list[Any]]:
        problems = scene_problems(context)
        if bridge.file_state() == "saved":
            return [bpy.data.filepath], problems
        # Check what Submit would render: a copy of the current state.
        return [bridge.save_copy_for_job()], problems


class ORBITFARM_OT_batch_preflight(PreflightBase, Operator):
    """Check every file of the batch list (dependencies, readability, target)"""

    bl_idname = "orbitfarm.batch_preflight"
    bl_label = "Preflight Batch"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return len(bridge.scene_settings(context).batch_files) > 0

    def collect(self, context: bpy.types.Context) -> tuple[list[str], list[Any]]:
        files = [bpy.path.abspath(f.path) for f in bridge.scene_settings(context).batch_files]
        return files, []

    def apply_to_batch(self, context: bpy.types.Context, problems: list[Any]) -> None:
        mark_batch(bridge.scene_settings(context), problems)


classes = (ORBITFARM_OT_preflight, ORBITFARM_OT_batch_preflight)
