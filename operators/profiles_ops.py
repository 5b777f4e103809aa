"""Edit the CLI's target profiles (targets.yaml) from the preferences, validated before saving."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import bpy
from bpy.types import Operator

from . import bridge
from .bridge import OpResult

TEXT_NAME = "orbitfarm targets.yaml"

TEMPLATE = """\
# orbitfarm target profiles: the same file `orbitfarm submit --target NAME` reads.
# The profile "local" (this machine) always exists.
# default: local
targets:
  # cluster:
  #   kind: slurm
  #   partition: gpu
  # raycluster:
  #   kind: ray
  #   address: http://ray-head:8265
  # k8s:
  #   kind: kubernetes
  #   image: registry.example.org/blender:4.5
  #   volume: {claim: shared-renders, path: /shared}
  # farm:
  #   kind: command
  #   submit: "farm submit --log {log} -- bash {script}"
  #   status: "farm status {native_ids}"
  #   cancel: "farm kill {native_ids}"
  # aws:
  #   kind: deadline-cloud
  #   farm_id: farm-0123456789abcdef0123456789abcdef
  #   queue_id: queue-0123456789abcdef0123456789abcdef
  # studio:
  #   kind: accsyn
  #   app: orbitfarm
"""


def profiles_file() -> Path:
    from ..submitter.targets.profiles import user_config_file

    return user_config_file()


def validate_text(text: str) -> None:
    """Raise the CLI's own error when this YAML would not load as target profiles."""
    from ..submitter.targets import profiles

    with tempfile.TemporaryDirectory(prefix="orbitfarm-profiles-") as tmp:
        probe = Path(tmp) / "targets.yaml"
        probe.write_text(text, encoding="utf-8")
        try:
            profiles.load_profiles(config=str(probe), cwd=tmp)
        except profiles.TargetError as exc:
            # Name the real file, on one line (YAML errors span several).
            message = " ".join(str(exc).replace(str(probe), str(profiles_file())).split())
            raise profiles.TargetError(message) from None


class ORBITFARM_OT_edit_profiles(Operator):
    """Open targets.yaml in a Text Editor block (a template when it does not exist yet)"""

    bl_idname = "orbitfarm.edit_profiles"
    bl_label = "Edit Target Profiles"

    def execute(self, context: bpy.types.Context) -> OpResult:
        path = profiles_file()
        text = path.read_text(encoding="utf-8") if path.is_file() else TEMPLATE
        block = bpy.data.texts.get(TEXT_NAME) or bpy.data.texts.new(TEXT_NAME)
        block.from_string(text)
        shown = False
        screen: Any = getattr(context, "screen", None)
        for area in (screen.areas if screen else []):
            if area.type == "TEXT_EDITOR":
                space: Any = area.spaces.active
                space.text = block
                shown = True
        self.report({"INFO"}, f"Editing {path} as text '{TEXT_NAME}'"
                    + ("" if shown else " (open it in a Text Editor)")
                    + "; then click Save Target Profiles")
        return {"FINISHED"}


class ORBITFARM_OT_save_profiles(Operator):
    """Check the edited profiles and write them to targets.yaml (used by the CLI too)"""

    bl_idname = "orbitfarm.save_profiles"
    bl_label = "Save Target Profiles"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return TEXT_NAME in bpy.data.texts

    def execute(self, context: bpy.types.Context) -> OpResult:
        from ..submitter.files.atomic import atomic_write_text

        text = bpy.data.texts[TEXT_NAME].as_string()
        try:
            validate_text(text)
        except bridge.user_errors() as exc:
            self.report({"ERROR"}, f"not saved: {exc}")
            return {"CANCELLED"}
        path = profiles_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        self.report({"INFO"}, f"Saved {path}")
        return {"FINISHED"}


class ORBITFARM_OT_reset_settings(Operator):
    """Reset this scene's orbit settings to the CLI defaults"""

    bl_idname = "orbitfarm.reset_settings"
    bl_label = "Reset to Defaults"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> OpResult:
        from ..submitter.model.settings import RenderSettings

        bridge.props_from_settings(bridge.scene_settings(context), RenderSettings())
        return {"FINISHED"}


classes = (ORBITFARM_OT_edit_profiles, ORBITFARM_OT_save_profiles, ORBITFARM_OT_reset_settings)
