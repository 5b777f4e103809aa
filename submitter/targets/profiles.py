"""Named target profiles from YAML: user file, then project file, then --config (later wins).

    # ~/.config/orbitfarm/targets.yaml  (or ./orbitfarm.yaml, or --config FILE)
    default: gpu
    targets:
      gpu:
        kind: slurm
        partition: gpu
        notify: https://hooks.example.org/orbitfarm
      fast-local:
        kind: local
        workers: 2

The profile "local" ({kind: local}) always exists and needs no configuration.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import TARGET_KINDS
from .base import TargetError

PROJECT_FILE = "orbitfarm.yaml"
BUILTIN = {"local": {"kind": "local"}}


def user_config_file() -> Path:
    """$XDG_CONFIG_HOME/orbitfarm/targets.yaml (default ~/.config/orbitfarm/targets.yaml)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "orbitfarm" / "targets.yaml"


def config_files(config: str | None = None, cwd: str | Path | None = None) -> list[Path]:
    """The profile files that apply, lowest priority first (existing ones only, but an explicit
    --config must exist)."""
    files = [user_config_file(), Path(cwd or os.getcwd()) / PROJECT_FILE]
    found = [f for f in files if f.is_file()]
    if config:
        path = Path(config)
        if not path.is_file():
            raise TargetError(f"--config {config}: no such file")
        found.append(path)
    return found


def _read(path: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
    import yaml

    from ..files import safe_yaml

    try:
        data = safe_yaml.load(path.read_text(encoding="utf-8"), str(path)) or {}
    except yaml.YAMLError as exc:
        raise TargetError(f"{path}: not valid YAML: {exc}") from None
    except safe_yaml.YamlLimitError as exc:
        raise TargetError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise TargetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not isinstance(data, dict):
        raise TargetError(f"{path}: expected a mapping with 'targets:' at the top level")
    unknown = sorted(set(data) - {"targets", "default"})
    if unknown:
        raise TargetError(f"{path}: unknown top-level key(s) {', '.join(unknown)} "
                          "(expected 'targets' and optionally 'default')")
    targets = data.get("targets") or {}
    if not isinstance(targets, dict):
        raise TargetError(f"{path}: 'targets' must map profile names to settings")
    profiles: dict[str, dict[str, Any]] = {}
    for name, profile in targets.items():
        if not isinstance(profile, dict):
            raise TargetError(f"{path}: profile {name!r} must be a mapping (kind: local|slurm ...)")
        kind = profile.get("kind", "local")
        if kind not in TARGET_KINDS:
            raise TargetError(f"{path}: profile {name!r} has unknown kind {kind!r} "
                              f"(known: {', '.join(sorted(TARGET_KINDS))})")
        notify = profile.get("notify")
        if notify is not None and not str(notify).startswith(("http://", "https://", "env:",
                                                               "file:")):
            raise TargetError(f"{path}: profile {name!r}: notify must be an http(s) URL, "
                              "env:VARIABLE or file:PATH (a file only you can read)")
        profiles[str(name)] = dict(profile, kind=kind, name=str(name))
    default = data.get("default")
    return profiles, (str(default) if default is not None else None)


def load_profiles(config: str | None = None, cwd: str | Path | None = None) -> dict[str, dict]:
    """Profile name -> profile dict (with 'kind' and 'name'), 'local' always included."""
    profiles = {name: dict(p, name=name) for name, p in BUILTIN.items()}
    for path in config_files(config, cwd):
        found, _ = _read(path)
        profiles.update(found)
    return profiles


def default_profile_name(config: str | None = None, cwd: str | Path | None = None) -> str:
    """The profile `default:` names (last file wins), else 'local'."""
    name = "local"
    for path in config_files(config, cwd):
        _, default = _read(path)
        if default:
            name = default
    return name


def resolve_profile(name: str | None, config: str | None = None,
                    cwd: str | Path | None = None) -> dict[str, Any]:
    """The profile called `name` (None: the default); a bare kind name works too."""
    profiles = load_profiles(config, cwd)
    name = name or default_profile_name(config, cwd)
    if name in profiles:
        return dict(profiles[name])
    if name in TARGET_KINDS:
        return {"kind": name, "name": name}
    raise TargetError(f"no target profile named {name!r}; known: {', '.join(sorted(profiles))} "
                      f"(profiles live in {user_config_file()}, ./{PROJECT_FILE} or --config)")
