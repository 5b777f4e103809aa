"""Local <-> cluster path prefixes, for targets whose nodes mount the job directory elsewhere.

An entry names the nodes' path as `remote:`, or per operating system (`linux:`, `mac:`,
`windows:`) for farms with mixed nodes (seed 004's accsyn shares); `remote:` is then the fallback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from .base import TargetError

NODE_OS_NAMES = ("linux", "mac", "windows")


@dataclass(frozen=True)
class PathMap:
    """Local <-> cluster path prefixes, e.g. /Volumes/proj <-> /gpfs/proj (first match wins)."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_profile(cls, entries: Any, os_name: str | None = None) -> PathMap:
        """From the profile's `path_map: [{local: ..., remote: ...}, ...]`; with os_name, an
        entry's path for that OS (`linux:`/`mac:`/`windows:`) wins over `remote:`."""
        if not entries:
            return cls()
        if not isinstance(entries, list):
            raise TargetError("path_map must be a list of {local: PATH, remote: PATH} entries")
        pairs = []
        for entry in entries:
            remote = (entry.get(os_name) if os_name and isinstance(entry, dict) else None) \
                or (entry.get("remote") if isinstance(entry, dict) else None)
            if not isinstance(entry, dict) or not entry.get("local") or not (
                    remote or any(entry.get(n) for n in NODE_OS_NAMES)):
                raise TargetError(f"path_map entry {entry!r} needs both 'local' and 'remote' "
                                  f"(or one of {', '.join(NODE_OS_NAMES)})")
            if not remote:
                continue  # only other operating systems' paths: nothing to map for this one
            pairs.append((_clean(str(entry["local"])), _clean_remote(str(remote))))
        return cls(tuple(pairs))

    def to_remote(self, path: str | os.PathLike[str]) -> str:
        """The cluster's name for a local path (unchanged when no prefix matches)."""
        return _swap(str(path), [(a, b) for a, b in self.pairs])

    def to_local(self, path: str | os.PathLike[str]) -> str:
        """This machine's name for a cluster path (unchanged when no prefix matches)."""
        return _swap(str(path), [(b, a) for a, b in self.pairs])

    def __bool__(self) -> bool:
        return bool(self.pairs)


def _clean_remote(path: str) -> str:
    # A Windows node's path (P:\proj, \\server\share) is kept as written.
    return path.rstrip("\\/") if "\\" in path or path[1:2] == ":" else _clean(path)


def _clean(path: str) -> str:
    return str(PurePosixPath(path)) if path != "/" else "/"


def _swap(path: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        if path == old:
            return new
        prefix = old.rstrip("/") + "/"
        if path.startswith(prefix):
            rest = path[len(prefix):]
            if "\\" in new:  # a Windows node's share: its separator
                return new.rstrip("\\") + "\\" + rest.replace("/", "\\")
            return new.rstrip("/") + "/" + rest
    return path
