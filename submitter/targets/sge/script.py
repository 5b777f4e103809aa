"""The qsub script of one Grid Engine array job: a pure function of its parameters, read as text.

Nothing here runs a command or touches the disk. The script is written into the job directory
(JOBDIR/sge/array-N.sh) so a user can read it, and submit it again by hand if they like.

Grid Engine array tasks are numbered 1..N (`qsub -t 1-N`, no lists), so an array runs either a
run of consecutive plan indices (`INDEX = offset + SGE_TASK_ID - 1`) or, for retries of scattered
tasks, an explicit list of indices written into the script. What comes from users (paths, setup
lines) only appears in the shell body, quoted with shlex; `#$` lines carry validated values and
paths relative to the job directory (qsub runs there with -cwd), because qsub's parser of those
lines knows no shell quoting.

GPUs: Grid Engine only counts them (the consumable `gpu`, `-l gpu=N`) and binds none, so two tasks
on one node would both render on device 0. The script therefore takes N of the node's devices
itself, holding an flock on LOCKDIR/orbitfarm-gpu<i>.lock for each; the locks are inherited by the
worker and released by the kernel when it exits, however it ends. It exports the devices it holds
as CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES (Cycles then sees only those). The consumable keeps
the number of GPU tasks on a node at most its device count, so a free device always exists
unless the consumable is configured larger than the real count: then the task fails, saying so.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field, fields
from typing import Any

from ...files.layout import LOG_DIR, SGE_DIR
from ...launch.runtime import Runtime, legacy_plan_worker_argv, plan_worker_argv

INDEX_VARIABLE = "SGE_TASK_ID"  # 1-based task id Grid Engine gives each task of an array job
# A retry of scattered tasks runs a list: the script looks the plan index up and passes it here.
LISTED_INDEX_VARIABLE = "ORBITFARM_PLAN_INDEX"
DEFAULT_H_RT = "12:00:00"
DEFAULT_GPUS = 1
DEFAULT_GPU_RESOURCE = "gpu"
DEFAULT_LOCK_DIR = "/tmp"

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.,:=+\-/@*]+$")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.+-]+")
_TIME = re.compile(r"^(\d+:)?(\d+:)?\d+$")
_MEM = re.compile(r"^\d+(\.\d+)?[KMGkmg]?$")
_MEM_FACTOR = {"": 1 / (1024 * 1024), "K": 1 / 1024, "M": 1, "G": 1024}  # -> megabytes


class ScriptError(ValueError):
    """A Grid Engine option in a profile or on the command line is unusable; says which."""


@dataclass
class SgeOptions:
    """The qsub side of a Grid Engine profile (targets YAML / `orbitfarm submit --target sge`)."""

    queue: str | None = None  # -q
    pe: str | None = None  # parallel environment name, e.g. smp (with slots)
    slots: int | None = None  # -pe PE SLOTS
    h_rt: str = DEFAULT_H_RT  # hard run time limit, [[H:]M:]S
    h_vmem: str | None = None  # hard memory limit per slot, e.g. 8G
    mem_free: str | None = None  # memory the scheduler must find free, e.g. 8G
    gpus: int = DEFAULT_GPUS  # units of the GPU consumable per task (0: none)
    gpu_resource: str = DEFAULT_GPU_RESOURCE  # the consumable's name on this cluster
    gpu_devices: int | None = None  # GPUs per node; default: count /dev/nvidia[0-9]*
    gpu_lock_dir: str = DEFAULT_LOCK_DIR  # node-local directory for the device locks
    project: str | None = None  # -P
    array_throttle: int | None = None  # -tc: at most N tasks of an array at once
    extra_qsub: list[str] = field(default_factory=list)  # raw option text after "#$ "
    setup: list[str] = field(default_factory=list)  # shell lines before the worker line

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> SgeOptions:
        """The known qsub keys of a profile (other keys belong to the target), validated."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in profile.items() if k in names and v is not None}
        for key in ("extra_qsub", "setup"):
            if isinstance(values.get(key), str):
                values[key] = [values[key]]
        return cls(**values).validate()

    def validate(self) -> SgeOptions:
        """Raise ScriptError naming the bad option; return self."""
        for name in ("queue", "pe", "project", "gpu_resource"):
            value = getattr(self, name)
            if value is not None and not _SAFE_VALUE.match(str(value)):
                raise ScriptError(f"Grid Engine option {name}={value!r} has characters qsub "
                                  "does not accept (spaces, quotes, newlines)")
        if not _TIME.match(str(self.h_rt)):
            raise ScriptError(f"h_rt must be a time like 12:00:00, 90:00 or 3600, "
                              f"got {self.h_rt!r}")
        for name in ("h_vmem", "mem_free"):
            value = getattr(self, name)
            if value is not None and not _MEM.match(str(value)):
                raise ScriptError(f"{name} must be a size like 8G or 512M, got {value!r}")
        for name in ("slots", "array_throttle", "gpu_devices"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ScriptError(f"{name} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.gpus, int) or self.gpus < 0:
            raise ScriptError(f"gpus must be a whole number >= 0, got {self.gpus!r}")
        if (self.pe is None) != (self.slots is None):
            raise ScriptError("pe and slots go together, e.g. pe: smp, slots: 8")
        if not str(self.gpu_lock_dir).startswith("/"):
            raise ScriptError(f"gpu_lock_dir must be an absolute path, got {self.gpu_lock_dir!r}")
        for line in self.extra_qsub:
            if not isinstance(line, str) or "\n" in line or "\r" in line or not line.strip():
                raise ScriptError(f"extra_qsub entries must be single non-empty lines, "
                                  f"got {line!r}")
        for line in self.setup:
            if not isinstance(line, str) or "\0" in line:
                raise ScriptError(f"setup entries must be shell lines (text), got {line!r}")
        return self

    def qsub_lines(self) -> list[str]:
        """The resource `#$` options in a fixed order (values already validated)."""
        lines = [f"-l h_rt={self.h_rt}"]
        for name in ("h_vmem", "mem_free"):
            value = getattr(self, name)
            if value is not None:
                lines.append(f"-l {name}={value}")
        if self.gpus:
            lines.append(f"-l {self.gpu_resource}={self.gpus}")
        if self.queue:
            lines.append(f"-q {self.queue}")
        if self.pe:
            lines.append(f"-pe {self.pe} {self.slots}")
        if self.project:
            lines.append(f"-P {self.project}")
        lines += [line.strip() for line in self.extra_qsub]
        return lines


def h_rt_seconds(text: str) -> int:
    """A Grid Engine time ('12:00:00', '90:00', '3600') -> seconds."""
    if not _TIME.match(str(text)):
        raise ScriptError(f"h_rt must be a time like 12:00:00, 90:00 or 3600, got {text!r}")
    seconds = 0
    for part in str(text).split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def scale_h_rt(text: str, factor: float) -> str:
    """h_rt multiplied by factor (retry escalation), rounded up to whole minutes, as H:MM:SS."""
    seconds = math.ceil(h_rt_seconds(text) * factor / 60) * 60
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def scale_memory(text: str, factor: float) -> str:
    """A memory size ('8G', '512M') multiplied by factor, rounded up to whole megabytes."""
    if not _MEM.match(str(text)):
        raise ScriptError(f"memory must be a size like 8G or 512M, got {text!r}")
    unit = str(text)[-1].upper() if str(text)[-1].isalpha() else ""
    number = float(str(text)[:-1] if unit else text)
    megabytes = math.ceil(number * _MEM_FACTOR[unit] * factor)
    return f"{megabytes // 1024}G" if megabytes % 1024 == 0 else f"{megabytes}M"


@dataclass
class SgeArray:
    """One array job: Grid Engine task t (1-based) runs plan index `indices[t - 1]`."""

    indices: list[int]

    @property
    def size(self) -> int:
        return len(self.indices)

    @property
    def contiguous(self) -> bool:
        return self.indices == list(range(self.indices[0], self.indices[0] + self.size))

    def index_of_task(self, task: int) -> int:
        """The plan index Grid Engine task `task` (1-based) runs."""
        return self.indices[task - 1]


def split_arrays(task_indices: list[int], max_aj_tasks: int) -> list[SgeArray]:
    """Plan indices -> arrays of at most max_aj_tasks tasks each (the cluster's limit)."""
    if max_aj_tasks < 1:
        raise ValueError(f"max_aj_tasks must be >= 1, got {max_aj_tasks}")
    ordered = sorted(set(task_indices))
    return [SgeArray(ordered[i:i + max_aj_tasks]) for i in range(0, len(ordered), max_aj_tasks)]


def job_name(job_id: str) -> str:
    """A Grid Engine job name from the job id (letters, digits, _.+-; not starting with a digit)."""
    return _NAME_CHARS.sub("_", f"orbitfarm-{job_id}")[:200]


def gpu_lines(options: SgeOptions) -> list[str]:
    """Shell lines that take `gpus` free devices of this node for the task (see module doc)."""
    if not options.gpus:
        return []
    count = (str(options.gpu_devices) if options.gpu_devices
             else "$(ls -d /dev/nvidia[0-9]* 2>/dev/null | wc -l)")
    lock_dir = shlex.quote(options.gpu_lock_dir)
    return [
        "",
        f"# Grid Engine granted {options.gpus} unit(s) of '{options.gpu_resource}' but binds no",
        "# device: hold a lock per device for the worker's lifetime (released when it exits).",
        f"GPU_COUNT={count}",
        "GPUS=()",
        'for ((i = 0; i < GPU_COUNT && ${#GPUS[@]} < ' + str(options.gpus) + "; i++)); do",
        f"    lock={lock_dir}/orbitfarm-gpu$i.lock",
        '    [[ -e $lock ]] || (umask 0; : >>"$lock")',
        '    exec {fd}<"$lock" || continue',
        '    if flock -n "$fd"; then GPUS+=("$i"); else exec {fd}<&-; fi',
        "done",
        f"if ((${{#GPUS[@]}} < {options.gpus})); then",
        f'    echo "orbitfarm: error: needed {options.gpus} free GPU(s) but only ${{#GPUS[@]}} of'
        f" $GPU_COUNT on $(hostname) are free; is '{options.gpu_resource}' on this host larger"
        ' than its real GPU count?"',
        "    exit 1",
        "fi",
        'CUDA_VISIBLE_DEVICES=$(IFS=,; echo "${GPUS[*]}")',
        "export CUDA_VISIBLE_DEVICES HIP_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES",
        'echo "orbitfarm: GPU device(s) $CUDA_VISIBLE_DEVICES of $GPU_COUNT"',
    ]


def build_script(
    *,
    name: str,
    job_dir: str,
    plan_file: str,
    code_dir: str,
    runtime: Runtime,
    array: SgeArray,
    task_id_digits: int,
    options: SgeOptions,
    attempt: int = 1,
    legacy_worker: bool = False,
) -> str:
    """The qsub script text for one array job (paths as the cluster nodes see them).

    The worker reads its task from $SGE_TASK_ID plus the array's offset itself (or, for a list
    of scattered tasks, from the index the script looked up); the shell derives $INDEX and
    $TASK for the log file's name and the profile's setup lines. `legacy_worker`: the job's
    code copy predates --index-env."""
    q = shlex.quote
    throttle = [f"#$ -tc {options.array_throttle}"] if options.array_throttle else []
    header = [
        "#!/bin/bash",
        f"# orbitfarm: {array.size} task(s) of job {name}, attempt {attempt}.",
        "# Grid Engine task t runs one plan index (below); its log is",
        f"# {LOG_DIR}/tNNNNN.log and Grid Engine's own messages go to "
        f"{SGE_DIR}/<jobid>.<t>.out.",
        f"#$ -N {name}",
        "#$ -S /bin/bash",
        "#$ -cwd",
        f"#$ -t 1-{array.size}",
        *throttle,
        f"#$ -o {SGE_DIR}/$JOB_ID.$TASK_ID.out",
        "#$ -j y",
        "#$ -r n",
    ]
    header += [f"#$ {line}" for line in options.qsub_lines()]
    if array.contiguous:
        pick = [f"INDEX=$((SGE_TASK_ID - 1 + {array.indices[0]}))"]
        variable, offset = INDEX_VARIABLE, array.indices[0] - 1
    else:
        pick = [f"INDICES=({' '.join(str(i) for i in array.indices)})",
                'INDEX=${INDICES[SGE_TASK_ID - 1]}',
                f"export {LISTED_INDEX_VARIABLE}=$INDEX"]
        variable, offset = LISTED_INDEX_VARIABLE, 0
    if legacy_worker:
        worker = shlex.join(legacy_plan_worker_argv(runtime, code_dir, plan_file, "INDEX")[:-1])
        worker += ' "$INDEX"'
    else:
        worker = shlex.join(plan_worker_argv(runtime, code_dir, plan_file, variable, offset))
    body = [
        "",
        f"JOB_DIR={q(job_dir)}",
        'cd "$JOB_DIR" || exit 1',
        *pick,
        f"printf -v TASK 't%0{task_id_digits}d' \"$INDEX\"",
        f'exec >>"$JOB_DIR/{LOG_DIR}/$TASK.log" 2>&1',
        'echo "orbitfarm: task $TASK (plan index $INDEX) on $(hostname)'
        ' as Grid Engine job $JOB_ID.$SGE_TASK_ID"',
    ]
    body += gpu_lines(options)
    if options.setup:
        body += ["", "# environment set-up (from the target profile)"]
        body += list(options.setup)
    body += [
        "",
        "export PYTHONUNBUFFERED=1 PYTHONIOENCODING=utf-8",
        worker,
        "code=$?",
        "# Grid Engine reads exit 99 as 'reschedule' and 100 as 'error state, hold the job'.",
        "if ((code == 99 || code == 100)); then",
        '    echo "orbitfarm: the worker exited $code; reported to Grid Engine as 1"',
        "    code=1",
        "fi",
        'exit "$code"',
        "",
    ]
    return "\n".join(header + body)
