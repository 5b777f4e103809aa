"""--normalize: scale an imported subject to a unit size, recording how to map back.

As TRELLIS does, the subject's box is centred and scaled so it fits the unit cube (largest side
1, i.e. [-0.5, 0.5]^3) or the unit sphere (the box's bounding sphere has radius 1); poses and
depth are then in normalized units, and result.json records `scale` and `offset` with
normalized = (source + offset) * scale, so a pose maps back to the source file's units.
All top-level objects are parented to one scaling empty: the imported scene is ours (fresh),
so nothing of the artist's set-up is fought; .blend subjects are never normalized.
"""

from __future__ import annotations

import math
from typing import Any

import bpy

from .bounds import Box

PIVOT_NAME = "orbitfarm_normalize"


def scale_for(box: Box, mode: str) -> float:
    """The factor that makes `box` fit the unit size of `mode`."""
    size = [b - a for a, b in zip(*box, strict=True)]
    if mode == "unit-cube":
        extent = max(size)
    elif mode == "unit-sphere":
        extent = 0.5 * math.sqrt(sum(s * s for s in size))
    else:
        raise ValueError(f"unknown normalize mode {mode!r}")
    return 1.0 / max(extent, 1e-12)


def normalize(scene: Any, box: Box, mode: str) -> dict[str, Any]:
    """Move and scale the whole imported scene so `box` fits the unit size; the record."""
    scale = scale_for(box, mode)
    center = [(a + b) / 2 for a, b in zip(*box, strict=True)]
    pivot = bpy.data.objects.new(PIVOT_NAME, None)
    scene.collection.objects.link(pivot)
    for obj in list(scene.objects):
        if obj.parent is None and obj is not pivot:
            obj.parent = pivot  # the pivot is the identity now: no parent inverse needed
    pivot.scale = (scale, scale, scale)
    pivot.location = tuple(-c * scale for c in center)
    for layer in scene.view_layers:
        layer.update()
    return {"mode": mode, "scale": scale, "offset": [-c for c in center],
            "convention": "normalized = (source + offset) * scale"}
