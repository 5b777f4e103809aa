"""Preflight: find what would make a render wrong before submitting (no Blender needed).

Mesh and USD subjects: every sidecar they name (jobs/sidecars.py) must be found.

Traces every .blend with blender-asset-tracer: missing dependencies are errors (a missing
texture renders pink, a missing library leaves its objects out), absolute paths outside the
project are warnings (packing copies them, but with --no-pack the workers must see the same
path), files the tracer cannot read are warnings (copied as is: the worker renders them if its
Blender can, or says why not, while the others render). zstd-compressed files (Blender's
"Compress" option) need the zstandard module, which Blender ships and the `pack` extra installs.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass
class Problem:
    """One finding: severity error|warning, the subject it concerns, what, and what to do."""

    severity: str
    subject: str
    message: str
    hint: str = ""

    def line(self) -> str:
        text = f"{self.severity}: {self.subject}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


@dataclass
class PreflightReport:
    """Problems found in a set of .blend files."""

    problems: list[Problem] = field(default_factory=list)
    dependencies: dict[str, list[str]] = field(default_factory=dict)  # blend -> files it needs
    unreadable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    def summary(self) -> str:
        return "\n".join(p.line() for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [asdict(p) for p in self.problems],
                "unreadable": self.unreadable}


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def check_blend(blend: Path, project: Path, report: PreflightReport) -> None:
    """Add the problems of one .blend (and its linked libraries) to the report."""
    from blender_asset_tracer import blendfile, trace
    from blender_asset_tracer.trace import file_sequence

    from . import dna_cache

    dna_cache.install()
    logging.getLogger("blender_asset_tracer").setLevel(logging.CRITICAL)
    name = str(blend)
    if not blend.is_file():
        report.problems.append(Problem(ERROR, name, "file not found",
                                       "check the path; directories are searched for .blend"))
        return
    deps: list[str] = []
    try:
        for usage in trace.deps(blend):
            path = usage.abspath
            exists = True
            if usage.is_sequence:
                try:
                    exists = any(p.exists() for p in file_sequence.expand_sequence(path))
                except file_sequence.DoesNotExist:
                    exists = False
            else:
                exists = path.exists()
            block = usage.block_name.decode("utf-8", "replace") if usage.block_name else "?"
            if not exists:
                report.problems.append(Problem(
                    ERROR, name, f"missing dependency {path} (used by {block})",
                    "restore the file or fix the path in Blender; --allow-missing submits "
                    "anyway and the subject renders without it (" + _without(usage.block_name)
                    + ")",
                ))
                continue
            deps.append(str(path))
            raw = bytes(usage.asset_path)
            if not raw.startswith(b"//") and not _inside(path, project):
                report.problems.append(Problem(
                    WARNING, name, f"absolute path outside the project: {path} (used by {block})",
                    "packing copies it; with --no-pack every worker must see this exact path",
                ))
    except Exception as exc:  # BAT raises assorted errors on damaged files
        report.unreadable.append(name)
        report.problems.append(_unreadable(blend, name, exc))
    finally:
        blendfile.close_all_cached()
    report.dependencies[name] = sorted(set(deps))


# What a render lacks without a missing file, by the ID code of the data-block using it.
_WITHOUT = {
    b"IM": "pink textures",
    b"LI": "the linked objects, materials, ... are missing",
    b"CF": "the cached geometry or animation is missing",
    b"VF": "the text uses Blender's built-in font",
    b"VO": "the volume is empty",
    b"MC": "the movie clip is missing",
    b"SO": "sounds are not rendered anyway",
}


def _without(block_name: bytes | None) -> str:
    return _WITHOUT.get(bytes(block_name or b"")[:2], "that data is missing from the render")


def check_sidecars(subject: Path, project: Path, report: PreflightReport) -> None:
    """Add the problems of a mesh/USD subject: sidecars it names that cannot be found."""
    from .sidecars import find_sidecars

    name = str(subject)
    if not subject.is_file():
        report.problems.append(Problem(ERROR, name, "file not found", "check the path"))
        return
    try:
        found = find_sidecars(subject)
    except OSError as exc:
        report.unreadable.append(name)
        report.problems.append(Problem(WARNING, name, f"cannot read it to find its sidecar "
                                       f"files ({exc})", "it is copied as is"))
        return
    for written in found.missing:
        report.problems.append(Problem(
            ERROR, name, f"missing sidecar file {written!r} (not found as written, nor by name "
            "beside the file)", "restore it; --allow-missing submits anyway and the subject "
            "renders without it (pink textures, missing parts or nothing)"))
    for note in found.notes:
        report.problems.append(Problem(WARNING, name, note))
    for path in found.found:
        if not _inside(path, project):
            report.problems.append(Problem(
                WARNING, name, f"sidecar outside the project: {path}",
                "packing copies it; with --no-pack every worker must see this exact path"))
    report.dependencies[name] = sorted(str(p) for p in found.found)


def _zstd_compressed(blend: Path) -> bool:
    try:
        with open(blend, "rb") as fh:
            return fh.read(4) == b"\x28\xb5\x2f\xfd"  # zstd frame magic
    except OSError:
        return False


def _unreadable(blend: Path, name: str, exc: Exception) -> Problem:
    """What a .blend the tracer cannot read means, without claiming the render will fail."""
    text = (str(exc).strip().splitlines() or [""])[0][:160]
    if _zstd_compressed(blend) and not _have_zstandard():
        return Problem(
            WARNING, name, "cannot trace its dependencies: the file is zstd-compressed (Blender "
            "4.x/5.x 'Compress' option) and this Python has no zstandard module",
            "pip install zstandard, then submit again to pack its dependencies; as it is, "
            "the file is copied without them")
    return Problem(
        WARNING, name, f"cannot read this .blend to trace its dependencies "
        f"({type(exc).__name__}: {text})",
        "it is copied as is, without its dependencies; the worker renders it if its Blender "
        "can read it, or reports why not")


def _have_zstandard() -> bool:
    try:
        import zstandard  # noqa: F401
    except ImportError:
        return False
    return True


# Below this many files one process is quicker than starting others.
PARALLEL_FROM = 48
_CHUNK = 64  # files per job handed to a helper process


def check_subject(path: Path, project: Path, report: PreflightReport) -> None:
    """Add the problems of one subject file, whatever its kind, to the report.

    The one place that chooses a checker by file kind (a new subject kind adds its branch)."""
    from ..model.subject_formats import BLEND, subject_format

    if subject_format(path) in (BLEND, None):
        check_blend(path, project, report)
    else:
        check_sidecars(path, project, report)


def _check_files(files: list[str], projects: dict[str, str]) -> PreflightReport:
    """Preflight these files one after the other (in this process or a helper process)."""
    report = PreflightReport()
    for file in files:
        path = Path(os.path.abspath(file))
        check_subject(path, Path(projects.get(file) or path.parent), report)
    return report


def _merge(report: PreflightReport, part: PreflightReport) -> None:
    report.problems += part.problems
    report.dependencies.update(part.dependencies)
    report.unreadable += part.unreadable


def _helpers(count: int) -> int:
    """Helper processes worth starting for `count` files: 0 inside Blender (forking Blender
    is unsafe) or for few files; else one per core, at most 8."""
    if count < PARALLEL_FROM or "bpy" in sys.modules or not hasattr(os, "fork"):
        return 0
    return min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1, 8)


def check(files: list[str], projects: dict[str, str] | None = None,
          progress: Callable[[str, float], None] | None = None) -> PreflightReport:
    """Preflight these files; projects maps a file to its project folder (default: its own
    folder), the root beyond which absolute paths are reported.

    Thousands of files are read by helper processes, in chunks, and reported in file order
    (each .blend's DNA is decoded once per Blender version and process: dna_cache)."""
    projects = projects or {}
    report = PreflightReport()
    helpers = _helpers(len(files))
    if helpers < 2:
        for i, file in enumerate(files):
            if progress:
                progress(f"checking {os.path.basename(file)}", i / max(len(files), 1))
            _merge(report, _check_files([file], projects))
        return report
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = [files[i:i + _CHUNK] for i in range(0, len(files), _CHUNK)]
    done = 0
    with ProcessPoolExecutor(helpers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_check_files, chunk, {f: projects[f] for f in chunk
                                                      if f in projects})
                   for chunk in chunks]
        try:
            for chunk, future in zip(chunks, futures, strict=True):
                if progress:
                    progress(f"checking {os.path.basename(chunk[0])} (+{len(chunk) - 1})",
                             done / len(files))
                _merge(report, future.result())
                done += len(chunk)
        except BaseException:  # cancelled by the progress callback, or a helper died
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return report
