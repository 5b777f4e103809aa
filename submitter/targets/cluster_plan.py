"""The plan file cluster nodes read: plan.json, or a copy with paths as the cluster mounts them.

Shared by the targets whose nodes may mount the job directory and outputs at other paths
(path_map): SLURM, Grid Engine, HTCondor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..files.atomic import atomic_write_text
from .pathmap import PathMap

if TYPE_CHECKING:
    from ..files.jobdir import JobDir

CLUSTER_PLAN = "plan.cluster.json"


def cluster_plan_file(job: JobDir, mapping: PathMap) -> str:
    """The plan path nodes open: plan.json, or a path-mapped copy when mount points differ."""
    if not mapping:
        return str(job.plan_file)
    from ..model.plan import Plan
    from ..model.task import Subject

    plan = job.plan
    mapped = Plan(plan.job_id, plan.settings,
                  [Subject(blend=mapping.to_remote(s.blend), out=mapping.to_remote(s.out),
                           name=s.name) for s in plan.subjects],
                  plan.chunks, group=plan.group, all_frames=plan.all_frames,
                  force=plan.force, subject_timeout=plan.subject_timeout, extra=plan.extra)
    atomic_write_text(job.path / CLUSTER_PLAN, mapped.to_json(job.path))
    return mapping.to_remote(job.path / CLUSTER_PLAN)
