"""Dataset-format benchmark: seconds per frame of writing each format, as ratios to the render.

Renders one subject (tests/subjects.py's "cube" kind, diffuse, at the default
resolution), then times write_formats for each format on its own, with numpy (the bpy wheel,
Blender's official builds) and without (Debian's Blender), and divides by Blender's own render
time per frame of the same run (RGB + depth from one render; the depth pass adds next to nothing).
Run: python bench/run.py (or python bench/formats_bench.py) with a Python that has bpy.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import subjects  # noqa: E402
from orbitfarm.submitter.files import imageio  # noqa: E402
from orbitfarm.submitter.files.atomic import read_json  # noqa: E402
from orbitfarm.submitter.formats import depth16, png16  # noqa: E402
from orbitfarm.submitter.formats.cameras import load_cameras  # noqa: E402
from orbitfarm.submitter.formats.colmap import MAX_POINT_VIEWS, write_colmap  # noqa: E402
from orbitfarm.submitter.formats.nerf_synthetic import write_nerf_synthetic  # noqa: E402
from orbitfarm.submitter.formats.nerfstudio import write_nerfstudio  # noqa: E402
from orbitfarm.submitter.formats.opencv import write_opencv  # noqa: E402
from orbitfarm.submitter.launch.local import run_worker  # noqa: E402
from orbitfarm.submitter.launch.runtime import Runtime  # noqa: E402
from orbitfarm.submitter.model.settings import RenderSettings  # noqa: E402
from orbitfarm.submitter.model.task import Subject, WorkerTask  # noqa: E402


def _writers(out: Path):
    def depth(cams):
        shutil.rmtree(out / "depth16", ignore_errors=True)  # force every frame to convert
        return depth16.write_depth16(out, cams)

    return {
        "depth16": depth,
        "nerfstudio": lambda cams: write_nerfstudio(out, cams, True),
        "nerf-synthetic": lambda cams: write_nerf_synthetic(out, cams, 8),
        "colmap": lambda cams: write_colmap(out, cams),
        "opencv": lambda cams: write_opencv(out, cams, True),
    }


def render_options(doc: str, frames: int) -> argparse.ArgumentParser:
    """The options of a benchmark that renders one subject (also passes_bench.py's)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--frames", type=int, default=frames)
    p.add_argument("--resolution", default="640x480")
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--python", default=sys.executable, help="a Python with bpy")
    return p


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = render_options(__doc__, 12).parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="orbitfarm-bench-formats-"))
    try:
        return _run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    width, height = (int(x) for x in args.resolution.split("x"))
    info = subjects.make_subject(args.python, tmp / "cube.blend", "cube", material="diffuse")
    out = tmp / "out" / "cube"
    settings = RenderSettings(frames=args.frames, width=width, height=height,
                              samples=args.samples, device="cpu")
    task = WorkerTask(settings=settings, subjects=[Subject(blend=info["path"], out=str(out))])
    if run_worker(Runtime("python", args.python), task, echo=False) != 0:
        raise SystemExit(f"worker failed; see {out}/result.json")
    frames = read_json(out / "result.json")["frames"]
    render = sum(f["render_seconds"] for f in frames.values()) / len(frames)
    cams = load_cameras(out)
    figures = {"render_s_per_frame": render}
    print(f"{args.frames} frames at {args.resolution}, {args.samples} samples, CPU: render "
          f"{render:.3f} s/frame (Blender's own render time)")
    print("| format | numpy: s/frame | ratio to render | no numpy: s/frame | ratio |")
    print("|---|---|---|---|---|")
    for name, write in _writers(out).items():
        row = []
        for numpy_on in (True, False):
            saved = [m.np for m in (imageio, depth16, png16)]
            if not numpy_on:
                for module in (imageio, depth16, png16):
                    module.np = None  # type: ignore[assignment]
            try:
                t0 = time.perf_counter()
                write(cams)
                per_frame = (time.perf_counter() - t0) / args.frames
            finally:
                for module, np_ in zip((imageio, depth16, png16), saved, strict=True):
                    module.np = np_
            row.append(per_frame)
            figures[f"{name}{'' if numpy_on else '_nonumpy'}"] = per_frame
        print(f"| {name} | {row[0]:.4f} | {row[0] / render:.3f} | {row[1]:.4f} | "
              f"{row[1] / render:.3f} |", flush=True)
    # colmap's cost is per point view (at most MAX_POINT_VIEWS per subject), not per frame.
    views = min(args.frames, MAX_POINT_VIEWS)
    for suffix, label in (("", "numpy"), ("_nonumpy", "no numpy")):
        per_view = figures[f"colmap{suffix}"] * args.frames / views
        orbit = per_view * MAX_POINT_VIEWS / 360
        figures[f"colmap{suffix}_per_frame_at_360"] = orbit
        print(f"colmap ({label}): {per_view:.3f} s per point view; a 360-frame orbit "
              f"({MAX_POINT_VIEWS} point views): {orbit:.4f} s/frame = {orbit / render:.3f}x "
              "the render")
    return figures


if __name__ == "__main__":
    main()
