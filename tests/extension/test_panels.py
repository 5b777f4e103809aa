"""Every panel's draw() against a recording stand-in for `layout` (no UI in background mode)."""

from __future__ import annotations

from typing import Any

from in_blender import MODULE, bpy, install, registered_names


def test_every_panel_draws_real_properties_and_registered_operators(scenario):
    result = scenario(draw_panels, process_timeout=180)
    assert result["full"] >= 13  # 10 panels + 2 lists + preferences
    assert "orbitfarm.submit" in result["operators"]


# Blender side (runs in a fresh bpy process, see in_blender.py)

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
    job.warnings = 2
    problem = wm.problems.add()
    problem.severity, problem.message, problem.hint = "error", "missing t.png", "restore it"
    wm.preflight_done, wm.busy, wm.progress, wm.status = True, True, 0.4, "Packaging"
    wm.error = "something went wrong " * 8
    full = draw_everything(log)
    for layout in ("sphere", "random"):  # each view layout draws its own fields
        s.layout, s.ortho = layout, layout == "random"
        draw_everything(log)
    view_props = {"layout", "elevations", "sampling", "hemisphere", "seed", "radius_min",
                  "radius_max", "ortho", "use_fov", "fov"}
    assert {f"ORBITFARM_PG_settings.{p}" for p in view_props} <= log["props"]

    panels = [n for n in full if n.startswith("ORBITFARM_PT_")]
    assert len(panels) == 10, panels
    assert {"ORBITFARM_UL_batch_files", "ORBITFARM_UL_jobs"} <= set(full)
    # Every operator the extension registers is reachable from some panel.
    registered_ops = {f"orbitfarm.{n[len('ORBITFARM_OT_'):]}" for n in registered_names()
                      if n.startswith("ORBITFARM_OT_")}
    # ... or from a menu: Render › Orbit Dataset opens the panel itself.
    menu_funcs = bpy.types.TOPBAR_MT_render._dyn_ui_initialize()
    assert any(f.__module__ == f"{MODULE}.operators.show_panel_ops" for f in menu_funcs)
    menu_ops = {"orbitfarm.show_panel"}
    assert registered_ops - menu_ops <= log["operators"], registered_ops - log["operators"]
    return {"empty": len(empty), "full": len(full), "props": len(log["props"]),
            "operators": sorted(log["operators"])}
