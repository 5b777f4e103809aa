"""What every cluster target reads from its profile the same way: how nodes start the worker
(`python:` or `blender:`), where they see this machine's paths (`path_map`), and which keys a
profile may hold (a misspelt key is refused, not ignored)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..launch.runtime import Runtime
from ..model.settings import unknown_keys_error
from .base import TargetError
from .pathmap import PathMap


class ClusterNodes:
    """Mixed into a Target whose tasks run on cluster nodes (reads `self.profile`)."""

    profile: dict[str, Any]

    @property
    def path_map(self) -> PathMap:
        return PathMap.from_profile(self.profile.get("path_map"))

    def runtime(self) -> Runtime:
        """The runtime on the nodes: `python:` (bpy wheel) or `blender:` (default `blender`)."""
        if self.profile.get("python"):
            return Runtime("python", str(self.profile["python"]))
        return Runtime("blender", str(self.profile.get("blender") or "blender"))


def refuse_unknown_keys(kind: str, profile: dict[str, Any], known: Iterable[str]) -> None:
    """Raise TargetError naming every key of `profile` that `kind` does not know."""
    known = set(known)
    unknown = set(profile) - known
    if unknown:
        raise TargetError(f"{kind} profile {profile.get('name', '')!r}: "
                          + unknown_keys_error("key(s)", unknown, known))
