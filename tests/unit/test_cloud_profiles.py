"""The cloud service kinds read the nodes' environment as every target does (node_env's `env`,
flat or per OS): their containers run Linux, so `common` then `linux`. Pure: no SDK needed."""

from __future__ import annotations

import pytest
from orbitfarm.submitter.targets import make_target, target_class
from orbitfarm.submitter.targets.base import TargetError

PROFILES = {
    "pai-dlc": {"ecs_spec": "ecs.gn6i-c4g1.xlarge", "image": "r/blender:4.5"},
    "ngc": {"org": "o", "ace": "a", "image": "o/blender:4.5", "instances": ["dgx1v.16g.1.norm"]},
    "batchcompute": {"image": "localhost:5000/blender", "cluster": "cls-1",
                     "logs": "oss://bucket/logs/"},
}
ENV = {"common": {"STUDIO": "acme", "OCIO": "/common.ocio", "THREADS": 8},
       "linux": {"OCIO": "/mnt/linux.ocio"}, "windows": {"OCIO": "S:\\win.ocio"}}


@pytest.mark.parametrize("kind", sorted(PROFILES))
def test_env_per_os_gives_the_linux_containers_common_then_linux(kind):
    target = make_target({"kind": kind, **PROFILES[kind], "env": ENV})
    assert target.options.env == {"STUDIO": "acme", "OCIO": "/mnt/linux.ocio", "THREADS": "8"}
    flat = make_target({"kind": kind, **PROFILES[kind], "env": {"A": "1"}})
    assert flat.options.env == {"A": "1"}


@pytest.mark.parametrize("kind", sorted(PROFILES))
def test_bad_env_is_refused_in_one_line(kind):
    with pytest.raises(TargetError, match="not a valid environment variable name"):
        target_class_check(kind, {"env": {"1BAD": "x"}})
    with pytest.raises(TargetError, match="unknown key.*envs"):
        target_class_check(kind, {"envs": {"A": "1"}})


def target_class_check(kind: str, extra: dict) -> None:
    target_class(kind).check_profile({"kind": kind, **PROFILES[kind], **extra})
