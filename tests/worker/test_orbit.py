"""orbit.py math without Blender: positions, poses, intrinsics, projection round trips."""

from __future__ import annotations

import math

import pytest
from orbitfarm.worker import orbit


def test_azimuth_convention():
    assert orbit.orbit_azimuth(8, 8) == 0.0
    assert orbit.orbit_azimuth(2, 8) == 90.0
    x, y, z = orbit.camera_position(0, 0, 10)
    assert (round(x, 9), round(y, 9), round(z, 9)) == (0, -10, 0)  # front view, on -Y
    x, y, z = orbit.camera_position(90, 0, 10)
    assert (round(x, 9), round(y, 9)) == (10, 0)  # counter-clockwise from above: toward +X
    x, y, z = orbit.camera_position(0, 30, 10)
    assert z == pytest.approx(5.0) and y == pytest.approx(-10 * math.cos(math.radians(30)))


def test_look_at_points_minus_z_at_target_with_z_up():
    m = orbit.orbit_pose(8, 8, 0, 10)
    forward = [-m[r][2] for r in range(3)]
    assert forward == pytest.approx([0, 1, 0])  # looks toward +Y
    assert [m[r][1] for r in range(3)] == pytest.approx([0, 0, 1])  # image up is world +Z
    assert [m[r][0] for r in range(3)] == pytest.approx([1, 0, 0])  # image right is +X
    for k in range(1, 13):
        m = orbit.orbit_pose(k, 12, 40, 7)
        pos = [m[r][3] for r in range(3)]
        fwd = [-m[r][2] for r in range(3)]
        assert [p + 7 * f for p, f in zip(pos, fwd, strict=True)] == pytest.approx([0, 0, 0],
                                                                                 abs=1e-9)
        assert m[2][0] == pytest.approx(0, abs=1e-12)  # no roll: right vector is horizontal


def test_intrinsics_sensor_fit():
    wide = orbit.intrinsics(50, 36, 24, "AUTO", 640, 480)
    assert wide.fl_x == pytest.approx(50 / 36 * 640) and wide.fl_y == wide.fl_x
    assert (wide.cx, wide.cy) == (320, 240)
    tall = orbit.intrinsics(50, 36, 24, "AUTO", 480, 640)
    assert tall.fl_y == pytest.approx(50 / 36 * 640)
    vert = orbit.intrinsics(50, 36, 24, "VERTICAL", 640, 480)
    assert vert.fl_y == pytest.approx(50 / 24 * 480)
    with pytest.raises(ValueError):
        orbit.intrinsics(50, 36, 24, "DIAGONAL", 10, 10)


def test_project_unproject_round_trip_and_auto_radius():
    intr = orbit.intrinsics(50, 36, 24, "AUTO", 160, 90)
    pose = orbit.orbit_pose(3, 10, 25, 6)
    for point in [(0.3, -0.2, 0.1), (1, 1, -1), (0, 0, 0)]:
        u, v, d = orbit.project(point, pose, intr)
        assert orbit.unproject(u, v, d, pose, intr) == pytest.approx(point, abs=1e-9)
    u, v, d = orbit.project((0, 0, 0), pose, intr)
    assert (u, v, d) == pytest.approx((80, 45, 6))  # the origin is the image centre
    # Auto radius: the sphere's tangent cone fills 1/margin of the narrower (vertical) FOV.
    r = orbit.auto_radius(2.0, intr, 1.1)
    assert math.asin(2.0 / r) == pytest.approx(math.atan(45 / intr.fl_y) / 1.1, rel=0.02)
    assert orbit.bounding_radius((-1, -1, -1), (1, 1, 1)) == pytest.approx(math.sqrt(3))
