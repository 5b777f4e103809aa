"""Preflight: find what would make a render wrong before submitting (no Blender needed).

Traces every .blend with blender-asset-tracer: missing dependencies are errors (a missing
texture renders pink), absolute paths outside the project are warnings (packing copies them,
but with --no-pack the workers must see the same path), unreadable files are warnings (the
subject will fail with the worker's reason while the others render).
"""

from __future__ import annotations

import logging
import os
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
                    "anyway and the subject renders without it (pink textures)",
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
        report.problems.append(Problem(
            WARNING, name, f"cannot read this .blend ({type(exc).__name__}: {exc})",
            "it is submitted as is and will be reported failed with the worker's reason",
        ))
    finally:
        blendfile.close_all_cached()
    report.dependencies[name] = sorted(set(deps))


def check(files: list[str], projects: dict[str, str] | None = None,
          progress: Callable[[str, float], None] | None = None) -> PreflightReport:
    """Preflight these .blend files; projects maps a file to its project folder (default: its
    own folder), the root beyond which absolute paths are reported."""
    report = PreflightReport()
    for i, file in enumerate(files):
        if progress:
            progress(f"checking {os.path.basename(file)}", i / max(len(files), 1))
        blend = Path(os.path.abspath(file))
        project = Path((projects or {}).get(file) or blend.parent)
        check_blend(blend, project, report)
    return report
