"""Jobs list actions: refresh, open output folder, retry, cancel, contact sheet."""

# No `from __future__ import annotations`: Blender reads bpy.props annotations at register time.
# bpy.props annotations are calls by Blender's design, which mypy rejects as types:
# mypy: disable-error-code="valid-type"

from pathlib import Path
from typing import Any

import bpy
from bpy.props import IntProperty
from bpy.types import Operator

from . import bridge, monitor
from .bridge import OpResult


class JobAction(bridge.OperatorMixin):
    """Operators acting on one row of the jobs list (index -1: the active row)."""

    index: IntProperty(name="Job", default=-1, options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return len(bridge.runtime(context).jobs) > 0

    def row(self, context: bpy.types.Context) -> Any:
        runtime = bridge.runtime(context)
        index = runtime.jobs_index if self.index < 0 else self.index
        if not 0 <= index < len(runtime.jobs):
            raise bridge.UIError("select a job in the jobs list first")
        return runtime.jobs[index]

    def open(self, context: bpy.types.Context) -> tuple[Any, Any]:
        """(row, JobDir) of the chosen job; UIError if its folder is gone."""
        from ..submitter import jobs

        item = self.row(context)
        return item, jobs.open_job(item.path)

    def execute(self, context: bpy.types.Context) -> OpResult:
        try:
            return self.act(context)
        except bridge.user_errors() as exc:
            self.report({"ERROR"}, str(exc))
            bridge.runtime(context).error = str(exc)
            return {"CANCELLED"}

    def act(self, context: bpy.types.Context) -> OpResult:
        raise NotImplementedError

    def require_online(self, job: Any, what: str) -> None:
        """Retry/cancel on a cluster talk to it: respect Blender's online access."""
        bridge.require_online(what, job.spec.target, job.spec.notify)


class ORBITFARM_OT_refresh_jobs(Operator):
    """Reload the jobs list (this session's and recent jobs) and their progress"""

    bl_idname = "orbitfarm.refresh_jobs"
    bl_label = "Refresh Jobs"

    def execute(self, context: bpy.types.Context) -> OpResult:
        try:
            monitor.refresh_blocking(context)
        except bridge.user_errors() as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}

    def invoke(self, context: bpy.types.Context, event: Any) -> OpResult:
        # The UI only loads the list here; statuses (maybe a cluster) are polled on a thread.
        try:
            monitor.load_list(context)
        except bridge.user_errors() as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        monitor.start()
        monitor.poll_now(bridge.runtime(context), only_unfinished=False)
        return {"FINISHED"}


class ORBITFARM_OT_open_output(JobAction, Operator):
    """Open the job's output folder in the file browser of the system"""

    bl_idname = "orbitfarm.open_output"
    bl_label = "Open Output Folder"

    def act(self, context: bpy.types.Context) -> OpResult:
        from ..submitter import jobs

        _, job = self.open(context)
        folders = [jobs.outputs_dir(job, s.name) for s in job.plan.subjects]
        folder = Path(folders[0]).parent if len(folders) != 1 else Path(folders[0])
        if not folder.is_dir():
            raise bridge.UIError(f"{folder} does not exist yet: no frame has been written")
        bpy.ops.wm.path_open(filepath=str(folder))
        return {"FINISHED"}


class ORBITFARM_OT_retry_job(JobAction, Operator):
    """Re-run the job's failed and lost tasks (finished frames are kept)"""

    bl_idname = "orbitfarm.retry_job"
    bl_label = "Retry"

    def act(self, context: bpy.types.Context) -> OpResult:
        from ..submitter import jobs

        item, job = self.open(context)
        self.require_online(job, "retrying on this target")
        retried = jobs.retry(job)
        item.finished = False
        monitor.start()
        self.report({"INFO"}, f"Job {item.job_id}: {len(retried)} task(s) resubmitted"
                    if retried else f"Job {item.job_id}: nothing to retry")
        return {"FINISHED"}


class ORBITFARM_OT_cancel_job(JobAction, Operator):
    """Cancel the job's queued and running tasks"""

    bl_idname = "orbitfarm.cancel_job"
    bl_label = "Cancel Job"

    def act(self, context: bpy.types.Context) -> OpResult:
        from ..submitter import jobs

        item, job = self.open(context)
        self.require_online(job, "cancelling on this target")
        jobs.cancel(job)
        monitor.apply(item, monitor.summarize(item.path))
        self.report({"INFO"}, f"Job {item.job_id} cancelled")
        return {"FINISHED"}

    def invoke(self, context: bpy.types.Context, event: Any) -> OpResult:
        return bridge.window_manager(context).invoke_confirm(self, event)


class ORBITFARM_OT_contact_sheet(JobAction, Operator):
    """Show thumbnails of the job's finished frames (RGB and colour-mapped depth)"""

    bl_idname = "orbitfarm.contact_sheet"
    bl_label = "Contact Sheet"

    def act(self, context: bpy.types.Context) -> OpResult:
        from ..submitter import jobs

        try:
            from . import contact_sheet
        except ImportError as exc:  # Blender builds without numpy (Debian's): say so, no traceback
            raise bridge.UIError(f"the contact sheet needs {exc.name or 'numpy'}, which this "
                                 "Blender build lacks; the panel's thumbnails still work") from None
        item, job = self.open(context)
        subject_dirs = [Path(jobs.outputs_dir(job, s.name)) for s in job.plan.subjects]
        sheet = contact_sheet.build_sheet(subject_dirs)
        if sheet is None:
            raise bridge.UIError(f"job {item.job_id} has no finished frames yet")
        image = contact_sheet.sheet_image(f"orbitfarm sheet {item.job_id}", sheet)
        if contact_sheet.show_image(context, image):
            self.report({"INFO"}, f"Contact sheet shown in the Image Editor: {image.name}")
        else:
            self.report({"INFO"}, f"Contact sheet ready: open image '{image.name}' in an "
                        "Image Editor")
        return {"FINISHED"}


classes = (
    ORBITFARM_OT_refresh_jobs,
    ORBITFARM_OT_open_output,
    ORBITFARM_OT_retry_job,
    ORBITFARM_OT_cancel_job,
    ORBITFARM_OT_contact_sheet,
)
