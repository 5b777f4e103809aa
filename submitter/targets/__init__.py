"""Targets: where tasks run (local, SLURM, ...). A registry of kinds, imported lazily.

One sub-package per engine (local/, slurm/, ray/, kubernetes/; a new scheduler or cloud service is a new one)
behind the interface in base.py; shared helpers beside it: arrays.py (array splitting),
pathmap.py (path mapping), remote.py (commands over ssh, shell quoting), options.py (each kind's
`submit` options), profiles.py (targets.yaml). Each kind maps to "module:Class" inside this
package and is imported only when used, so a missing or broken target module breaks only its
own kind. May import model/, files/ and launch/; never jobs/ or cli/.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import Target, TargetError

TARGET_KINDS: dict[str, str] = {
    "local": ".local.target:LocalTarget",
    "slurm": ".slurm.target:SlurmTarget",
    "sge": ".sge.target:SgeTarget",
    "htcondor": ".htcondor.target:HtcondorTarget",
    "ray": ".ray.target:RayTarget",
    "kubernetes": ".kubernetes.target:KubernetesTarget",
    "command": ".command.target:CommandTarget",
    "deadline-cloud": ".deadline_cloud.target:DeadlineCloudTarget",
    "accsyn": ".accsyn.target:AccsynTarget",
    # Cloud services, each through its own official SDK (imported on first use).
    "pai-dlc": ".pai_dlc.target:PaiDlcTarget",
    "ngc": ".ngc.target:NgcTarget",
    "batchcompute": ".batchcompute.target:BatchComputeTarget",
}


def target_class(kind: str) -> type[Target]:
    """The Target subclass registered for `kind` (raises TargetError with the known kinds)."""
    ref = TARGET_KINDS.get(kind)
    if ref is None:
        raise TargetError(
            f"unknown target kind {kind!r}; known kinds: {', '.join(sorted(TARGET_KINDS))}"
        )
    module_name, _, class_name = ref.partition(":")
    try:
        module = importlib.import_module(module_name, __name__)
    except ImportError as exc:
        raise TargetError(f"the {kind!r} target is not available here: {exc}") from None
    cls = getattr(module, class_name)
    return cls


def make_target(profile: dict[str, Any]) -> Target:
    """Build a target from a profile dict (needs 'kind'; defaults to local)."""
    kind = profile.get("kind", "local")
    return target_class(kind)(profile=dict(profile, kind=kind))


def available_kinds() -> dict[str, type[Target] | str]:
    """Every registered kind -> its class, or the reason it cannot be imported."""
    found: dict[str, type[Target] | str] = {}
    for kind in TARGET_KINDS:
        try:
            found[kind] = target_class(kind)
        except TargetError as exc:
            found[kind] = str(exc)
    return found
