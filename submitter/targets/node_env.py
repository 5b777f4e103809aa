"""The environment a profile gives its nodes, per operating system (seed 004's accsyn `envs`).

    env:                       # flat: the same on every node
      OCIO: /studio/ocio/config.ocio
    env:                       # or per OS: common first, then the node's own OS on top
      common: {STUDIO: acme}
      linux: {OCIO: /mnt/studio/ocio.ocio}
      windows: {OCIO: 'S:\\ocio.ocio'}

Usable by every target: a target asks for the nodes' OS it writes for (`environment(p, os)`)
or for every OS at once (`environments(p)`, for services that pick the OS per host).
"""

from __future__ import annotations

import re
from typing import Any

from .base import TargetError
from .pathmap import NODE_OS_NAMES

ENV_SECTIONS = ("common", *NODE_OS_NAMES)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def environments(profile: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Section (common/linux/mac/windows) -> its variables, checked; a flat env is 'common'."""
    env = profile.get("env") or {}
    if not isinstance(env, dict):
        raise TargetError("env must map variable names to values, or common/linux/mac/windows "
                          "to such mappings")
    sectioned = any(k in ENV_SECTIONS for k in env)
    if sectioned and set(env) - set(ENV_SECTIONS):
        raise TargetError(f"env mixes sections ({', '.join(ENV_SECTIONS)}) with variables "
                          f"({', '.join(sorted(set(env) - set(ENV_SECTIONS)))}); use one form")
    sections = env if sectioned else {"common": env}
    out: dict[str, dict[str, str]] = {}
    for section, values in sections.items():
        if not isinstance(values, dict):
            raise TargetError(f"env.{section} must map variable names to values")
        for name in values:
            if not _NAME.match(str(name)):
                raise TargetError(f"env: {name!r} is not a valid environment variable name")
        out[section] = {str(k): "" if v is None else str(v) for k, v in values.items()}
    return out


def environment(profile: dict[str, Any], os_name: str = "linux") -> dict[str, str]:
    """The variables a node running `os_name` gets: common, then its OS's own on top."""
    if os_name not in NODE_OS_NAMES:
        raise ValueError(f"os_name must be one of {NODE_OS_NAMES}, got {os_name!r}")
    sections = environments(profile)
    return {**sections.get("common", {}), **sections.get(os_name, {})}
