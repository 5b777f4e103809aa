"""The HTCondor submit description of one orbitfarm submission: pure functions, read as text.

Nothing here talks to a schedd or touches the disk. One submission is one cluster of procs,
`queue Index from (...)`: proc p runs plan index Index (the list makes retries of scattered
tasks as easy as a whole job). Every proc carries +OrbitfarmJob and +OrbitfarmIndex, so status
maps the schedd's answers back to tasks from the job ads alone. The executable is a small bash
script (written to JOBDIR/htcondor/task.sh) that runs the profile's setup lines, then the worker.

What comes from users only reaches the submit language as validated values: submit lines are
`key = value` up to the end of the line, so newlines are refused everywhere, and string
attributes are written as ClassAd string literals.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field, fields
from typing import Any

from ...files.layout import HTCONDOR_DIR, LOG_DIR
from ...launch.runtime import Runtime, legacy_plan_worker_argv, plan_worker_argv

TASK_SCRIPT = "task.sh"
INDEX_VARIABLE = "ORBITFARM_TASK_INDEX"  # the environment variable the task's index is in
SHARED = "shared"  # job directory and outputs on a filesystem the execute nodes mount
TRANSFER = "transfer"  # HTCondor's file transfer: inputs spooled up, outputs back
FILESYSTEMS = (SHARED, TRANSFER)

_MEMORY = re.compile(r"^\d+(\.\d+)?\s*([KMGT]B?)?$", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.+-]+")


class SubmitError(ValueError):
    """An HTCondor option in a profile or on the command line is unusable; says which."""


@dataclass
class HtcondorOptions:
    """The submit side of an HTCondor profile (targets YAML / `orbitfarm submit`)."""

    request_cpus: int = 1
    request_memory: str = "4GB"
    request_gpus: int = 1  # 0: no GPU
    request_disk: str | None = None
    requirements: str | None = None  # a ClassAd expression, e.g. 'OpSysMajorVer == 12'
    accounting_group: str | None = None  # e.g. group_vis.alice -> accounting_group
    max_materialize: int | None = None  # at most N procs of the cluster exist at once
    filesystem: str = SHARED  # shared | transfer
    extra_submit: dict[str, str] = field(default_factory=dict)  # more `key = value` lines
    setup: list[str] = field(default_factory=list)  # shell lines before the worker line

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> HtcondorOptions:
        """The known submit keys of a profile (other keys belong to the target), validated."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in profile.items() if k in names and v is not None}
        if isinstance(values.get("setup"), str):
            values["setup"] = [values["setup"]]
        return cls(**values).validate()

    def validate(self) -> HtcondorOptions:
        """Raise SubmitError naming the bad option; return self."""
        for name in ("request_cpus", "request_gpus", "max_materialize"):
            value = getattr(self, name)
            low = 0 if name == "request_gpus" else 1
            if value is not None and (not isinstance(value, int) or value < low):
                raise SubmitError(f"{name} must be a whole number >= {low}, got {value!r}")
        for name in ("request_memory", "request_disk"):
            value = getattr(self, name)
            if value is not None and not _MEMORY.match(str(value)):
                raise SubmitError(f"{name} must be a size like 4GB or 512MB, got {value!r}")
        if self.filesystem not in FILESYSTEMS:
            raise SubmitError(f"filesystem must be one of {', '.join(FILESYSTEMS)}, "
                              f"got {self.filesystem!r}")
        for name in ("requirements", "accounting_group"):
            _one_line(name, getattr(self, name))
        if self.accounting_group is not None and not re.match(r"^[A-Za-z0-9_.@-]+$",
                                                               self.accounting_group):
            raise SubmitError(f"accounting_group must look like group_name.user, "
                              f"got {self.accounting_group!r}")
        if not isinstance(self.extra_submit, dict):
            raise SubmitError("extra_submit must be a mapping of submit keys to values")
        for key, value in self.extra_submit.items():
            if not _ATTRIBUTE.match(str(key).lstrip("+")):
                raise SubmitError(f"extra_submit key {key!r} is not a submit command name")
            _one_line(f"extra_submit {key}", str(value))
        for line in self.setup:
            if not isinstance(line, str) or "\0" in line:
                raise SubmitError(f"setup entries must be shell lines (text), got {line!r}")
        return self


def _one_line(name: str, value: str | None) -> None:
    if value is not None and ("\n" in value or "\r" in value):
        raise SubmitError(f"{name} must be a single line, got {value!r}")


def classad_string(text: str) -> str:
    """A ClassAd string literal (quotes and backslashes escaped)."""
    return json.dumps(text, ensure_ascii=False, allow_nan=False)


def batch_name(job_id: str) -> str:
    """The JobBatchName of an orbitfarm job (condor_q groups procs by it)."""
    return _NAME_CHARS.sub("_", f"orbitfarm-{job_id}")[:200]


def task_script(*, job_dir: str, plan_file: str, code_dir: str, runtime: Runtime,
                task_id_digits: int, setup: list[str], legacy_worker: bool = False) -> str:
    """The bash executable every proc runs with its plan index as $1 (paths as nodes see them).

    The worker reads its task from $ORBITFARM_TASK_INDEX (set by the submit description);
    `legacy_worker`: the job's code copy predates --index-env, so it gets the index itself."""
    q = shlex.quote
    if legacy_worker:
        worker = shlex.join(legacy_plan_worker_argv(runtime, code_dir, plan_file, "INDEX")[:-1])
        worker += ' "$INDEX"'
    else:
        worker = shlex.join(plan_worker_argv(runtime, code_dir, plan_file, INDEX_VARIABLE))
    lines = [
        "#!/bin/bash",
        "# orbitfarm: one task of the plan per HTCondor proc; its index is the first argument",
        f"# (also in ${INDEX_VARIABLE}). The worker's log is {LOG_DIR}/tNNNNN.log; HTCondor's",
        f"# own output of the proc goes to {HTCONDOR_DIR}/<cluster>.<proc>.out.",
        f"JOB_DIR={q(job_dir)}",
        'cd "$JOB_DIR" || exit 1',
        'INDEX=$1',
        f"printf -v TASK 't%0{task_id_digits}d' \"$INDEX\"",
        f'exec >>"$JOB_DIR/{LOG_DIR}/$TASK.log" 2>&1',
        'echo "orbitfarm: task $TASK (plan index $INDEX) on $(hostname)'
        ' as HTCondor job $CONDOR_ID"',
    ]
    if setup:
        lines += ["", "# environment set-up (from the target profile)", *setup]
    lines += ["", "export PYTHONUNBUFFERED=1 PYTHONIOENCODING=utf-8",
              f"exec {worker}", ""]
    return "\n".join(lines)


def description(*, job_id: str, job_dir: str, indices: list[int], attempt: int,
                options: HtcondorOptions) -> dict[str, str]:
    """The submit description (without its queue statement) of one cluster of procs.

    Submit it with `queue Index from (...)` over `indices` (htcondor.Submit + itemdata).
    """
    if not indices:
        raise SubmitError("nothing to submit")
    for path in (job_dir,):
        _one_line("job directory", path)
    folder = f"{job_dir}/{HTCONDOR_DIR}"
    desc = {
        "universe": "vanilla",
        "executable": f"{folder}/{TASK_SCRIPT}",
        "arguments": "$(Index)",
        # The submitting process's folder may not exist on the execute nodes; this one does.
        "initialdir": job_dir,
        "environment": f'"{INDEX_VARIABLE}=$(Index) CONDOR_ID=$(ClusterId).$(ProcId)"',
        "output": f"{folder}/$(ClusterId).$(ProcId).out",
        "error": f"{folder}/$(ClusterId).$(ProcId).out",
        "log": f"{folder}/events.log",
        "JobBatchName": batch_name(job_id),
        "+OrbitfarmJob": classad_string(job_id),
        "+OrbitfarmIndex": "$(Index)",
        "+OrbitfarmAttempt": str(attempt),
        "request_cpus": str(options.request_cpus),
        "request_memory": str(options.request_memory).replace(" ", ""),
        # A worker that dies is a failed task (orbitfarm retries), not a job to run again.
        "on_exit_remove": "true",
    }
    if options.request_gpus:
        desc["request_gpus"] = str(options.request_gpus)
    if options.request_disk:
        desc["request_disk"] = str(options.request_disk).replace(" ", "")
    if options.requirements:
        desc["requirements"] = options.requirements
    if options.accounting_group:
        desc["accounting_group"] = options.accounting_group
        desc["+AccountingGroup"] = classad_string(options.accounting_group)
    if options.max_materialize:
        desc["max_materialize"] = str(options.max_materialize)
    if options.filesystem == SHARED:
        desc["should_transfer_files"] = "NO"
    else:
        desc["should_transfer_files"] = "YES"
        desc["when_to_transfer_output"] = "ON_EXIT_OR_EVICT"
    for key, value in options.extra_submit.items():
        desc[str(key)] = str(value)
    return desc


def submit_text(desc: dict[str, str], indices: list[int]) -> str:
    """The description as a submit file (what `condor_submit` would read), for people and tests."""
    lines = [f"{key} = {value}" for key, value in desc.items()]
    lines += ["queue Index from (", *(str(i) for i in indices), ")", ""]
    return "\n".join(lines)
