"""Submit operators: package and submit the open scene, or the batch list, as one job.

invoke() (the UI) runs packaging on a thread with a modal timer (Esc aborts); execute() runs
blocking for scripts and tests. The artist's file is never saved over without asking.
"""

# No `from __future__ import annotations`: Blender reads bpy.props annotations at register time.
# bpy.props annotations are calls by Blender's design, which mypy rejects as types:
# mypy: disable-error-code="valid-type"

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty
from bpy.types import Operator

from . import bridge, monitor, preflight_ops
from .background import BackgroundOperator, ProgressFn, run_blocking
from .bridge import OpResult

_POLICIES = [
    ("ASK", "Ask", "Ask when the file has unsaved changes (scripts: refuse)"),
    ("SAVED", "Saved Version", "Render the version on disk; unsaved changes are not rendered"),
    ("COPY", "Copy of Current State", "Render a copy of the current state; the open file is "
     "left as it is"),
    ("SAVE", "Save, Then Submit", "Save the open file (over itself), then render it"),
]


@dataclass
class Outcome:
    """What the submit thread hands back: the job (None: preflight refused) and the findings."""

    job: Any
    problems: list[Any]


def submit_work(request: Any) -> Any:
    """The thread side: preflight (shown in the panel), then jobs.submit (no bpy)."""
    def run(progress: ProgressFn, cancel: threading.Event) -> Outcome:
        from ..submitter import jobs
        from ..submitter.jobs import preflight

        progress("Preflight…", 0.0)
        report = preflight.check(list(request.files))
        if not report.ok and not request.allow_missing:
            return Outcome(None, report.problems)
        # The report goes along: submit traces each .blend once, here, not again.
        request.preflight = report
        return Outcome(jobs.submit(request, progress=progress, cancel=cancel), report.problems)

    return run


class SubmitBase(BackgroundOperator):
    """Shared by the scene and batch submit operators."""

    background: BoolProperty(options={"HIDDEN", "SKIP_SAVE"}, default=False)
    marks_batch = False  # batch submit shows each file's preflight result in the list

    def request(self, context: bpy.types.Context) -> Any:
        raise NotImplementedError

    def execute(self, context: bpy.types.Context) -> OpResult:
        if self.refuse_if_busy(context):
            return {"CANCELLED"}
        try:
            request = self.request(context)
        except bridge.user_errors() as exc:
            bridge.runtime(context).error = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if self.background and context.window is not None:
            return self.start_background(context, submit_work(request), "Packaging…")
        ok, outcome = run_blocking(self, context, submit_work(request))
        return self.on_done(context, outcome) if ok else {"CANCELLED"}

    def on_done(self, context: bpy.types.Context, outcome: Outcome) -> OpResult:
        runtime = bridge.runtime(context)
        preflight_ops.fill_problems(context, outcome.problems)
        if self.marks_batch:
            preflight_ops.mark_batch(bridge.scene_settings(context), outcome.problems)
        job = outcome.job
        if job is None:
            errors = [p for p in outcome.problems if p.severity == preflight_ops.ERROR]
            runtime.error = (f"Nothing was submitted: preflight found {len(errors)} error(s), "
                             f"listed below; first: {errors[0].message}")
            self.report({"ERROR"}, runtime.error)
            return {"CANCELLED"}
        monitor.add_job(context, job, from_session=True)
        runtime.status, runtime.progress = f"Submitted job {job.id}", 1.0
        self.report({"INFO"}, f"orbitfarm: submitted job {job.id} ({job.path})")
        monitor.start()
        return {"FINISHED"}


class ORBITFARM_OT_submit(SubmitBase, Operator):
    """Package the saved scene and submit it to the chosen target"""

    bl_idname = "orbitfarm.submit"
    bl_label = "Submit"

    dirty_policy: EnumProperty(name="Unsaved Changes", items=_POLICIES, default="ASK")

    def blend_to_submit(self) -> str:
        """The .blend the job renders, following dirty_policy; UIError when it must ask."""
        state = bridge.file_state()
        policy = self.dirty_policy
        if state == "saved":
            return bpy.data.filepath
        if policy == "COPY":
            return bridge.save_copy_for_job()
        if state == "unsaved":
            raise bridge.UIError("the file has never been saved: save it (File › Save As), or "
                                 "submit with dirty_policy='COPY' to render a copy of it")
        if policy == "SAVED":
            return bpy.data.filepath
        if policy == "SAVE":
            bpy.ops.wm.save_mainfile()
            return bpy.data.filepath
        raise bridge.UIError(f"{Path(bpy.data.filepath).name} has unsaved changes: save it first, "
                             "or submit with dirty_policy='SAVED' (version on disk) or 'COPY' "
                             "(a copy of the current state)")

    def request(self, context: bpy.types.Context) -> Any:
        blend = self.blend_to_submit()
        # The output folder follows the artist's file, not the temp copy.
        return bridge.build_request(context, [blend], blend_path=bpy.data.filepath)

    def invoke(self, context: bpy.types.Context, event: Any) -> OpResult:
        self.background = True
        state = bridge.file_state()
        if state == "saved" or self.dirty_policy != "ASK":
            return self.execute(context)
        self.dirty_policy = "COPY" if state == "unsaved" else "SAVED"
        return bridge.window_manager(context).invoke_props_dialog(self, width=420)

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        if bridge.file_state() == "unsaved":
            layout.label(text="This file has never been saved.", icon="ERROR")
            layout.label(text="orbitfarm will render a copy of its current state.")
            return
        layout.label(text="This file has unsaved changes. What should be rendered?", icon="ERROR")
        layout.prop(self, "dirty_policy", expand=True)


class ORBITFARM_OT_batch_submit(SubmitBase, Operator):
    """Submit every file of the batch list as one job with this scene's settings"""

    bl_idname = "orbitfarm.batch_submit"
    bl_label = "Submit Batch"
    marks_batch = True

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return len(bridge.scene_settings(context).batch_files) > 0

    def request(self, context: bpy.types.Context) -> Any:
        files = [bpy.path.abspath(f.path) for f in bridge.scene_settings(context).batch_files]
        if not files:
            raise bridge.UIError("the batch list is empty: add .blend files or a folder first")
        return bridge.build_request(context, files, blend_path=bpy.data.filepath or files[0])

    def invoke(self, context: bpy.types.Context, event: Any) -> OpResult:
        self.background = True
        return self.execute(context)


classes = (ORBITFARM_OT_submit, ORBITFARM_OT_batch_submit)
