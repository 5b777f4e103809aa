"""The bash script that runs one plan task on a node: a pure function of its parameters.

Shared by the targets that hand a service a command rather than a script of their own (the
`command` target per task, the Deadline Cloud step, accsyn's compute job): the plan index comes
in as a literal number or as the service's own substitution (`{{Task.Param.Index}}` in OpenJD),
the log goes to JOBDIR/logs/<task>.log, the profile's per-OS environment and setup lines run
before the worker. Everything from users is quoted with shlex.
"""

from __future__ import annotations

import re
import shlex

from ..files.layout import LOG_DIR
from ..launch.runtime import Runtime, legacy_plan_worker_argv, plan_worker_argv

INDEX_VARIABLE = "ORBITFARM_PLAN_INDEX"  # the script exports the plan index here for the worker
# A number, a shell variable, or a template engine's placeholder that becomes a number.
_INDEX = re.compile(r"^(\d+|\$[A-Za-z_][A-Za-z0-9_]*|\{\{ *[A-Za-z][A-Za-z0-9_.]* *\}\})$")


def task_script(*, job_dir: str, plan_file: str, code_dir: str, runtime: Runtime, index: str,
                task_id_digits: int, env: dict[str, str] | None = None,
                setup: list[str] | None = None, note: str = "",
                legacy_worker: bool = False, pick: list[str] | None = None) -> str:
    """Bash text that runs plan task `index` (paths as the node sees them) and exits with the
    worker's code. `index`: a number, `$VAR`, or `{{Param}}` replaced by a template engine;
    `pick`: shell lines (the target's own, never a user's) that set that $VAR first."""
    if not _INDEX.match(index):
        raise ValueError(f"index must be a number, $VARIABLE or {{{{Param}}}}, got {index!r}")
    q = shlex.quote
    if legacy_worker:
        worker = shlex.join(legacy_plan_worker_argv(runtime, code_dir, plan_file, "I")[:-1])
        worker += ' "$INDEX"'
    else:
        worker = shlex.join(plan_worker_argv(runtime, code_dir, plan_file, INDEX_VARIABLE, 0))
    lines = [
        "#!/bin/bash",
        f"# orbitfarm: one task of a job{': ' + note if note else ''}.",
        f"JOB_DIR={q(job_dir)}",
        *(pick or []),
        f"INDEX={index}",
        'cd "$JOB_DIR" || exit 1',
        f"printf -v TASK 't%0{task_id_digits}d' \"$INDEX\"",
        f'exec >>"$JOB_DIR/{LOG_DIR}/$TASK.log" 2>&1',
        'echo "orbitfarm: task $TASK (plan index $INDEX) on $(hostname)"',
    ]
    if env:
        lines += ["", "# environment (from the target profile)"]
        lines += [f"export {name}={q(value)}" for name, value in env.items()]
    if setup:
        lines += ["", "# environment set-up (from the target profile)", *setup]
    lines += [
        "",
        f'export PYTHONUNBUFFERED=1 PYTHONIOENCODING=utf-8 {INDEX_VARIABLE}="$INDEX"',
        worker,
        "",
    ]
    return "\n".join(lines)
