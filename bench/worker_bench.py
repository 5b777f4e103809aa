"""Worker benchmark: one ~100k-face subject, three ways, seconds per frame and overheads.

(a) orbitfarm's worker: one process, persistent data, RGB + depth from one render.
(b) one fresh process per frame (load the file, render one frame), as frame-splitters do.
(c) one process without persistent data, depth rendered in a second pass.
Run: python bench/run.py (or python bench/worker_bench.py) with a Python that has bpy.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import subjects  # noqa: E402
from orbitfarm.submitter.files.atomic import read_json  # noqa: E402
from orbitfarm.submitter.launch.local import run_worker  # noqa: E402
from orbitfarm.submitter.launch.runtime import Runtime, worker_env  # noqa: E402
from orbitfarm.submitter.model.settings import RenderSettings  # noqa: E402
from orbitfarm.submitter.model.task import Subject, WorkerTask  # noqa: E402


def _worker(runtime: Runtime, settings: RenderSettings, blend: str, out: Path,
            frames: list[int] | None = None) -> float:
    task = WorkerTask(settings=settings, subjects=[Subject(blend=blend, out=str(out))],
                      frames=frames, force=True)
    t0 = time.perf_counter()
    code = run_worker(runtime, task, echo=False)
    if code != 0:
        raise SystemExit(f"worker failed with exit code {code}; see {out}/result.json")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the three ways and print the table; return the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faces", type=int, default=120_000)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--resolution", default="160x120")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--python", default=sys.executable, help="a Python with bpy")
    p.add_argument("--only-a", action="store_true", help="only the worker itself (quick)")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="orbitfarm-bench-"))
    try:
        return _run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    width, height = (int(x) for x in args.resolution.split("x"))
    runtime = Runtime("python", args.python)
    settings = RenderSettings(frames=args.frames, width=width, height=height,
                              samples=args.samples, device="cpu")
    info = subjects.make_subject(args.python, tmp / "heavy.blend", "heavy", faces=args.faces)
    n = args.frames
    print(f"subject: {info['faces']} faces; {n} frames at {width}x{height}, "
          f"{args.samples} samples, CPU", flush=True)

    wall_a = _worker(runtime, settings, info["path"], tmp / "a")
    res = read_json(tmp / "a" / "result.json")
    frames = res["frames"].values()
    frame_wall = sum(f["seconds"] for f in frames)
    render_s = sum(f["render_seconds"] for f in frames)
    fixed = wall_a - frame_wall
    per_frame_overhead = (frame_wall - render_s) / n
    print(f"(a) done: {wall_a:.2f} s", flush=True)

    if args.only_a:
        print(f"(a) {wall_a / n:.3f} s/frame; render {render_s / n:.3f}; fixed {fixed:.2f} s; "
              f"per frame {per_frame_overhead * 1000:.1f} ms")
        return {"a": wall_a / n, "fixed": fixed, "per_frame": per_frame_overhead}
    t0 = time.perf_counter()
    for k in settings.frame_list():
        _worker(runtime, settings, info["path"], tmp / "b", frames=[k])
    wall_b = time.perf_counter() - t0
    print(f"(b) done: {wall_b:.2f} s", flush=True)

    t0 = time.perf_counter()
    subprocess.run([args.python, str(REPO / "bench" / "naive_orbit.py"), "--", info["path"],
                    str(tmp / "c"), str(n), str(width), str(height), str(args.samples)],
                   check=True, capture_output=True, env=worker_env())
    wall_c = time.perf_counter() - t0
    print(f"(c) done: {wall_c:.2f} s", flush=True)

    a, b, c = wall_a / n, wall_b / n, wall_c / n
    print()
    print("| way | s/frame | vs (a) |")
    print("|---|---|---|")
    print(f"| (a) orbitfarm worker (persistent data, depth from the same render) | {a:.3f} | 1.0x |")
    print(f"| (b) fresh process per frame | {b:.3f} | {b / a:.1f}x |")
    print(f"| (c) one process, no persistent data, depth in a 2nd pass | {c:.3f} | {c / a:.1f}x |")
    print()
    print(f"Blender render time (render_pre..render_post): {render_s / n:.3f} s/frame")
    print(f"worker overhead fixed per subject (start, load, detection, set-up): {fixed:.2f} s "
          f"(target <= 2 s)")
    print(f"worker overhead per frame: {per_frame_overhead * 1000:.1f} ms = "
          f"{100 * per_frame_overhead / (render_s / n):.1f}% of the render time (target <= 3%)")
    return {"a": a, "b": b, "c": c, "fixed": fixed, "per_frame": per_frame_overhead,
            "render": render_s / n}


if __name__ == "__main__":
    main()
