"""`make demo`: generate two small subjects, submit them to the local target, wait, summarise.

Runs the real thing end to end: packaging, the job directory, worker processes through the bpy
wheel, RGB + depth + poses. Outputs land in ./demo-out/ (kept between runs: a second
`make demo` resumes and renders nothing new unless you delete the folder).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "demo-out"

# Built inside a bpy subprocess: a monkey and a torus, each lit and coloured, away from the
# origin so the worker's centering has something to do.
_SUBJECT_SCRIPT = r"""
import sys, bpy
kind, path = sys.argv[-2], sys.argv[-1]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
if kind == "monkey":
    bpy.ops.mesh.primitive_monkey_add(location=(3, 2, 1))
    bpy.ops.object.modifier_add(type="SUBSURF")
    color = (0.8, 0.25, 0.1, 1)
else:
    bpy.ops.mesh.primitive_torus_add(location=(-2, 4, 0.5), rotation=(0.6, 0.3, 0))
    color = (0.1, 0.35, 0.8, 1)
obj = bpy.context.active_object
bpy.ops.object.shade_smooth()
mat = bpy.data.materials.new(kind)
mat.use_nodes = True
mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = color
obj.data.materials.append(mat)
sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
sun.data.energy = 4.0
sun.rotation_euler = (0.7, 0.2, 0.5)
scene.collection.objects.link(sun)
world = bpy.data.worlds.new("world")
world.use_nodes = True
world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.6, 0.6, 0.6, 1)
scene.world = world
bpy.ops.wm.save_as_mainfile(filepath=path)
"""


class StepFailed(Exception):
    """A demo step failed; the message holds that step's own output."""


def run_step(what: str, cmd: list[str]) -> None:
    """Run one step quietly; when it fails, raise with its own output (the real error, e.g.
    `ImportError: libXrender.so.1`), never a bare CalledProcessError."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        raise StepFailed(f"{what} failed (exit {done.returncode}); its output:\n"
                         + "\n".join("    " + line for line in output[-40:]))


def check_bpy() -> None:
    """`import bpy` first: a missing system library is the usual first-run failure."""
    run_step("import bpy", [sys.executable, "-c", "import bpy"])


def make_subjects(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in ("monkey", "torus"):
        path = folder / f"{kind}.blend"
        if not path.exists():
            run_step(f"making the {kind} subject",
                     [sys.executable, "-c", _SUBJECT_SCRIPT, kind, str(path)])
        paths.append(path)
    return paths


def main() -> int:
    try:
        check_bpy()
        subjects = make_subjects(OUT / "subjects")
    except StepFailed as exc:
        print(f"demo: {exc}", file=sys.stderr)
        if "import bpy" in str(exc) and ".so" in str(exc):
            print("demo: bpy needs system libraries: run `bash tools/system_deps.sh` (as root) "
                  "or the apt-get line it prints", file=sys.stderr)
        return 1
    print(f"demo: subjects {', '.join(p.name for p in subjects)} in {subjects[0].parent}")
    cmd = [sys.executable, "-m", "orbitfarm.submitter.cli", "submit", str(OUT / "subjects"),
           "--target", "local", "--out", str(OUT / "renders"),
           "--frames", "24", "--resolution", "320x240", "--samples", "16", "--wait"]
    print("demo: $ orbitfarm " + " ".join(cmd[3:]), flush=True)
    code = subprocess.call(cmd)
    for path in subjects:
        result_file = OUT / "renders" / path.stem / "result.json"
        if not result_file.exists():
            print(f"demo: {path.stem}: no result.json (see the job's logs)")
            continue
        result = json.loads(result_file.read_text())
        print(f"demo: {path.stem}: {result.get('status')} -> {result_file.parent}/"
              " (rgb/, depth/, transforms.json, result.json)")
    print(f"demo: done (exit {code}); outputs under {OUT / 'renders'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
