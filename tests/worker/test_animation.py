"""Every animation kind is detected and skipped; constant keys and moving lights are not."""

from __future__ import annotations

import pytest
from worker_helpers import TINY, result

pytestmark = [pytest.mark.render, pytest.mark.compat]

KINDS = ["animated", "parent_animated", "armature", "shapekey", "driver", "nla", "wave",
         "constraint", "constant", "moving_light"]


@pytest.fixture(scope="module")
def detected(tmp_path_factory, bpy_python, subjects):
    from orbitfarm.submitter import cli

    root = tmp_path_factory.mktemp("anim")
    blends = [subjects.make_subject(bpy_python, root / f"{k}.blend", k)["path"] for k in KINDS]
    code = cli.main(["render", *blends, "--out", str(root / "out"), "--frames", "4",
                     "--frame-range", "4", *TINY])
    return code, {k: result(root / "out" / k) for k in KINDS}


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("constant", "moving_light")])
def test_animated_kinds_are_skipped_with_evidence(detected, kind):
    _, results = detected
    res = results[kind]
    assert res["status"] == "skipped", res
    assert res["animation"], res
    assert res["reason"].startswith("animated subject:")
    assert not res.get("frames")  # nothing rendered


@pytest.mark.parametrize("kind", ["constant", "moving_light"])
def test_static_scenes_with_animation_data_render(detected, kind):
    _, results = detected
    res = results[kind]
    assert res["status"] == "rendered", res
    assert res["animation"] == []
    assert list(res["frames"]) == ["0004"]


def test_exit_code_zero_when_only_skipped_or_rendered(detected):
    code, _ = detected
    assert code == 0
