"""The one bridge from Blender state (scene properties, preferences) to submitter objects.

Everything here runs on the main thread. Nothing below this module knows about bpy.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import bpy

from .. import __package__ as base_package
from ..submitter.model.looks import (
    HDRI_PREFIX,
    PASSES,
    absolute_hdri,
    background_srgb,
    hdri_file,
)
from ..submitter.model.settings import FORMATS, RenderSettings, SettingsError

ONLINE_HINT = (
    "enable Preferences › System › Network › Allow Online Access (or start Blender with "
    "--online-mode)"
)


# What an operator's execute/invoke/modal returns (the type fake-bpy-module expects).
OpResult = set[Literal["RUNNING_MODAL", "CANCELLED", "FINISHED", "PASS_THROUGH", "INTERFACE"]]


# Base of operator mix-ins: a plain object at run time (Blender wants the real Operator last in
# the bases), bpy.types.Operator for the type checker (report, layout, ...).
if TYPE_CHECKING:
    OperatorMixin = bpy.types.Operator
else:
    OperatorMixin = object


def scene_settings(context: Any) -> Any:
    """The scene's orbitfarm settings (props.ORBITFARM_PG_settings)."""
    return context.scene.orbitfarm


def window_manager(context: Any) -> Any:
    """context.window_manager (never None where operators run)."""
    return context.window_manager


def runtime(context: Any) -> Any:
    """The WindowManager's orbitfarm runtime state (props.ORBITFARM_PG_runtime)."""
    return context.window_manager.orbitfarm


class UIError(Exception):
    """A problem the artist can fix; shown as one line in the UI."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that are the user's to fix (shown as a message, not a traceback)."""
    from ..submitter.cli.main import USER_ERRORS  # includes SettingsError, hence jobs.JobError
    from ..submitter.jobs.pack import PackError

    # OSError: unreadable/unwritable folders the artist chose.
    return (*USER_ERRORS, UIError, PackError, OSError)


def addon_prefs(context: bpy.types.Context | None = None) -> Any | None:
    """This add-on's preferences, or None when it is not enabled through the Preferences."""
    preferences = (context or bpy.context).preferences
    addon = preferences.addons.get(base_package) if preferences else None
    return addon.preferences if addon else None


# ---- render settings -------------------------------------------------------------------------

def _f(value: float) -> float:
    """Blender stores floats in single precision: 1.1 reads back as 1.100000023841858. Rounding
    to 6 digits gives the CLI's value back, so settings_hash (and resume) match the CLI."""
    return round(float(value), 6)


def settings_from_props(props: Any) -> RenderSettings:
    """RenderSettings from the scene's orbitfarm properties (validated; SettingsError if not)."""
    return RenderSettings(
        frames=props.frames,
        frame_range=props.frame_range.strip() or None,
        width=props.width,
        height=props.height,
        radius=None if props.radius_mode == "AUTO" else _f(props.radius),
        elevation=_f(props.elevation),
        engine=props.engine,
        samples=props.samples if props.use_custom_samples else None,
        device=props.device,
        rgb=props.rgb,
        depth=props.depth,
        poses=props.poses,
        transparent=props.transparent,
        margin=_f(props.margin),
        formats=[f for f in FORMATS if f in props.formats],
        holdout=props.holdout,
        **view_settings(props),
        normalize=props.normalize,
        **_looks_from_props(props),
    ).validate()


def _looks_from_props(props: Any) -> dict[str, Any]:
    """Lighting, background, passes and video settings from the panel's properties."""
    lighting = props.lighting
    if lighting == "hdri":  # Blender's file browser gives "//" paths, relative to the .blend
        lighting = absolute_hdri(f"{HDRI_PREFIX}{bpy.path.abspath(props.hdri_path)}")
    background = props.background
    if background == "colour":
        background = "#" + "".join(f"{round(c * 255):02x}" for c in props.background_colour)
    return {"lighting": lighting, "light_strength": _f(props.light_strength),
            "background": background, "passes": [p for p in PASSES if p in props.passes],
            "video": None if props.video == "none" else props.video}


def _looks_to_props(props: Any, settings: RenderSettings) -> None:
    hdri = hdri_file(settings.lighting)
    props.lighting = "hdri" if hdri is not None else settings.lighting
    props.hdri_path = hdri or ""
    props.light_strength = settings.light_strength
    srgb = background_srgb(settings.background)
    props.background = "colour" if srgb else settings.background
    if srgb:
        props.background_colour = tuple(c / 255 for c in srgb)
    props.passes = set(settings.passes)
    props.video = settings.video or "none"


def props_from_settings(props: Any, settings: RenderSettings) -> None:
    """Write RenderSettings into the scene's orbitfarm properties (e.g. reset to CLI defaults)."""
    props.frames = settings.frames
    props.frame_range = settings.frame_range or ""
    props.width, props.height = settings.width, settings.height
    props.radius_mode = "AUTO" if settings.radius is None else "FIXED"
    if settings.radius is not None:
        props.radius = settings.radius
    props.elevation = settings.elevation
    props.engine = settings.engine
    props.use_custom_samples = settings.samples is not None
    props.samples = settings.effective_samples
    props.device = settings.device
    props.rgb, props.depth, props.poses = settings.rgb, settings.depth, settings.poses
    props.transparent = settings.transparent
    props.margin = settings.margin
    props.formats = set(settings.formats)
    props.holdout = settings.holdout
    view_props(props, settings)
    _looks_to_props(props, settings)


def view_settings(props: Any) -> dict[str, Any]:
    """The view-layout fields of RenderSettings from the scene's properties."""
    try:
        elevations = [_f(float(e)) for e in props.elevations.split(",") if e.strip()]
    except ValueError:
        raise SettingsError(f"Rings must be degrees separated by commas, e.g. -15,0,30; got "
                            f"{props.elevations!r}") from None
    random = props.layout == "random"
    return {
        "layout": props.layout, "elevations": elevations if props.layout == "ring" and
        elevations else None, "sampling": props.sampling, "hemisphere": props.hemisphere,
        "seed": props.seed, "radius_range": [_f(props.radius_min), _f(props.radius_max)]
        if random and (props.radius_min, props.radius_max) != (1.0, 1.0) else None,
        "fov": _f(props.fov) if props.use_fov and not props.ortho else None,
        "ortho": props.ortho,
    }


def view_props(props: Any, settings: RenderSettings) -> None:
    """Write the view-layout fields of RenderSettings into the scene's properties."""
    props.layout, props.sampling = settings.layout, settings.sampling
    props.elevations = ",".join(f"{e:g}" for e in settings.elevations or [])
    props.hemisphere, props.seed, props.ortho = settings.hemisphere, settings.seed, settings.ortho
    props.radius_min, props.radius_max = settings.radius_range or (1.0, 1.0)
    props.use_fov = settings.fov is not None
    if settings.fov is not None:
        props.fov = settings.fov
    props.normalize = settings.normalize


# ---- targets ---------------------------------------------------------------------------------

def project_dir() -> Path | None:
    """The open file's folder: where a project's own orbitfarm.yaml lives (like the CLI's cwd)."""
    return Path(bpy.data.filepath).resolve().parent if bpy.data.filepath else None


def project_config() -> str | None:
    """The project's orbitfarm.yaml next to the open file, passed on so submit sees it too."""
    from ..submitter.targets.profiles import PROJECT_FILE

    folder = project_dir()
    found = folder / PROJECT_FILE if folder else None
    return str(found) if found and found.is_file() else None


def load_profiles() -> dict[str, dict]:
    """Target profiles exactly as the CLI reads them (targets.yaml + project file)."""
    from ..submitter.targets import profiles

    return profiles.load_profiles(config=project_config(), cwd=project_dir())


def default_profile() -> str:
    """The profile targets.yaml marks as `default:` (else 'local')."""
    from ..submitter.targets import profiles

    return profiles.default_profile_name(config=project_config(), cwd=project_dir())


def profile_choices() -> list[tuple[str, str]]:
    """(name, one-line description) for the target drop-down, the default first.

    A broken targets.yaml leaves only 'local' (the preferences show the error).
    """
    try:
        found = load_profiles()
        default = default_profile()
    except user_errors() as exc:
        return [("local", f"This machine (targets.yaml unreadable: {exc})")]
    names = sorted(found, key=lambda n: (n != default, n != "local", n))
    return [(n, f"{found[n].get('kind', 'local')} target") for n in names]


def profile_needs_network(profile: dict) -> bool:
    """Anything but a plain local target talks to another machine (SSH, a scheduler, a URL)."""
    if profile.get("kind", "local") != "local":
        return True
    return any(profile.get(key) for key in ("host", "ssh", "login", "url", "notify"))


def require_online(what: str, profile: dict | None = None, notify: str | None = None) -> None:
    """Refuse a network action when Blender's online access is off; say how to enable it."""
    needs = bool(notify) or (profile is not None and profile_needs_network(profile))
    if needs and not bpy.app.online_access:
        raise UIError(f"{what} needs network access, which Blender has disabled: {ONLINE_HINT}")


def target_profile(name: str) -> dict:
    """The named profile (UIError when it does not exist)."""
    found = load_profiles()
    if name not in found:
        raise UIError(
            f"target profile {name!r} not found (known: {', '.join(sorted(found))}); "
            "edit targets.yaml in the orbitfarm preferences"
        )
    return found[name]


def local_runtime_options(prefs: Any | None, profile: dict) -> dict[str, str]:
    """How the local target starts Blender: preferences, else the profile, else this Blender."""
    exe = getattr(prefs, "blender_executable", "") if prefs else ""
    if exe:
        return {"blender": bpy.path.abspath(exe)}
    if profile.get("blender") or profile.get("python"):
        return {}
    if bpy.app.binary_path:
        return {"blender": bpy.app.binary_path}
    # The bpy wheel has no executable: this very Python can import bpy and run the worker.
    return {"python": sys.executable}


# ---- files and output ------------------------------------------------------------------------

def output_root(props: Any, prefs: Any | None, blend_path: str) -> str:
    """Absolute output folder: the scene's, else the preferences' root, else next to the .blend."""
    chosen = props.output_dir or (getattr(prefs, "output_root", "") if prefs else "")
    if chosen:
        if chosen.startswith("//") and not blend_path:
            raise UIError("the output folder is relative ('//') but the file is unsaved: "
                          "save the file or choose an absolute output folder")
        return str(Path(bpy.path.abspath(chosen, start=str(Path(blend_path).parent)
                                         if blend_path else None)).resolve())
    if blend_path:
        return str(Path(blend_path).resolve().parent / "orbitfarm")
    raise UIError("choose an output folder (orbitfarm › Target › Output) or a default output "
                  "root in the add-on preferences")


def file_state() -> str:
    """'saved' (on disk and unchanged), 'dirty' (unsaved changes) or 'unsaved' (never saved)."""
    if not bpy.data.filepath:
        return "unsaved"
    return "dirty" if bpy.data.is_dirty else "saved"


_copies: list[Path] = []


def remove_copies() -> None:
    """Delete earlier copies: each was packed into its job (or only preflighted) already."""
    while _copies:
        shutil.rmtree(_copies.pop(), ignore_errors=True)


def save_copy_for_job(name_hint: str = "") -> str:
    """Save the current state to a fresh temp folder (a copy: the artist's file is untouched).

    Only one background task runs at a time, so earlier copies are no longer needed here.
    """
    remove_copies()
    stem = Path(bpy.data.filepath).stem if bpy.data.filepath else (name_hint or "untitled")
    folder = Path(tempfile.mkdtemp(prefix="orbitfarm-copy-"))
    _copies.append(folder)
    path = folder / f"{stem}.blend"
    # copy=True keeps the open file's path and dirty flag; relative_remap keeps '//' textures valid.
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True, relative_remap=True, check_existing=False)
    return str(path)


def build_request(context: bpy.types.Context, files: list[str], *, blend_path: str = "") -> Any:
    """SubmitRequest for these files with the scene's settings, output folder and target."""
    from ..submitter.jobs import SubmitRequest

    props = scene_settings(context)
    prefs = addon_prefs(context)
    settings = settings_from_props(props)
    name = props.target or "local"
    profile = target_profile(name)
    require_online(f"target {name!r}", profile)
    options: dict[str, Any] = {}
    if profile.get("kind", "local") == "local":
        options.update(local_runtime_options(prefs, profile))
    out = output_root(props, prefs, blend_path or bpy.data.filepath)
    # The profile is resolved here, once; the submit thread does not look it up again.
    return SubmitRequest(files=list(files), out=out, settings=settings, target=name,
                         profile=dict(profile, **options), config=project_config())
