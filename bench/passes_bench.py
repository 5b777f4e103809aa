"""Passes benchmark: what each pass adds to a frame, as a ratio to the RGB-only render.

Renders one subject (tests/subjects.py's diffuse "cube" in the default three-point rig) once
per configuration with the real worker: RGB only (--no-depth), then RGB plus one output
(depth, mask, normal, albedo, a colour background), then everything at once. A frame's cost is
the worker process's CPU seconds per frame (render, compositor File Outputs, rename), taken as
the slope between an orbit of 2 and one of `--frames` frames so the fixed start-up drops out;
CPU time, unlike wall time, barely moves when other work shares the machine. The worker's own
per-frame wall seconds (result.json) are printed beside it.
Run: python bench/run.py (or python bench/passes_bench.py) with a Python that has bpy.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

sys.path.insert(0, str(REPO / "bench"))

import subjects  # noqa: E402
from formats_bench import render_options  # noqa: E402
from orbitfarm.submitter.files.atomic import read_json  # noqa: E402
from orbitfarm.submitter.launch.local import run_worker  # noqa: E402
from orbitfarm.submitter.launch.runtime import Runtime  # noqa: E402
from orbitfarm.submitter.model.settings import RenderSettings  # noqa: E402
from orbitfarm.submitter.model.task import Subject, WorkerTask  # noqa: E402

CONFIGS: dict[str, dict[str, Any]] = {
    "rgb only": {"depth": False},
    "+ depth": {},
    "+ mask": {"depth": False, "passes": ["mask"]},
    "+ normal (world + camera)": {"depth": False, "passes": ["normal"]},
    "+ albedo": {"depth": False, "passes": ["albedo"]},
    "+ colour background": {"depth": False, "background": "#808080"},
    "everything": {"passes": ["mask", "normal", "albedo"], "background": "#808080"},
}


def _run(python: str, blend: str, out: Path, base: dict[str, Any], extra: dict[str, Any],
         frames: int) -> tuple[float, float]:
    """(worker CPU seconds, median per-frame wall seconds) of one orbit of `frames` frames."""
    shutil.rmtree(out, ignore_errors=True)
    settings = RenderSettings(**{**base, "frames": frames}, **extra)
    task = WorkerTask(settings=settings, subjects=[Subject(blend=blend, out=str(out))])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run_worker(Runtime("python", python), task, echo=False) != 0:
        raise SystemExit(f"worker failed; see {out}/result.json")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    walls = [f["seconds"] for f in read_json(out / "result.json")["frames"].values()]
    return cpu, statistics.median(walls)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = render_options(__doc__, 8).parse_args(argv)
    width, height = (int(x) for x in args.resolution.split("x"))
    base = {"width": width, "height": height, "samples": args.samples, "device": "cpu",
            "lighting": "three-point"}
    tmp = Path(tempfile.mkdtemp(prefix="orbitfarm-bench-passes-"))
    cpu: dict[str, float] = {}
    wall: dict[str, float] = {}
    try:
        info = subjects.make_subject(args.python, tmp / "cube.blend", "cube", material="diffuse")
        for name, extra in CONFIGS.items():
            short, _ = _run(args.python, info["path"], tmp / "out" / "cube", base, extra, 2)
            full, wall[name] = _run(args.python, info["path"], tmp / "out" / "cube", base,
                                    extra, args.frames)
            cpu[name] = (full - short) / (args.frames - 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rgb = cpu["rgb only"]
    print(f"{args.resolution}, {args.samples} samples, Cycles on the CPU: worker CPU seconds "
          f"per frame (slope of 2 vs {args.frames} frames) and median wall s/frame")
    print("| output | CPU s/frame | added, ratio to RGB only (target <= 0.10) | wall s/frame |")
    print("|---|---|---|---|")
    figures = {"rgb_cpu_s_per_frame": rgb}
    for name, value in cpu.items():
        added = (value - rgb) / rgb
        figures[name] = added
        shown = "—" if name == "rgb only" else f"{added:+.3f}"
        print(f"| {name} | {value:.3f} | {shown} | {wall[name]:.3f} |", flush=True)
    return figures


if __name__ == "__main__":
    main()
