"""Many small mesh subjects: per-subject overhead with --group (one worker renders them all,
an empty scene between them) vs one worker process per subject (the Objaverse-script way).

Overhead per subject = (wall time - Blender's own render time) / subjects, both ways measured
in one run. Subjects: small meshes in four formats (.glb, .obj, .ply, .stl) made by Blender's
exporters (`--kinds blend`: the same spheres saved as .blend files, for comparison); 12 views
at 256x256, 4 samples, CPU (few samples stand in for a GPU's speed, where start-up dominates).
Run: python bench/run.py (or this file) with a Python that has bpy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from orbitfarm.submitter.files.atomic import read_json  # noqa: E402
from orbitfarm.submitter.launch.local import run_worker  # noqa: E402
from orbitfarm.submitter.launch.runtime import Runtime  # noqa: E402
from orbitfarm.submitter.model.settings import RenderSettings  # noqa: E402
from orbitfarm.submitter.model.task import Subject, WorkerTask  # noqa: E402

MAKE = r'''
import bpy, sys, os
out, n, kinds = sys.argv[-3], int(sys.argv[-2]), sys.argv[-1].split(",")
known = {"glb": lambda p: bpy.ops.export_scene.gltf(filepath=p),
         "obj": lambda p: bpy.ops.wm.obj_export(filepath=p),
         "ply": lambda p: bpy.ops.wm.ply_export(filepath=p),
         "stl": lambda p: bpy.ops.wm.stl_export(filepath=p),
         "blend": lambda p: bpy.ops.wm.save_as_mainfile(filepath=p)}
exporters = [(k, known[k]) for k in kinds]
for i in range(n):
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.ops.mesh.primitive_uv_sphere_add(segments=32 + i % 8, ring_count=16, location=(i, 0, 0))
    bpy.ops.object.select_all(action="SELECT")
    ext, export = exporters[i % len(exporters)]
    export(os.path.join(out, f"m{i:03d}.{ext}"))
'''


KINDS = ("glb", "obj", "ply", "stl", "blend")


def _subjects(python: str, folder: Path, n: int, kinds: str = "glb,obj,ply,stl") -> list[Path]:
    folder.mkdir(parents=True)
    subprocess.run([python, "-c", MAKE, "--", str(folder), str(n), kinds], check=True,
                   capture_output=True)
    return sorted(p for p in folder.iterdir() if p.suffix[1:] in KINDS)


def _render_seconds(outs: list[Path]) -> tuple[float, dict[str, float]]:
    render = 0.0
    parts: dict[str, list[float]] = {"import": [], "animation check": [], "set-up": []}
    for out in outs:
        res = read_json(out / "result.json")
        assert res["status"] == "rendered", (out, res.get("reason"))
        timing = res["timing"]
        render += sum(f["render_seconds"] for f in res["frames"].values())
        # A .blend is opened, not imported: its whole load (open, checks) stands in.
        parts["import"].append(res.get("import_seconds", timing["load_seconds"]))
        parts["animation check"].append(timing["animation_check_seconds"])
        parts["set-up"].append(timing["ready_seconds"] - timing["load_seconds"]
                               - timing["animation_check_seconds"])
    return render, {k: statistics.mean(v) for k, v in parts.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=50)
    p.add_argument("--views", type=int, default=12)
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--kinds", default="glb,obj,ply,stl",
                   help=f"subject files made in turn, among {','.join(KINDS)} (blend: the same "
                   "sphere saved as a .blend, for comparison)")
    p.add_argument("--python", default=sys.executable, help="a Python with bpy")
    args = p.parse_args(argv)
    unknown = set(args.kinds.split(",")) - set(KINDS)
    if unknown:
        p.error(f"--kinds: unknown {', '.join(sorted(unknown))} (known: {', '.join(KINDS)})")
    tmp = Path(tempfile.mkdtemp(prefix="orbitfarm-meshbench-"))
    try:
        return _run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    runtime = Runtime("python", args.python)
    settings = RenderSettings(frames=args.views, width=args.resolution, height=args.resolution,
                              samples=args.samples, device="cpu")
    files = _subjects(args.python, tmp / "in", args.subjects, args.kinds)
    n = len(files)
    kinds = "/".join(f".{k}" for k in args.kinds.split(","))
    print(f"{n} small subjects ({kinds}), {args.views} views at "
          f"{args.resolution}x{args.resolution}, {args.samples} samples, CPU", flush=True)

    def subjects(way: str) -> list[Subject]:
        return [Subject(blend=str(f), out=str(tmp / way / f.stem)) for f in files]

    grouped = subjects("grouped")
    t0 = time.perf_counter()
    code = run_worker(runtime, WorkerTask(settings, grouped, force=True), echo=False)
    wall_g = time.perf_counter() - t0
    assert code == 0, f"grouped worker exit {code}"
    single = subjects("single")
    t0 = time.perf_counter()
    for subject in single:
        code = run_worker(runtime, WorkerTask(settings, [subject], force=True), echo=False)
        assert code == 0, f"worker exit {code} for {subject.blend}"
    wall_s = time.perf_counter() - t0

    render_g, parts_g = _render_seconds([Path(s.out) for s in grouped])
    render_s, parts_s = _render_seconds([Path(s.out) for s in single])
    over_g, over_s = (wall_g - render_g) / n, (wall_s - render_s) / n
    inside_s = parts_s["import"] + parts_s["animation check"] + parts_s["set-up"]
    startup_s = over_s - inside_s - (over_g - sum(parts_g.values()))
    print()
    print("| way | overhead s/subject | render s/subject | subjects/hour |")
    print("|---|---|---|---|")
    print(f"| --group {n} (one worker) | {over_g:.3f} | {render_g / n:.3f} | "
          f"{3600 * n / wall_g:.0f} |")
    print(f"| one worker per subject | {over_s:.3f} | {render_s / n:.3f} | "
          f"{3600 * n / wall_s:.0f} |")
    print()
    print("per subject, grouped: " + ", ".join(f"{k} {v:.3f} s" for k, v in parts_g.items())
          + f"; start-up (per-process way, beyond the grouped overhead) {startup_s:.3f} s")
    print(f"grouped overhead {over_g:.3f} s (target <= 0.3 s) = {over_g / over_s:.2f} of the "
          "per-process overhead (target <= 0.25)")
    return {"grouped": over_g, "single": over_s, "per_hour_grouped": 3600 * n / wall_g,
            "per_hour_single": 3600 * n / wall_s, **{f"grouped_{k}": v for k, v in
                                                       parts_g.items()}}


if __name__ == "__main__":
    main()
