"""Animation-check benchmark: every frame of a 250-frame scene with a ~100k-vertex subject.

Reports the check's cost (target: under 2 s) and its share of rendering a 360-frame orbit at
640x480 (target: under 10%; the orbit's time is extrapolated from a few rendered frames).
Run: python bench/run.py (or python bench/animation_bench.py) with a Python that has bpy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import subjects  # noqa: E402
from orbitfarm.submitter.files.atomic import read_json  # noqa: E402
from orbitfarm.submitter.launch.local import run_worker  # noqa: E402
from orbitfarm.submitter.launch.runtime import Runtime, worker_env  # noqa: E402
from orbitfarm.submitter.model.settings import RenderSettings  # noqa: E402
from orbitfarm.submitter.model.task import Subject, WorkerTask  # noqa: E402

# Runs in a bpy process: load the subject as the worker does and time the animation check.
_CHECK = r'''
import json, sys, time
from orbitfarm.worker.animation import detect_animation
from orbitfarm.worker.evaluation import show_what_renders
from orbitfarm.worker.scene import load_blend
scene = load_blend(sys.argv[-1])
show_what_renders(scene)
t0 = time.perf_counter()
report = detect_animation(scene)
seconds = time.perf_counter() - t0
print("CHECK " + json.dumps({"seconds": seconds, "frames": report.frames_checked,
                             "animated": bool(report.evidence)}), flush=True)
import os
os._exit(0)
'''


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Time the check, extrapolate the orbit, print both; return the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faces", type=int, default=100_000, help="UV sphere: about as many vertices")
    p.add_argument("--scene-frames", type=int, default=250)
    p.add_argument("--python", default=sys.executable, help="a Python with bpy")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="orbitfarm-anim-bench-"))
    try:
        info = subjects.make_subject(args.python, tmp / "heavy.blend", "heavy",
                                     faces=args.faces, frame_end=args.scene_frames)
        proc = subprocess.run([args.python, "-c", _CHECK, info["path"]], capture_output=True,
                              text=True, env=worker_env(), timeout=600)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("CHECK ")), None)
        if line is None:
            raise SystemExit(proc.stdout[-2000:] + proc.stderr[-2000:])
        check = json.loads(line[len("CHECK "):])
        settings = RenderSettings(frames=360, width=640, height=480, device="cpu")
        task = WorkerTask(settings=settings, subjects=[Subject(blend=info["path"],
                                                               out=str(tmp / "out"))],
                          frames=[1, 2, 3], force=True)
        if run_worker(Runtime("python", args.python), task, echo=False) != 0:
            raise SystemExit(f"worker failed; see {tmp / 'out' / 'result.json'}")
        frames = read_json(tmp / "out" / "result.json")["frames"].values()
        per_frame = sum(f["seconds"] for f in frames) / len(frames)
        orbit = 360 * per_frame
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    share = check["seconds"] / orbit
    print(f"subject: {info['faces']} faces, scene frames 1..{args.scene_frames} (static)")
    print(f"animation check: {check['seconds']:.2f} s for {check['frames']} frames "
          f"(target < 2 s); animated={check['animated']}")
    print(f"360-frame orbit at 640x480, {settings.effective_samples} samples (extrapolated from "
          f"3 frames): {orbit:.0f} s; the check is {100 * share:.2f}% of it (target < 10%)")
    return {"check": check["seconds"], "frames": check["frames"], "orbit": orbit, "share": share}


if __name__ == "__main__":
    main()
