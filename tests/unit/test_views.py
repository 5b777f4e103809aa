"""View layouts (submitter/model/views.py) without Blender: counts, spreads, poses, determinism."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from orbitfarm.submitter.model import views
from orbitfarm.submitter.model.settings import RenderSettings, SettingsError


def _settings(**kw) -> RenderSettings:
    return RenderSettings(**kw).validate()


def _look_at(position, up=(0.0, 0.0, 1.0)):
    """An independent look-at toward the origin with world +Z up (the README's definition)."""
    def norm(v):
        n = math.sqrt(sum(c * c for c in v))
        return [c / n for c in v]

    back = norm(position)
    right = norm([up[1] * back[2] - up[2] * back[1], up[2] * back[0] - up[0] * back[2],
                  up[0] * back[1] - up[1] * back[0]])
    cam_up = [back[1] * right[2] - back[2] * right[1], back[2] * right[0] - back[0] * right[2],
              back[0] * right[1] - back[1] * right[0]]
    return [[right[r], cam_up[r], back[r], position[r]] for r in range(3)] + [[0, 0, 0, 1]]


def _position(pose):
    return [pose[r][3] for r in range(3)]


def _assert_rotation(pose):
    cols = [[pose[r][c] for r in range(3)] for c in range(3)]
    for i in range(3):
        for j in range(3):
            dot = sum(a * b for a, b in zip(cols[i], cols[j], strict=True))
            assert dot == pytest.approx(1.0 if i == j else 0.0, abs=1e-12)
    det = (cols[0][0] * (cols[1][1] * cols[2][2] - cols[1][2] * cols[2][1])
           - cols[0][1] * (cols[1][0] * cols[2][2] - cols[1][2] * cols[2][0])
           + cols[0][2] * (cols[1][0] * cols[2][1] - cols[1][1] * cols[2][0]))
    assert det == pytest.approx(1.0)


def _looks_at_origin(pose):
    forward = [-pose[r][2] for r in range(3)]
    pos = _position(pose)
    dist = math.sqrt(sum(c * c for c in pos))
    assert forward == pytest.approx([-c / dist for c in pos], abs=1e-12)


def test_one_ring_is_todays_orbit():
    s = _settings(frames=8, elevation=20.0)
    assert s.view_count == 8 and s.frame_list() == list(range(1, 9))
    for k in range(1, 9):
        pose = views.view_pose(s, k, 5.0)
        expected = _look_at(views.camera_position(360.0 * k / 8 % 360, 20.0, 5.0))
        for r in range(4):
            assert pose[r] == pytest.approx(expected[r], abs=1e-12)
    assert views.view_point(s, 8).azimuth == 0.0  # frame N: the front view


def test_rings_number_views_ring_by_ring():
    s = _settings(frames=4, elevations=[-15.0, 0.0, 30.0])
    assert s.view_count == 12 and s.frame_list()[-1] == 12
    points = [views.view_point(s, k) for k in range(1, 13)]
    assert [p.elevation for p in points] == [-15.0] * 4 + [0.0] * 4 + [30.0] * 4
    assert [p.azimuth for p in points[4:8]] == [90.0, 180.0, 270.0, 0.0]
    assert [p.ring for p in points] == [0] * 4 + [1] * 4 + [2] * 4
    assert _settings(frames=4, frame_range="9-12", elevations=[0.0, 10.0, 20.0]).frame_list() \
        == [9, 10, 11, 12]
    with pytest.raises(SettingsError, match="outside the orbit's 1-12"):
        _settings(frames=4, frame_range="13", elevations=[-15.0, 0.0, 30.0])


@pytest.mark.parametrize("sampling", views.SAMPLINGS)
@pytest.mark.parametrize("hemisphere", [False, True])
def test_sphere_spreads_views_evenly(sampling, hemisphere):
    n = 200
    s = _settings(layout="sphere", frames=n, sampling=sampling, hemisphere=hemisphere)
    points = [views.view_point(s, k) for k in range(1, n + 1)]
    dirs = [views.camera_position(p.azimuth, p.elevation, 1.0) for p in points]
    zs = [d[2] for d in dirs]
    if hemisphere:
        assert min(zs) >= 0.0
    else:
        assert sum(zs) / n == pytest.approx(0.0, abs=0.02)
    # Equal-area bands in z (Archimedes): each of 4 bands holds a quarter of the views.
    lo, hi = (0.0, 1.0) if hemisphere else (-1.0, 1.0)
    for b in range(4):
        a, c = lo + (hi - lo) * b / 4, lo + (hi - lo) * (b + 1) / 4
        assert sum(a <= z < c or (c == hi and z == hi) for z in zs) == pytest.approx(n / 4, abs=3)
    # No two views (nearly) coincide; the mean of the directions is near the axis.
    nearest = min(min(math.dist(d, e) for e in dirs if e is not d) for d in dirs)
    assert nearest > 0.5 / math.sqrt(n)
    assert abs(sum(d[0] for d in dirs) / n) < 0.05 and abs(sum(d[1] for d in dirs) / n) < 0.05


def test_hammersley_view_1_sits_on_the_pole_and_the_pose_stays_defined():
    s = _settings(layout="sphere", frames=16, sampling="hammersley")
    p = views.view_point(s, 1)
    assert p.elevation == 90.0
    pose = views.view_pose(s, 1, 3.0)
    assert _position(pose) == pytest.approx([0.0, 0.0, 3.0], abs=1e-12)
    _assert_rotation(pose)
    _looks_at_origin(pose)
    # At the poles the image's right axis is the limit of the ring's: (cos a, sin a, 0).
    for e in (90.0, -90.0, 89.9999, -89.9999):
        pose = views.pose_from_angles(30.0, e, 2.0)
        assert [pose[r][0] for r in range(3)] == pytest.approx(
            [math.cos(math.radians(30)), math.sin(math.radians(30)), 0.0], abs=1e-12)
        _assert_rotation(pose)
        _looks_at_origin(pose)


def test_random_views_depend_only_on_seed_and_number():
    s = _settings(layout="random", frames=50, seed=7, radius_range=[1.0, 2.0])
    points = [views.view_point(s, k) for k in range(1, 51)]
    # in any order, and as a subset: the same view
    assert views.view_point(s, 37) == points[36]
    assert views.view_point(_settings(layout="random", frames=80, seed=7,
                                      radius_range=[1.0, 2.0]), 37) == points[36]
    other = [views.view_point(_settings(layout="random", frames=50, seed=8,
                                        radius_range=[1.0, 2.0]), k) for k in range(1, 51)]
    assert all(a.azimuth != b.azimuth for a, b in zip(points, other, strict=True))
    assert all(1.0 <= p.distance <= 2.0 for p in points)
    assert min(p.distance for p in points) < 1.2 and max(p.distance for p in points) > 1.8
    assert min(p.elevation for p in points) < -30 and max(p.elevation for p in points) > 30
    for k in (1, 20, 50):
        pose = views.view_pose(s, k, 4.0)
        assert math.dist(_position(pose), (0, 0, 0)) == pytest.approx(4.0 * points[k - 1].distance)
        _assert_rotation(pose)
        _looks_at_origin(pose)
    upper = _settings(layout="random", frames=50, seed=7, hemisphere=True)
    assert all(views.view_point(upper, k).elevation >= 0 for k in range(1, 51))
    assert all(views.view_point(upper, k).distance == 1.0 for k in range(1, 51))


_PROBE = """
import json, sys
from orbitfarm.submitter.model import views
from orbitfarm.submitter.model.settings import RenderSettings
out = []
for kw in json.loads(sys.argv[1]):
    s = RenderSettings(**kw).validate()
    out.append([views.view_pose(s, k, 3.5) for k in range(1, s.view_count + 1)])
print(json.dumps(out))
"""

LAYOUT_CASES = [
    {"frames": 5, "elevations": [-15.0, 0.0, 30.0]},
    {"layout": "sphere", "frames": 9, "sampling": "fibonacci"},
    {"layout": "sphere", "frames": 9, "sampling": "hammersley", "hemisphere": True},
    {"layout": "random", "frames": 9, "seed": 123, "radius_range": [1.0, 1.5]},
]


def test_poses_are_the_same_in_another_process():
    """Another interpreter, another hash seed: bit-identical poses (JSON round trip exact)."""
    here = [[views.view_pose(RenderSettings(**kw).validate(), k, 3.5)
             for k in range(1, RenderSettings(**kw).view_count + 1)] for kw in LAYOUT_CASES]
    for hash_seed in ("1", "2"):
        result = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(LAYOUT_CASES)],
                                capture_output=True, text=True, check=True,
                                env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert json.loads(result.stdout) == json.loads(json.dumps(here))


def test_view_settings_are_checked_and_hashed():
    base = RenderSettings()
    # at their defaults the new fields leave the settings hash as it was before they existed
    assert base.settings_hash() == RenderSettings(layout="ring", seed=0).settings_hash()
    hashes = {base.settings_hash()}
    for kw in LAYOUT_CASES + [{"fov": 60.0}, {"ortho": True}, {"layout": "random", "seed": 1}]:
        hashes.add(RenderSettings(**kw).settings_hash())
    assert len(hashes) == len(LAYOUT_CASES) + 4  # another layout is "other settings"
    bad = [
        ({"layout": "spiral"}, "--layout must be one of"),
        ({"elevations": [0.0, 95.0]}, "--elevations"),
        ({"elevations": [10.0, 10.0]}, "twice"),
        ({"layout": "sphere", "elevations": [0.0]}, "rings of --layout ring"),
        ({"radius_range": [1.0, 2.0]}, "shell of --layout random"),
        ({"layout": "random", "radius_range": [2.0, 1.0]}, "MIN <= MAX"),
        ({"fov": 0.0}, "--fov"),
        ({"ortho": True, "fov": 30.0}, "has none"),
        ({"ortho": True, "formats": ["colmap"]}, "no orthographic camera model"),
        ({"sampling": "sobol"}, "--sampling"),
    ]
    for kw, message in bad:
        with pytest.raises(SettingsError, match=message):
            RenderSettings(**kw).validate()
    RenderSettings(ortho=True, formats=[]).validate()  # nerfstudio + depth16 only: fine
    # a job spec's whole numbers hash like the CLI's floats
    assert RenderSettings(elevations=[-15, 0, 30], fov=60).validate().settings_hash() == \
        RenderSettings(elevations=[-15.0, 0.0, 30.0], fov=60.0).validate().settings_hash()


def test_layout_is_recorded_for_a_rerun():
    s = _settings(layout="random", frames=9, seed=5, radius_range=[1.0, 1.5], hemisphere=True)
    record = views.layout_record(s)
    assert record == {"layout": "random", "views": 9, "seed": 5, "hemisphere": True,
                      "radius_range": [1.0, 1.5], "projection": "perspective"}
    ring = views.layout_record(_settings(frames=4, elevations=[0.0, 20.0], fov=50.0))
    assert ring["elevations"] == [0.0, 20.0] and ring["views"] == 8 and ring["fov"] == 50.0


def test_rings_chunk_over_every_view_and_the_plan_reads_back(tmp_path):
    from orbitfarm.submitter.model.plan import Plan, make_plan
    from orbitfarm.submitter.model.task import Subject

    s = _settings(frames=3, elevations=[-15.0, 0.0, 30.0])
    subject = Subject(blend=str(tmp_path / "s.blend"), out=str(tmp_path / "out"), name="s")
    plan = make_plan("j", s, [subject], chunk=4)
    assert plan.chunks == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]  # 3 rings x 3 views
    plan.write(tmp_path / "plan.json")
    again = Plan.read(tmp_path / "plan.json")
    assert again.chunks == plan.chunks and again.settings.to_dict() == s.to_dict()
    assert [again.worker_task(i, tmp_path).frames for i in range(3)] == plan.chunks
    # a job spec's settings (JobSpec reads them with from_dict): YAML whole numbers, the same
    # settings as the CLI's
    import yaml

    from_yaml = RenderSettings.from_dict(yaml.safe_load(
        "frames: 3\nlayout: ring\nelevations: [-15, 0, 30]\n"))
    assert from_yaml.settings_hash() == s.settings_hash() and from_yaml.view_count == 9
    with pytest.raises(SettingsError, match="--seed"):
        RenderSettings.from_dict(yaml.safe_load("layout: random\nseed: lots\n"))
