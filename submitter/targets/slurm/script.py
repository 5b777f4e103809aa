"""The sbatch script of one job array: a pure function of its parameters, readable as text.

Nothing here runs a command or touches the disk. The script is written into the job directory
(JOBDIR/slurm/array-N.sh) so a user can read it, and submit it again by hand if they like.

What comes from users (paths, job names, runtime paths) only ever appears in the shell body,
quoted with shlex. `#SBATCH` lines carry validated resource values and paths relative to the job
directory (sbatch runs there), because sbatch's own parser of those lines knows no shell quoting.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, fields
from typing import Any

from ...files.layout import LOG_DIR, SLURM_DIR
from ...launch.runtime import Runtime, legacy_plan_worker_argv, plan_worker_argv
from ..arrays import ArrayChunk
from .units import UnitError, parse_mem, parse_time

DEFAULT_TIME = "12:00:00"
DEFAULT_GPUS = 1
INDEX_VARIABLE = "SLURM_ARRAY_TASK_ID"  # SLURM sets it to the element's array index

# Resource values that end up on #SBATCH lines: names, lists, ranges, no whitespace or quotes.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.,:=+\-/\[\]@%&|!*()]+$")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.+-]+")


class ScriptError(ValueError):
    """A SLURM option in a profile or on the command line is unusable; message says which."""


@dataclass
class SlurmOptions:
    """The sbatch side of a SLURM profile (targets YAML / `orbitfarm submit --target slurm`)."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str = DEFAULT_TIME
    gpus: int | str | None = DEFAULT_GPUS  # `--gpus` per task (0/None: no GPU request)
    gres: str | None = None  # instead of gpus, e.g. "gpu:h100:1"
    cpus_per_task: int | None = None
    mem: str | None = None
    constraint: str | None = None
    exclude: str | None = None
    nodelist: str | None = None
    array_throttle: int | None = None  # `%N`: at most N elements of the array run at once
    extra_sbatch: list[str] = field(default_factory=list)  # raw option text after "#SBATCH "
    setup: list[str] = field(default_factory=list)  # shell lines before the worker line

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> SlurmOptions:
        """The known sbatch keys of a profile (other keys belong to the target), validated."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in profile.items() if k in names and v is not None}
        for key in ("extra_sbatch", "setup"):
            if isinstance(values.get(key), str):
                values[key] = [values[key]]
        return cls(**values).validate()

    def validate(self) -> SlurmOptions:
        """Raise ScriptError naming the bad option; return self."""
        for name in ("partition", "account", "qos", "gres", "constraint", "exclude", "nodelist"):
            value = getattr(self, name)
            if value is not None and not _SAFE_VALUE.match(str(value)):
                raise ScriptError(
                    f"SLURM option {name}={value!r} has characters SLURM does not accept "
                    "(spaces, quotes, newlines); give a plain name or list like 'a,b'"
                )
        try:
            parse_time(self.time)
            if self.mem is not None:
                parse_mem(self.mem)
        except UnitError as exc:
            raise ScriptError(str(exc)) from None
        if self.gpus is not None and str(self.gpus) != "0" and not _SAFE_VALUE.match(str(self.gpus)):
            raise ScriptError(f"gpus must be a count like 1 or type:count like h100:1, "
                              f"got {self.gpus!r}")
        for name in ("cpus_per_task", "array_throttle"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ScriptError(f"{name} must be a whole number >= 1, got {value!r}")
        for line in self.extra_sbatch:
            if not isinstance(line, str) or "\n" in line or "\r" in line or not line.strip():
                raise ScriptError(f"extra_sbatch entries must be single non-empty lines, "
                                  f"got {line!r}")
        for line in self.setup:
            if not isinstance(line, str) or "\0" in line:
                raise ScriptError(f"setup entries must be shell lines (text), got {line!r}")
        return self

    def sbatch_lines(self) -> list[str]:
        """The resource `#SBATCH` options in a fixed order (values already validated)."""
        lines = [f"--time={self.time}"]
        if self.gres:
            lines.append(f"--gres={self.gres}")
        elif self.gpus not in (None, 0, "0", ""):
            lines.append(f"--gpus={self.gpus}")
        optional = (("partition", self.partition), ("account", self.account), ("qos", self.qos),
                    ("cpus-per-task", self.cpus_per_task), ("mem", self.mem),
                    ("constraint", self.constraint), ("exclude", self.exclude),
                    ("nodelist", self.nodelist))
        lines += [f"--{name}={value}" for name, value in optional if value is not None]
        lines += [line.strip() for line in self.extra_sbatch]
        return lines


def job_name(job_id: str, label: str = "") -> str:
    """A SLURM job name from the job id (and a user label), reduced to safe characters."""
    name = "orbitfarm-" + "-".join(p for p in (label, job_id) if p)
    return _NAME_CHARS.sub("_", name)[:100]


def build_script(
    *,
    name: str,
    job_dir: str,
    plan_file: str,
    code_dir: str,
    runtime: Runtime,
    chunk: ArrayChunk,
    task_id_digits: int,
    options: SlurmOptions,
    attempt: int = 1,
    legacy_worker: bool = False,
) -> str:
    """The sbatch script text for one array of tasks (paths as the cluster nodes see them).

    The worker reads its task from $SLURM_ARRAY_TASK_ID plus the array's offset itself; the
    shell only derives $INDEX and $TASK for the log file's name and the profile's setup lines
    (documented to see them). `legacy_worker`: the job's code copy predates --index-env."""
    q = shlex.quote
    header = [
        "#!/bin/bash",
        f"# orbitfarm: {len(chunk.indices)} task(s) of job {name}, attempt {attempt}.",
        f"# Array element i runs task index {chunk.offset} + i of the plan; its log is",
        f"# {LOG_DIR}/tNNNNN.log and SLURM's own messages go to {SLURM_DIR}/<jobid>_<i>.out.",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --array={chunk.array_spec(options.array_throttle)}",
        f"#SBATCH --output={SLURM_DIR}/%A_%a.out",
        "#SBATCH --open-mode=append",
    ]
    header += [f"#SBATCH {line}" for line in options.sbatch_lines()]
    if legacy_worker:
        worker = shlex.join(legacy_plan_worker_argv(runtime, code_dir, plan_file, "INDEX")[:-1])
        worker += ' "$INDEX"'
    else:
        worker = shlex.join(plan_worker_argv(runtime, code_dir, plan_file, INDEX_VARIABLE,
                                             chunk.offset))
    body = [
        "",
        f"JOB_DIR={q(job_dir)}",
        'cd "$JOB_DIR" || exit 1',
        f"INDEX=$((SLURM_ARRAY_TASK_ID + {chunk.offset}))",
        f"printf -v TASK 't%0{task_id_digits}d' \"$INDEX\"",
        f'exec >>"$JOB_DIR/{LOG_DIR}/$TASK.log" 2>&1',
        'echo "orbitfarm: task $TASK (plan index $INDEX) on $(hostname)'
        ' as SLURM job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
    ]
    if options.setup:
        body += ["", "# environment set-up (from the target profile)"]
        body += list(options.setup)
    body += [
        "",
        "export PYTHONUNBUFFERED=1 PYTHONIOENCODING=utf-8",
        f"exec {worker}",
        "",
    ]
    return "\n".join(header + body)
