"""The colour ramp depth is shown with (contact sheet, panel and web-page thumbnails): near warm,
far cool.

Plain Python (no numpy) so Blender builds without numpy (Debian's) can use it.
"""

from __future__ import annotations

NO_HIT = 1e9  # the worker writes 1e10 where a ray hits nothing

# A compact perceptual ramp (dark blue -> cyan -> yellow -> red), near = warm.
RAMP: list[tuple[float, float, float]] = [
    (0.19, 0.07, 0.23), (0.16, 0.47, 0.89), (0.10, 0.90, 0.70),
    (0.64, 0.99, 0.23), (0.98, 0.73, 0.22), (0.90, 0.23, 0.06), (0.48, 0.02, 0.01),
]


def colour(t: float) -> tuple[float, float, float]:
    """The ramp at t in 0..1 (0 = farthest, 1 = nearest), linearly interpolated."""
    pos = min(max(t, 0.0), 1.0) * (len(RAMP) - 1)
    lo = min(int(pos), len(RAMP) - 2)
    frac = pos - lo
    a, b = RAMP[lo], RAMP[lo + 1]
    return (a[0] + (b[0] - a[0]) * frac, a[1] + (b[1] - a[1]) * frac,
            a[2] + (b[2] - a[2]) * frac)


def colour_map(depth: list[float]) -> list[tuple[float, float, float]]:
    """Per-pixel colours between the nearest and farthest hit; no-hit pixels black."""
    hits = [d for d in depth if d < NO_HIT]
    if not hits:
        return [(0.0, 0.0, 0.0)] * len(depth)
    near, far = min(hits), max(hits)
    span = far - near
    return [colour(1.0 - (d - near) / span if span > 0 else 1.0) if d < NO_HIT
            else (0.0, 0.0, 0.0) for d in depth]
