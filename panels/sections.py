"""Draw functions shared by the Properties › Output panels and the 3D Viewport sidebar tab.

Drawing only: every value comes from the scene settings, the WindowManager runtime state or
the preferences; every button is an orbitfarm operator.
"""

from __future__ import annotations

from typing import Any

import bpy

from ..operators import bridge

_SEVERITY_ICON = {"error": "CANCEL", "warning": "ERROR"}


def draw_orbit(context: bpy.types.Context, layout: Any) -> None:
    """Orbit: frames, radius, elevation, resolution, engine, samples, device; preview."""
    s = bridge.scene_settings(context)
    layout.use_property_split = True
    layout.use_property_decorate = False
    col = layout.column()
    col.prop(s, "frames")
    # The syntax is not guessable: show it where the artist types (empty = all frames).
    col.prop(s, "frame_range", placeholder="e.g. 1-10,20,30-90x5")
    row = col.row()
    row.prop(s, "radius_mode", expand=True)
    if s.radius_mode == "FIXED":
        col.prop(s, "radius")
    else:
        col.prop(s, "margin_percent")
    col.prop(s, "elevation_angle")
    draw_views(s, col)
    sub = col.column(align=True)
    sub.prop(s, "width", text="Resolution X")
    sub.prop(s, "height", text="Y")
    col.prop(s, "engine")
    row = col.row(heading="Samples")
    row.prop(s, "use_custom_samples", text="")
    sub = row.row()
    sub.active = s.use_custom_samples
    sub.prop(s, "samples", text="")
    col.prop(s, "device")
    row = layout.row(align=True)
    row.operator("orbitfarm.preview_orbit", icon="CAMERA_DATA")
    row.operator("orbitfarm.remove_preview", icon="X", text="")
    layout.operator("orbitfarm.reset_settings", icon="LOOP_BACK")


def draw_views(s: Any, col: Any) -> None:
    """View layout: rings, sphere or random views; field of view or orthographic."""
    col.prop(s, "layout")
    if s.layout == "ring":
        col.prop(s, "elevations", placeholder="e.g. -15,0,30")
    if s.layout == "sphere":
        col.prop(s, "sampling")
    if s.layout in ("sphere", "random"):
        col.prop(s, "hemisphere")
    if s.layout == "random":
        col.prop(s, "seed")
        sub = col.column(align=True)
        sub.prop(s, "radius_min")
        sub.prop(s, "radius_max")
    col.prop(s, "ortho")
    row = col.row(heading="Field of View")
    row.active = not s.ortho
    row.prop(s, "use_fov", text="")
    sub = row.row()
    sub.active = s.use_fov and not s.ortho
    sub.prop(s, "fov", text="")


def draw_outputs(context: bpy.types.Context, layout: Any) -> None:
    """Outputs: RGB PNG, depth EXR, camera poses, transparency, formats, output folder."""
    s = bridge.scene_settings(context)
    layout.use_property_split = True
    layout.use_property_decorate = False
    col = layout.column(heading="Write")
    col.prop(s, "rgb")
    col.prop(s, "depth")
    col.prop(s, "poses")
    col.prop(s, "transparent")
    layout.prop(s, "normalize")
    col = layout.column(heading="Formats")
    col.prop(s, "formats")
    sub = col.row()
    sub.active = "nerf-synthetic" in s.formats
    sub.prop(s, "holdout")
    draw_looks(s, layout)
    layout.prop(s, "output_dir")


def draw_looks(s: Any, layout: Any) -> None:
    """Lighting, background, passes and the turntable video."""
    col = layout.column(heading="Light")
    col.prop(s, "lighting")
    if s.lighting == "hdri":
        col.prop(s, "hdri_path")
    col.prop(s, "light_strength")
    col.prop(s, "background")
    if s.background == "colour":
        col.prop(s, "background_colour")
    col.prop(s, "passes")
    col.prop(s, "video")


def draw_status(context: bpy.types.Context, layout: Any) -> None:
    """Background progress, last status line and last error."""
    runtime = bridge.runtime(context)
    if runtime.busy:
        if hasattr(layout, "progress"):
            layout.progress(factor=runtime.progress, type="BAR",
                            text=runtime.status or "Working…")
        else:
            layout.label(text=f"{runtime.status} ({runtime.progress:.0%})")
        layout.label(text="Esc aborts", icon="INFO")
    elif runtime.status:
        for i, line in enumerate(_wrap(runtime.status, chars_per_line(context))):
            layout.label(text=line, icon="INFO" if i == 0 else "BLANK1")
    if runtime.error:
        box = layout.box()
        for i, line in enumerate(_wrap(runtime.error, chars_per_line(context))):
            box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")


def draw_preflight(context: bpy.types.Context, layout: Any) -> None:
    """Preflight results: each problem with what to do about it."""
    runtime = bridge.runtime(context)
    if not runtime.preflight_done:
        layout.label(text="Not checked yet", icon="QUESTION")
        return
    if not runtime.problems:
        layout.label(text="No problems found", icon="CHECKMARK")
        return
    for problem in runtime.problems:
        box = layout.box()
        col = box.column(align=True)
        col.label(text=problem.message, icon=_SEVERITY_ICON.get(problem.severity, "INFO"))
        if problem.hint:
            for line in _wrap(problem.hint, chars_per_line(context) - 4):
                col.label(text=line, icon="BLANK1")


def draw_target(context: bpy.types.Context, layout: Any) -> None:
    """Target profile, preflight and submit."""
    s = bridge.scene_settings(context)
    runtime = bridge.runtime(context)
    layout.use_property_split = True
    layout.use_property_decorate = False
    layout.prop(s, "target")
    if not bpy.app.online_access:
        layout.label(text="Online access is off: only local targets", icon="INTERNET_OFFLINE")
    row = layout.row(align=True)
    row.enabled = not runtime.busy
    row.operator("orbitfarm.preflight", icon="VIEWZOOM")
    row.operator("orbitfarm.submit", icon="EXPORT")
    draw_status(context, layout)
    draw_preflight(context, layout)


def draw_jobs(context: bpy.types.Context, layout: Any) -> None:
    """Jobs list with live progress and the actions on the selected job."""
    runtime = bridge.runtime(context)
    row = layout.row()
    row.template_list("ORBITFARM_UL_jobs", "", runtime, "jobs", runtime, "jobs_index", rows=3)
    row.operator("orbitfarm.refresh_jobs", icon="FILE_REFRESH", text="")
    if not 0 <= runtime.jobs_index < len(runtime.jobs):
        return
    job = runtime.jobs[runtime.jobs_index]
    width = chars_per_line(context)
    col = layout.column(align=True)
    for i, line in enumerate(_wrap(job.label or job.job_id, width)):
        col.label(text=line, icon="RENDER_ANIMATION" if i == 0 else "BLANK1")
    col.label(text=f"{job.state} on {job.target or '?'}")
    col.label(text=f"job {job.job_id}")
    if job.frames_total:
        text = f"{job.frames_done}/{job.frames_total} frames"
        if hasattr(col, "progress"):
            col.progress(factor=job.frames_done / job.frames_total, type="BAR", text=text)
        else:
            col.label(text=text)
    if job.failed_tasks:
        col.label(text=f"{job.failed_tasks} failed task(s)", icon="ERROR")
    if job.warnings:
        # Short: the sidebar cuts long labels; the details are in each subject's result.json.
        col.label(text=f"{job.warnings} warning(s), see result.json", icon="ERROR")
    for line in _wrap(job.detail, width):
        col.label(text=line)
    draw_thumbnails(layout, job)
    # Short button texts: two columns of a narrow sidebar cut long ones off.
    grid = layout.grid_flow(columns=2, align=True)
    grid.operator("orbitfarm.open_output", icon="FILE_FOLDER", text="Folder")
    cell = grid.row(align=True)
    cell.enabled = job.frames_done > 0  # the sheet needs finished frames
    cell.operator("orbitfarm.contact_sheet", icon="IMAGE_DATA", text="Sheet")
    cell = grid.row(align=True)
    cell.enabled = job.failed_tasks > 0 or (job.finished and job.frames_done < job.frames_total)
    cell.operator("orbitfarm.retry_job", icon="FILE_REFRESH", text="Retry")
    cell = grid.row(align=True)
    cell.enabled = not job.finished
    cell.operator("orbitfarm.cancel_job", icon="CANCEL", text="Cancel")


def draw_thumbnails(layout: Any, job: Any) -> None:
    """RGB and colour-mapped depth of a finished job's front view, side by side."""
    from ..operators import thumbnails

    icons = thumbnails.icons_for(job.path)
    if icons is None:
        return
    row = layout.row(align=True)
    for icon_id in icons:
        row.template_icon(icon_value=icon_id, scale=5.0)


def draw_batch(context: bpy.types.Context, layout: Any) -> None:
    """Batch list of .blend files submitted as one job with this scene's settings."""
    s = bridge.scene_settings(context)
    runtime = bridge.runtime(context)
    row = layout.row()
    row.template_list("ORBITFARM_UL_batch_files", "", s, "batch_files", s, "batch_index", rows=4)
    col = row.column(align=True)
    col.operator("orbitfarm.batch_add_files", icon="ADD", text="")
    col.operator("orbitfarm.batch_add_folder", icon="FILE_FOLDER", text="")
    col.operator("orbitfarm.batch_remove", icon="REMOVE", text="")
    col.separator()
    col.operator("orbitfarm.batch_clear", icon="X", text="")
    if 0 <= s.batch_index < len(s.batch_files):
        item = s.batch_files[s.batch_index]
        for line in _wrap(item.message, chars_per_line(context)):
            layout.label(text=line)
    row = layout.row(align=True)
    row.enabled = not runtime.busy
    row.operator("orbitfarm.batch_preflight", icon="VIEWZOOM")
    row.operator("orbitfarm.batch_submit", icon="EXPORT")


def draw_preferences(prefs: Any, context: bpy.types.Context, layout: Any) -> None:
    """Preferences: output root, local Blender, target profiles (the CLI's targets.yaml)."""
    from ..operators import profiles_ops

    layout.prop(prefs, "output_root")
    layout.prop(prefs, "blender_executable")
    box = layout.box()
    box.label(text=f"Target profiles: {profiles_ops.profiles_file()}", icon="NETWORK_DRIVE")
    try:
        found = bridge.load_profiles()
    except bridge.user_errors() as exc:
        for i, line in enumerate(_wrap(str(exc), 70)):
            box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
        found = {}
    for name, profile in sorted(found.items()):
        box.label(text=f"{name}: {profile.get('kind', 'local')}", icon="DOT")
    row = box.row(align=True)
    row.operator("orbitfarm.edit_profiles", icon="TEXT")
    row.operator("orbitfarm.save_profiles", icon="FILE_TICK")
    if not bpy.app.online_access:
        layout.label(text="Cluster targets need Preferences › System › Network › "
                     "Allow Online Access", icon="INTERNET_OFFLINE")


def chars_per_line(context: bpy.types.Context) -> int:
    """About how many characters of label text fit the panel's width (labels do not wrap)."""
    region = getattr(context, "region", None)
    width = region.width if region is not None and region.width > 1 else 300
    scale = (context.preferences.system.ui_scale if context.preferences else 0.0) or 1.0
    # ~7 px per character of Blender's UI font at scale 1, less the panel's margins and icon.
    return max(20, int((width - 50 * scale) / (7.0 * scale)))


def _wrap(text: str, width: int) -> list[str]:
    """Split a message into label-sized lines (labels do not wrap); keeps its line breaks."""
    lines: list[str] = []
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split():
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            lines.append(line)
    return lines
