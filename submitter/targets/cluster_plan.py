"""The plan file cluster nodes read: plan.json itself, or a copy with paths as the nodes see them.

Shared by the targets whose nodes may mount the job directory somewhere else (`path_map`):
SLURM, Grid Engine, HTCondor, Kubernetes, Ray, and the cloud targets (container_line.NodeView).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..files.atomic import atomic_write_text
from ..files.layout import CLUSTER_PLAN
from .pathmap import PathMap

if TYPE_CHECKING:
    from ..files.jobdir import JobDir


def cluster_plan_file(job: JobDir, mapping: PathMap) -> str:
    """Path (as nodes see it) of the plan they read; writes the mapped copy when needed."""
    if not mapping:
        return str(job.plan_file)
    from ..model.plan import Plan
    from ..model.task import Subject  # noqa: I001 (only when paths are mapped)

    plan = job.plan
    mapped = Plan(plan.job_id, plan.settings,
                  [Subject(blend=mapping.to_remote(s.blend), out=mapping.to_remote(s.out),
                           name=s.name) for s in plan.subjects],
                  plan.chunks, group=plan.group, all_frames=plan.all_frames,
                  force=plan.force, subject_timeout=plan.subject_timeout, extra=plan.extra)
    atomic_write_text(job.path / CLUSTER_PLAN, mapped.to_json(job.path))
    return mapping.to_remote(job.path / CLUSTER_PLAN)
