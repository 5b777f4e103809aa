"""UILists: the batch files and the jobs list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
from bpy.types import UIList

_STATUS_ICON = {"UNCHECKED": "DOT", "OK": "CHECKMARK", "WARNING": "ERROR", "ERROR": "CANCEL"}


class ORBITFARM_UL_batch_files(UIList):
    """Batch .blend files with their preflight status."""

    def draw_item(self, context: bpy.types.Context, layout: Any, data: Any, item: Any,
                  icon: int | None, active_data: Any, active_property: str | None,
                  index: int | None = 0, flt_flag: int | None = 0) -> None:
        row = layout.row(align=True)
        row.label(text=Path(item.path).name or "(no file)", icon=_STATUS_ICON[item.status])
        sub = row.row()
        sub.alignment = "RIGHT"
        sub.label(text=str(Path(item.path).parent.name))


class ORBITFARM_UL_jobs(UIList):
    """Jobs with live progress (frames done/total, failed tasks)."""

    def draw_item(self, context: bpy.types.Context, layout: Any, data: Any, item: Any,
                  icon: int | None, active_data: Any, active_property: str | None,
                  index: int | None = 0, flt_flag: int | None = 0) -> None:
        icon_name = "CHECKMARK" if item.finished and not item.failed_tasks else (
            "ERROR" if item.failed_tasks else "RENDER_ANIMATION")
        row = layout.row(align=True)
        # What the job renders (subjects, frames, target); the id is in the details below.
        row.label(text=item.label or item.job_id, icon=icon_name)
        progress = f"{item.frames_done}/{item.frames_total}" if item.frames_total else item.state
        if item.failed_tasks:
            progress += f" ({item.failed_tasks} failed)"
        sub = row.row()
        sub.alignment = "RIGHT"
        sub.label(text=progress)


classes = (ORBITFARM_UL_batch_files, ORBITFARM_UL_jobs)
