"""Passes benchmark: what each pass adds to a frame, as a ratio to the RGB-only render.

Renders one subject (tests/subjects.py's diffuse "cube" in the default three-point rig) once
per configuration with the real worker: RGB only (--no-depth), then RGB plus one output
(depth, mask, normal, albedo, a colour background), then everything at once. The cost of a
frame is the worker's own per-frame seconds (render, compositor File Outputs, rename; as
result.json records them), median over the frames; configurations are rendered round-robin
`--rounds` times so a busy machine slows them all alike.
Run: python bench/run.py (or python bench/passes_bench.py) with a Python that has bpy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import subjects  # noqa: E402
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


def _frame_seconds(python: str, blend: str, out: Path, base: dict[str, Any],
                   extra: dict[str, Any]) -> list[float]:
    shutil.rmtree(out, ignore_errors=True)
    settings = RenderSettings(**base, **extra)
    task = WorkerTask(settings=settings, subjects=[Subject(blend=blend, out=str(out))])
    if run_worker(Runtime("python", python), task, echo=False) != 0:
        raise SystemExit(f"worker failed; see {out}/result.json")
    frames = read_json(out / "result.json")["frames"]
    return [f["seconds"] for f in frames.values()]


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--resolution", default="640x480")
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--python", default=sys.executable, help="a Python with bpy")
    args = p.parse_args(argv)
    width, height = (int(x) for x in args.resolution.split("x"))
    base = {"frames": args.frames, "width": width, "height": height, "samples": args.samples,
            "device": "cpu", "lighting": "three-point"}
    tmp = Path(tempfile.mkdtemp(prefix="orbitfarm-bench-passes-"))
    try:
        info = subjects.make_subject(args.python, tmp / "cube.blend", "cube", material="diffuse")
        seconds: dict[str, list[float]] = {name: [] for name in CONFIGS}
        for _ in range(args.rounds):
            for name, extra in CONFIGS.items():
                seconds[name] += _frame_seconds(args.python, info["path"], tmp / "out" / "cube",
                                                base, extra)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    rgb = median["rgb only"]
    print(f"{args.frames} frames x {args.rounds} rounds at {args.resolution}, {args.samples} "
          f"samples, CPU; median s/frame (worker's per-frame wall time)")
    print("| output | s/frame | added, ratio to RGB only (target <= 0.10) |")
    print("|---|---|---|")
    figures = {"rgb_s_per_frame": rgb}
    for name, value in median.items():
        added = (value - rgb) / rgb
        figures[name] = added
        print(f"| {name} | {value:.3f} | {'—' if name == 'rgb only' else f'{added:+.3f}'} |",
              flush=True)
    return figures


if __name__ == "__main__":
    main()
