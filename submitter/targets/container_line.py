"""The shell line a cloud service's container runs: the service's own index -> plan index -> worker.

Shared by the cloud targets whose service starts N copies of one command (PAI-DLC's pods,
BatchCompute's instances) or one command per task (NGC, PAI-DLC per task). Each copy learns
which of its unit's plan indices it runs from a variable the service sets (RANK on PAI-DLC,
BATCH_COMPUTE_DAG_INSTANCE_ID on BatchCompute), or the unit has one index written in. The
worker then reads ORBITFARM_PLAN_INDEX. Its output goes to the task's log in the job directory
(mounted in the container at the path_map's remote side); until the directory is there,
messages go to the service's own log (stdout), which `orbitfarm logs` fetches as a fallback.
Pure: nothing here talks to a service.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..files.layout import LOG_DIR
from ..launch.runtime import Runtime, plan_worker_argv
from ..model.frames import format_frame_list
from .cluster_plan import cluster_plan_file
from .pathmap import PathMap
from .task_script import INDEX_VARIABLE

if TYPE_CHECKING:
    from ..files.jobdir import JobDir


@dataclass(frozen=True)
class NodeView:
    """A job as the containers see it: its directory, plan and code copy (path_map applied),
    the runtime that starts the worker, and the width of task ids."""

    job_dir: str
    plan_file: str
    code_dir: str
    runtime: Runtime
    id_width: int

    @classmethod
    def of(cls, job: JobDir, mapping: PathMap, runtime: Runtime) -> NodeView:
        """Writes the mapped plan copy when paths are mapped (cluster_plan_file)."""
        return cls(mapping.to_remote(job.path), cluster_plan_file(job, mapping),
                   mapping.to_remote(job.code_dir), runtime, job.plan.task_id_digits)


def index_lines(indices: list[int], copy_variable: str | None) -> list[str]:
    """Shell lines that set INDEX: the only index, offset + copy number, or the copy's entry."""
    if not indices:
        raise ValueError("a unit runs at least one plan index")
    if copy_variable is None or len(indices) == 1:
        if copy_variable is None and len(indices) != 1:
            raise ValueError("several plan indices need the variable that numbers the copies")
        return [f"INDEX={int(indices[0])}"]
    count = len(indices)
    guard = (f'case "${{{copy_variable}:-}}" in ""|*[!0-9]*) '
             f'echo "orbitfarm: {copy_variable} is not set to a copy number"; exit 2;; esac',
             f'[ "${copy_variable}" -lt {count} ] || {{ echo "orbitfarm: copy '
             f'${copy_variable} of {count}: no task for it"; exit 2; }}')
    if indices == list(range(indices[0], indices[0] + count)):
        return [*guard, f"INDEX=$(({indices[0]} + {copy_variable}))"]
    listed = " ".join(str(int(i)) for i in indices)
    return [*guard, f'set -- {listed}; shift "${copy_variable}"; INDEX=$1']


def container_line(view: NodeView, setup: list[str], indices: list[int],
                   copy_variable: str | None = None) -> str:
    """The `sh -c` text that runs one task of `indices` (see the module's docstring)."""
    q = shlex.quote
    worker = shlex.join(plan_worker_argv(view.runtime, view.code_dir, view.plan_file,
                                         INDEX_VARIABLE, 0))
    lines = [
        "set -u",
        f"# orbitfarm plan indices {format_frame_list(sorted(indices))}",
        *index_lines(indices, copy_variable),
        f"TASK=$(printf 't%0{view.id_width}d' \"$INDEX\")",
        f"JOB_DIR={q(view.job_dir)}",
        'echo "orbitfarm: task $TASK (plan index $INDEX) on ${HOSTNAME:-?}"',
        'cd "$JOB_DIR" || { echo "orbitfarm: job directory $JOB_DIR is not mounted"; exit 2; }',
        f'exec >>"$JOB_DIR/{LOG_DIR}/$TASK.log" 2>&1',
        'echo "orbitfarm: task $TASK (plan index $INDEX) on ${HOSTNAME:-?}"',
        *setup,
        f"export PYTHONUNBUFFERED=1 PYTHONIOENCODING=utf-8 {INDEX_VARIABLE}=$INDEX",
        f"exec {worker}",
    ]
    return "\n".join(lines) + "\n"
