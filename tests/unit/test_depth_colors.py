"""The depth colour ramp shared by the contact sheet and the panel's thumbnails (no numpy)."""

from __future__ import annotations

import pytest
from orbitfarm.operators import depth_colors


def test_near_is_warm_far_is_cool_no_hit_is_black():
    near, far, miss = depth_colors.colour_map([2.0, 6.0, 1e10])
    assert near == pytest.approx(depth_colors.RAMP[-1]) and far == pytest.approx(depth_colors.RAMP[0])
    assert near[0] > near[2] and far[2] > far[0]
    assert miss == (0.0, 0.0, 0.0)


def test_flat_depth_and_nothing_hit():
    flat = depth_colors.colour_map([3.0, 3.0])
    assert all(c == pytest.approx(depth_colors.RAMP[-1]) for c in flat) and len(flat) == 2
    assert depth_colors.colour_map([1e10]) == [(0.0, 0.0, 0.0)]


def test_ramp_interpolates_between_stops():
    mid = depth_colors.colour(0.5 / (len(depth_colors.RAMP) - 1))
    a, b = depth_colors.RAMP[0], depth_colors.RAMP[1]
    assert all(abs(m - (x + y) / 2) < 1e-9 for m, x, y in zip(mid, a, b, strict=True))
