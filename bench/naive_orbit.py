"""Benchmark way (c): one process, no persistent data, depth in a second render pass.

Runs inside bpy: python naive_orbit.py -- BLEND OUT_DIR FRAMES WIDTH HEIGHT SAMPLES
Uses the worker's own set-up (same camera, radius, colour) so only the render strategy differs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import bpy


def main() -> None:
    blend, out, frames, width, height, samples = sys.argv[sys.argv.index("--") + 1:]
    from orbitfarm.submitter.model.settings import RenderSettings
    from orbitfarm.worker import bounds, compat, orbit, render
    from orbitfarm.worker import scene as scene_mod

    settings = RenderSettings(frames=int(frames), width=int(width), height=int(height),
                              samples=int(samples), device="cpu")
    scene = scene_mod.load_blend(blend)
    box = bounds.world_bbox(scene)
    _, center = scene_mod.subject_center(box)
    rs = render.setup(scene, settings, orbit.bounding_radius(*box), Path(out) / "tmp",
                      center=tuple(center))
    scene.render.use_persistent_data = False
    tree = scene.compositing_node_group if compat.IS_5 else None
    t0 = time.perf_counter()
    for k in settings.frame_list():
        rs.camera.matrix_world = orbit_matrix(orbit.orbit_pose(k, settings.frames, 0, rs.radius,
                                                               center))
        compat.disable_compositor(scene)  # pass 1: RGB only
        scene.view_layers[0].use_pass_z = False
        scene.render.filepath = str(Path(out) / f"rgb_{k:04d}.png")
        bpy.ops.render.render(write_still=True)
        scene.view_layers[0].use_pass_z = True  # pass 2: depth through the File Output
        if compat.IS_5:
            scene.compositing_node_group = tree
        else:
            scene.use_nodes = True
        bpy.ops.render.render(write_still=False)
    print(f"NAIVE-SECONDS {time.perf_counter() - t0:.4f}", flush=True)


def orbit_matrix(pose):
    from mathutils import Matrix

    return Matrix(pose)


if __name__ == "__main__":
    try:
        main()
    finally:
        sys.stdout.flush()
        os._exit(0)
