"""Packaging: copy each subject .blend and its dependencies into the job directory.

Mesh and USD subjects are copied with their sidecars (pack_with_sidecars), keeping the
relative layout the files refer to each other by.

Built on blender-asset-tracer (BAT, the packer Flamenco uses): BAT traces every external path
in a .blend (images, sequences/UDIMs, linked libraries, caches, sounds, fonts, volumes) without
Blender and rewrites those paths in a copy of the file. We change one thing: where dependencies
go. BAT mirrors the project tree per packed file, so K subjects sharing a texture would copy it
K times. Here every dependency lands in a content-addressed store, `inputs/files/<hash>/<name>`,
and is copied only when that path does not exist yet, so identical files are copied once per job
whatever their folder or subject. Subjects go to `inputs/subjects/<name>/<file>.blend`; all paths
inside the packed files are relative, so the job directory can move.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..model.subject_formats import BLEND, subject_format

STORE = "files"
SUBJECTS = "subjects"
_HASH_CHARS = 20


class PackError(RuntimeError):
    """Packaging failed or was cancelled; nothing half-made is left behind by the caller."""


@dataclass
class PackStats:
    """What packaging did: bytes actually written and bytes of distinct dependency content."""

    files_copied: int = 0
    files_shared: int = 0  # dependency copies avoided because the content was already there
    bytes_copied: int = 0
    missing: list[str] = field(default_factory=list)
    unpacked: dict[str, str] = field(default_factory=dict)  # subject -> why it is not packed


class FileHasher:
    """sha256 of files, each read once per (path, size, mtime)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, int], str] = {}

    def __call__(self, path: Path) -> str:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        digest = self._cache.get(key)
        if digest is None:
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            digest = self._cache[key] = h.hexdigest()
        return digest


def _packer_class():  # BAT is imported lazily: `orbitfarm status` must not need it
    from blender_asset_tracer import bpathlib
    from blender_asset_tracer.pack import Aborted, Packer, PathAction

    logging.getLogger("blender_asset_tracer").setLevel(logging.ERROR)

    class ContentPacker(Packer):
        """BAT Packer with a content-addressed dependency store and synchronous copies."""

        def __init__(self, bfile: Path, target: Path, store: Path, hasher: FileHasher,
                     stats: PackStats, cancel: threading.Event | None) -> None:
            super().__init__(bfile, bfile.parent, str(target))
            self.store = store
            self.hasher = hasher
            self.stats = stats
            self.cancel = cancel

        def _visit_asset(self, asset_path: pathlib.Path, usage) -> None:
            # Every dependency moves into the store, so every reference gets rewritten.
            if not usage.is_sequence and not asset_path.exists():
                self.missing_files.add(asset_path)
                return
            act = self._actions[asset_path]
            act.usages.append(usage)
            act.path_action = PathAction.FIND_NEW_LOCATION
            self._new_location_paths.add(asset_path)

        def _find_new_paths(self) -> None:
            # .blend libraries that refer to files themselves get rewritten, so their packed
            # content depends on where they came from too.
            blends_with_deps = {
                bpathlib.make_absolute(u.block.bfile.filepath)
                for act in self._actions.values() for u in act.usages
            }
            for path in self._new_location_paths:
                act = self._actions[path]
                name = path.name
                sequence = any(u.is_sequence for u in act.usages)
                if path.is_file() and not sequence and "*" not in name and "<UDIM>" not in name:
                    key = self.hasher(path)
                    if bpathlib.make_absolute(path) in blends_with_deps:
                        key = hashlib.sha256(f"{key}\0{path}".encode()).hexdigest()
                else:  # sequences, UDIM sets, cache folders: one store entry per source path
                    key = hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()
                act.new_path = self.store / key[:_HASH_CHARS] / name

        def execute(self) -> None:
            self._rewrite_paths()
            for asset_path, action in self._actions.items():
                self._check_cancel()
                self._copy_asset_and_deps(asset_path, action)

        def _check_cancel(self) -> None:
            if self.cancel is not None and self.cancel.is_set():
                raise Aborted("cancelled")

        def _send_to_target(self, asset_path: pathlib.Path, target: pathlib.PurePath,
                            may_move: bool = False) -> None:
            self._check_cancel()
            dest = Path(target)
            in_store = self.store in dest.parents
            if in_store and dest.exists():
                self.stats.files_shared += 1
                return
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".tmp-{dest.name}.{os.getpid()}")
            if may_move:
                shutil.move(str(asset_path), str(tmp))
            else:
                shutil.copyfile(asset_path, tmp)
            os.replace(tmp, dest)
            self.stats.files_copied += 1
            self.stats.bytes_copied += dest.stat().st_size

    return ContentPacker, Aborted


def pack_subject(blend: Path, subject_dir: Path, store: Path, hasher: FileHasher,
                 stats: PackStats, cancel: threading.Event | None = None) -> Path:
    """Pack one .blend into subject_dir (deps into store); return the packed .blend's path."""
    from blender_asset_tracer import blendfile

    packer_cls, aborted = _packer_class()
    packer = packer_cls(blend.absolute(), subject_dir, store, hasher, stats, cancel)
    try:
        packer.strategise()
        stats.missing.extend(str(p) for p in sorted(packer.missing_files))
        packer.execute()
        return Path(packer.output_path)
    except aborted:
        raise PackError("packaging cancelled") from None
    finally:
        packer.close()
        blendfile.close_all_cached()


def pack_with_sidecars(subject: Path, subject_dir: Path, stats: PackStats) -> Path:
    """Copy a mesh/USD subject and its sidecars, keeping their layout relative to each other
    (a USD layer's `../../_common/x.usda` still resolves); return the packed subject's path.

    A sidecar found by name beside the subject (a Windows path in the file) is copied beside
    it, where the worker looks for it.
    """
    from .sidecars import find_sidecars

    found = find_sidecars(subject)
    stats.missing.extend(found.missing)
    files = [subject.absolute(), *(p.absolute() for p in found.found)]
    root = Path(os.path.commonpath([str(p.parent) for p in files]))
    for path in files:
        dest = subject_dir / path.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        stats.files_copied += 1
        stats.bytes_copied += dest.stat().st_size
    return subject_dir / subject.absolute().relative_to(root)


def copy_unreadable(blend: Path, subject_dir: Path, stats: PackStats) -> Path:
    """Copy a .blend BAT cannot parse as is, so the worker reports why it fails."""
    subject_dir.mkdir(parents=True, exist_ok=True)
    dest = subject_dir / blend.name
    shutil.copyfile(blend, dest)
    stats.files_copied += 1
    stats.bytes_copied += dest.stat().st_size
    return dest


def one_line(exc: BaseException, limit: int = 160) -> str:
    """An exception as one short line: its type and the start of its first line."""
    text = (str(exc).strip().splitlines() or [""])[0].strip("'\" ")
    if len(text) > limit:
        text = text[: limit - 3].rstrip(" ,") + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def pack_subjects(
    blends: list[tuple[str, Path]],
    inputs_dir: Path,
    progress: Callable[[str, float], None] | None = None,
    cancel: threading.Event | None = None,
    unreadable: set[Path] | None = None,
) -> tuple[dict[str, Path], PackStats]:
    """Pack (name, .blend) pairs into inputs_dir; returns name -> packed .blend and stats."""
    stats = PackStats()
    hasher = FileHasher()
    store = inputs_dir / STORE
    packed: dict[str, Path] = {}
    for i, (name, blend) in enumerate(blends):
        if cancel is not None and cancel.is_set():
            raise PackError("packaging cancelled")
        if progress:
            progress(f"packing {blend.name}", i / max(len(blends), 1))
        subject_dir = inputs_dir / SUBJECTS / name
        if unreadable and blend in unreadable:
            packed[name] = copy_unreadable(blend, subject_dir, stats)
            continue
        if subject_format(blend) not in (BLEND, None):
            packed[name] = pack_with_sidecars(blend, subject_dir, stats)
            continue
        try:
            packed[name] = pack_subject(blend, subject_dir, store, hasher, stats, cancel)
        except PackError:
            raise
        except Exception as exc:  # BAT fails on some data (e.g. external multires): not fatal
            # One file the packer cannot handle must not block the batch: it is rendered in
            # place from where it is (its dependencies beside it), and the job says so.
            shutil.rmtree(subject_dir, ignore_errors=True)
            stats.unpacked[name] = one_line(exc)
            packed[name] = blend.absolute()
    if progress:
        progress("packed", 1.0)
    return packed, stats
