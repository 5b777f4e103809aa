"""Local <-> cluster path prefixes, for targets whose nodes mount the job directory elsewhere."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from .base import TargetError


@dataclass(frozen=True)
class PathMap:
    """Local <-> cluster path prefixes, e.g. /Volumes/proj <-> /gpfs/proj (first match wins)."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_profile(cls, entries: Any) -> PathMap:
        """From the profile's `path_map: [{local: ..., remote: ...}, ...]`."""
        if not entries:
            return cls()
        if not isinstance(entries, list):
            raise TargetError("path_map must be a list of {local: PATH, remote: PATH} entries")
        pairs = []
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("local") or not entry.get("remote"):
                raise TargetError(f"path_map entry {entry!r} needs both 'local' and 'remote'")
            pairs.append((_clean(str(entry["local"])), _clean(str(entry["remote"]))))
        return cls(tuple(pairs))

    def to_remote(self, path: str | os.PathLike[str]) -> str:
        """The cluster's name for a local path (unchanged when no prefix matches)."""
        return _swap(str(path), [(a, b) for a, b in self.pairs])

    def to_local(self, path: str | os.PathLike[str]) -> str:
        """This machine's name for a cluster path (unchanged when no prefix matches)."""
        return _swap(str(path), [(b, a) for a, b in self.pairs])

    def __bool__(self) -> bool:
        return bool(self.pairs)


def _clean(path: str) -> str:
    return str(PurePosixPath(path)) if path != "/" else "/"


def _swap(path: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        if path == old:
            return new
        prefix = old.rstrip("/") + "/"
        if path.startswith(prefix):
            return new.rstrip("/") + "/" + path[len(prefix):]
    return path
