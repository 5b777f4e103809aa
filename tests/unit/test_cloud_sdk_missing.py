"""Without its SDK (the dev venv has none: they live in .venv-cloud), a cloud target that must
talk to its service says so in one line naming the package, not with a traceback. Nothing is
contacted: the SDK import is the first thing each target does before a request."""

from __future__ import annotations

import importlib.util

import pytest
from orbitfarm.submitter.targets import make_target
from orbitfarm.submitter.targets.base import TargetError

PROFILES = {
    "pai-dlc": ("alibabacloud_pai_dlc20201203", "alibabacloud-pai-dlc20201203",
                {"ecs_spec": "ecs.gn6i-c4g1.xlarge", "image": "r/blender:4.5"}),
    "ngc": ("ngcsdk", "ngcsdk", {"org": "o", "ace": "a", "image": "o/blender:4.5",
                                 "instances": ["dgx1v.16g.1.norm"]}),
    "batchcompute": ("batchcompute", "batchcompute",
                     {"image": "localhost:5000/blender", "cluster": "cls-1",
                      "logs": "oss://bucket/logs/"}),
}


@pytest.mark.parametrize("kind", sorted(PROFILES))
def test_check_without_the_sdk_is_one_line_naming_the_package(kind, monkeypatch):
    module, package, profile = PROFILES[kind]
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    monkeypatch.delenv("NGC_CLI_TRACE_DISABLE", raising=False)  # the ngc target sets it
    target = make_target({"kind": kind, **profile})
    with pytest.raises(TargetError) as caught:
        target.check()
    message = str(caught.value)
    assert "pip install" in message and package in message and "\n" not in message
