"""`orbitfarm render`: render subjects on this machine through the worker (no job directory).

One worker process per subject, so a crash, hang or timeout costs only that subject.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..files.result import mark_failed, read_result
from ..jobs.subjects import SubjectsError, subject_names, subjects_in_folder
from ..launch.local import run_worker
from ..launch.runtime import Runtime, detect_runtime
from ..model.states import WorkerExit
from ..model.subject_formats import extensions_text
from ..model.task import Subject, WorkerTask
from .options import add_render_options, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render .blend, mesh and USD subjects on this machine",
                       description="Render orbit datasets (rgb/, depth/, transforms.json, "
                                   "result.json under DIR/<blend stem>/) on this machine.")
    p.add_argument("blends", nargs="+", metavar="SCENE.blend",
                   help=f"subject files to render ({extensions_text()}); folders are "
                        "searched recursively")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    add_render_options(p)
    p.add_argument("--force", action="store_true", help="re-render frames that already exist")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--blender", metavar="PATH", help="Blender executable to render with")
    who.add_argument("--python", metavar="PATH", help="a Python with the bpy module to render with")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="give up on a subject after this many seconds (default: no limit)")
    p.set_defaults(handler=run)


def _died_reason(code: int, timeout: float | None) -> str:
    if code == WorkerExit.TIMEOUT:
        return f"timed out after {timeout:g} s (--timeout); the worker was killed"
    if code == WorkerExit.BAD_TASK:
        return "the worker could not read its task (see the log above)"
    if code < 0:
        return f"the worker was killed by signal {-code} (crash or out of memory?)"
    return f"the worker exited with code {code} without recording a result (crash?)"


def subjects_from_args(items: list[str], out_dir: Path) -> list[Subject]:
    """Files as given (a missing or corrupt one fails in the worker, with its reason, without
    stopping the others) and the subject files found in folders; equal stems get distinct
    output folders exactly as `orbitfarm submit` names them."""
    blends: list[Path] = []
    for item in items:
        path = Path(os.path.abspath(os.path.expanduser(item)))
        if path.is_dir():
            found = subjects_in_folder(path)
            if not found:
                raise SubjectsError(f"{item}: no subject files in this folder")
            blends.extend(found)
        else:
            blends.append(path)
    blends = list(dict.fromkeys(blends))
    names, notes = subject_names(blends)
    for note in notes:
        print(f"orbitfarm render: note: {note}", file=sys.stderr)
    return [Subject(blend=str(b), out=str(out_dir / n), name=n)
            for b, n in zip(blends, names, strict=True)]


def counts_as_ok(status: str, result: dict) -> bool:
    """Exit-code verdict: rendered, or skipped *as animated*. A scene with nothing to render
    is skipped in result.json but is bad input, so the call fails."""
    return status == "rendered" or (status == "skipped" and bool(result.get("animation")))


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    runtime: Runtime = detect_runtime(args.blender, args.python)
    out_dir = Path(args.out).expanduser().resolve()
    subjects = subjects_from_args(args.blends, out_dir)
    failed = 0
    for subject in subjects:
        task = WorkerTask(settings=settings, subjects=[subject], force=args.force,
                          subject_timeout=args.timeout)
        code = run_worker(runtime, task, timeout=args.timeout)
        result = read_result(subject.out)
        status = result.get("status") or "failed"
        if code not in (WorkerExit.OK, WorkerExit.FAILED):
            mark_failed(subject.out, _died_reason(code, args.timeout), subject=subject.name,
                        blend=subject.blend)
            status = "failed"
        elif code == WorkerExit.FAILED:
            status = "failed"  # the log says why; result.json may describe older frames
        if not counts_as_ok(status, result):
            failed += 1
        print(f"orbitfarm render: {subject.name}: {status}"
              f" -> {subject.out}", flush=True)
    print(f"orbitfarm render: {len(subjects) - failed} of {len(subjects)} subject(s) ok"
          f"{f', {failed} failed' if failed else ''}; outputs in {out_dir}", file=sys.stderr)
    return 1 if failed else 0
