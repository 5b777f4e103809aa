"""SLURM's command-line tools (sbatch, squeue, scontrol, scancel, sacct) and their output.

Each function makes ONE call for a whole job, whatever its number of tasks: squeue lists pending
array ranges compressed ('123_[4-9999%10]') and the parser expands them. The parsers are pure
functions so they are tested on captured text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...model.states import EndReason, Phase
from ..base import TargetError
from ..remote import Shell

# SLURM job states -> our scheduler states. Anything not listed counts as ended.
_PENDING = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
_RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING", "SUSPENDED"}
_ENDS = {"CANCELLED": EndReason.CANCELLED, "TIMEOUT": EndReason.TIMEOUT,
         "DEADLINE": EndReason.TIMEOUT, "NODE_FAIL": EndReason.KILLED,
         "OUT_OF_MEMORY": EndReason.KILLED, "PREEMPTED": EndReason.KILLED,
         "BOOT_FAIL": EndReason.NEVER_STARTED}
# Why a task that SLURM ended did not finish, in words (the state name stays first).
_ENDED_WORDS = {
    "TIMEOUT": "time limit reached",
    "CANCELLED": "cancelled (scancel or an administrator)",
    "NODE_FAIL": "the node failed",
    "OUT_OF_MEMORY": "out of memory",
    "PREEMPTED": "preempted by a higher-priority job",
    "BOOT_FAIL": "the node failed to boot",
    "DEADLINE": "deadline reached",
    "FAILED": "non-zero exit",
    "COMPLETED": "exited 0",
}

_ARRAY_ID = re.compile(r"^(\d+)_(\d+|\[([^\]]*)\])$")
_KEY_VALUE = re.compile(r"(?:^|\s)([A-Za-z:]+)=(.*?)(?=\s+[A-Za-z:]+=|\s*$)")


@dataclass
class ElementState:
    """One array element as SLURM reports it."""

    slurm_state: str  # e.g. PENDING, RUNNING, TIMEOUT
    reason: str = ""  # SLURM's reason field (pending reason, e.g. Resources)
    exit_code: int | None = None
    signal: int | None = None

    @property
    def state(self) -> Phase:
        """pending | running | ended."""
        base = self.slurm_state.split()[0].rstrip("+") if self.slurm_state else ""
        if base in _PENDING:
            return Phase.PENDING
        if base in _RUNNING:
            return Phase.RUNNING
        return Phase.ENDED

    @property
    def end(self) -> EndReason | None:
        """Why SLURM ended the element (None while it has not ended)."""
        if self.state != Phase.ENDED:
            return None
        base = self.slurm_state.split()[0].rstrip("+")
        return _ENDS.get(base, EndReason.KILLED if self.signal else EndReason.EXITED)

    def describe(self) -> str:
        """e.g. 'TIMEOUT: time limit reached' or 'PENDING (Resources)'."""
        base = self.slurm_state.split()[0].rstrip("+")
        if self.state != Phase.ENDED:
            return f"{base} ({self.reason})" if self.reason and self.reason != "None" else base
        words = _ENDED_WORDS.get(base, "ended")
        if base == "FAILED" and self.exit_code:
            words = f"exit code {self.exit_code}"
        if self.signal:
            words += f", signal {self.signal}"
        return f"{base}: {words}"


Key = tuple[str, int]  # (array job id, array index)


def expand_array_id(text: str) -> list[Key]:
    """'123_4' -> [('123', 4)]; '123_[0-3,7%2]' -> indices 0..3 and 7 of array 123."""
    m = _ARRAY_ID.match(text.strip())
    if not m:
        return []
    job, single, ranges = m.groups()
    if ranges is None:
        return [(job, int(single))]
    ranges = ranges.split("%")[0]
    keys: list[Key] = []
    for part in ranges.split(","):
        bounds = part.split(":")[0]  # SLURM also allows 'A-B:STEP'
        step = int(part.split(":")[1]) if ":" in part else 1
        lo, _, hi = bounds.partition("-")
        keys += [(job, i) for i in range(int(lo), int(hi or lo) + 1, step)]
    return keys


SQUEUE_FORMAT = "%i|%T|%r"


def parse_squeue(text: str) -> dict[Key, ElementState]:
    """Lines of `squeue -h -o '%i|%T|%r'` -> state per array element."""
    states: dict[Key, ElementState] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 3:
            continue
        for key in expand_array_id(parts[0]):
            states[key] = ElementState(parts[1], parts[2])
    return states


def parse_exit_code(text: str) -> tuple[int | None, int | None]:
    """SLURM 'EXIT:SIGNAL' ('0:15', '1:0') -> (exit code, signal or None)."""
    code, _, sig = text.partition(":")
    try:
        return int(code), (int(sig) or None) if sig else None
    except ValueError:
        return None, None


def parse_key_values(line: str) -> dict[str, str]:
    """`Key=Value Key=Value` as scontrol and jobcomp/filetxt print (values may hold spaces).

    The first occurrence of a key wins: JobState comes before WorkDir, so a directory name
    containing ' JobState=...' cannot change the reported state.
    """
    fields: dict[str, str] = {}
    for m in _KEY_VALUE.finditer(line):
        fields.setdefault(m.group(1), m.group(2))
    return fields


def parse_records(text: str) -> dict[Key, ElementState]:
    """`scontrol show job -o` or jobcomp/filetxt lines -> state per array element.

    A record without ArrayTaskId but with JobId=<array id> covers the array's elements that have
    no record of their own (e.g. a pending array cancelled as a whole).
    """
    states: dict[Key, ElementState] = {}
    whole: dict[str, ElementState] = {}
    for line in text.splitlines():
        fields = parse_key_values(line)
        if "JobState" not in fields:
            continue
        code, sig = parse_exit_code(fields.get("ExitCode", ""))
        element = ElementState(fields["JobState"], fields.get("Reason", ""), code, sig)
        array_job = fields.get("ArrayJobId") or fields.get("JobId", "")
        task = fields.get("ArrayTaskId", "")
        if task.isdigit():
            states[(array_job, int(task))] = element
        elif task:
            for key in expand_array_id(f"{array_job}_[{task}]"):
                states.setdefault(key, element)
        else:
            whole[fields.get("JobId", "")] = element
    for job, element in whole.items():
        states[(job, -1)] = element  # -1: "every element without its own record"
    return states


def parse_sacct(text: str) -> dict[Key, ElementState]:
    """`sacct -n -P -X --format=JobID,State,ExitCode` lines -> state per array element."""
    states: dict[Key, ElementState] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 3:
            continue
        code, sig = parse_exit_code(parts[2])
        for key in expand_array_id(parts[0]):
            states[key] = ElementState(parts[1], "", code, sig)
    return states


def parse_config_value(text: str, key: str) -> str | None:
    """A value from `scontrol show config` ('MaxArraySize = 1001')."""
    m = re.search(rf"^{re.escape(key)}\s*=\s*(.*?)\s*$", text, re.MULTILINE)
    return m.group(1) if m else None


def parse_sbatch_id(text: str) -> str:
    """`sbatch --parsable` output ('123' or '123;cluster') -> '123'."""
    first = text.strip().splitlines()[-1] if text.strip() else ""
    job = first.split(";")[0].strip()
    if not job.isdigit():
        raise TargetError(f"sbatch did not print a job id (got {text.strip()[:200]!r})")
    return job


class SlurmCommands:
    """The SLURM tools on one shell (local or ssh); one call per question, for a whole job."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self._config: str | None = None
        self._sacct_works: bool | None = None

    def _checked(self, argv: list[str], cwd: str | None = None) -> str:
        result = self.shell.run(argv, cwd=cwd)
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()
            raise TargetError(f"{argv[0]} failed on {self.shell.describe()}: "
                              f"{message[-1] if message else 'exit ' + str(result.returncode)}")
        return result.stdout

    def config(self) -> str:
        """`scontrol show config` (read once per target object)."""
        if self._config is None:
            self._config = self._checked(["scontrol", "show", "config"])
        return self._config

    def max_array_size(self) -> int:
        """MaxArraySize: array indices must stay below it."""
        value = parse_config_value(self.config(), "MaxArraySize")
        return int(value) if value and value.isdigit() else 1001

    def jobcomp_file(self) -> str | None:
        """The jobcomp/filetxt log, when the cluster keeps one."""
        if parse_config_value(self.config(), "JobCompType") != "jobcomp/filetxt":
            return None
        return parse_config_value(self.config(), "JobCompLoc")

    def submit(self, script: str, cwd: str, extra: list[str] | None = None) -> str:
        """sbatch the script file (a path on the cluster) from cwd; returns the job id."""
        argv = ["sbatch", "--parsable", f"--chdir={cwd}", *(extra or []), script]
        return parse_sbatch_id(self._checked(argv, cwd=cwd))

    def queue(self, job_ids: list[str]) -> dict[Key, ElementState]:
        """States of every element of these arrays that SLURM still remembers (one squeue)."""
        if not job_ids:
            return {}
        result = self.shell.run(["squeue", "-h", "-t", "all", "-j", ",".join(job_ids),
                                 "-o", SQUEUE_FORMAT])
        if result.returncode != 0:
            if "Invalid job id" in result.stderr:
                return {}  # every job already purged (older than MinJobAge)
            raise TargetError(f"squeue failed on {self.shell.describe()}: "
                              f"{result.stderr.strip()[-300:]}")
        return parse_squeue(result.stdout)

    def show_jobs(self, job_ids: list[str]) -> dict[Key, ElementState]:
        """`scontrol show job -o` per array (exit codes, which squeue does not print)."""
        states: dict[Key, ElementState] = {}
        for job in job_ids:
            result = self.shell.run(["scontrol", "show", "job", "-o", job])
            if result.returncode == 0:
                states.update(parse_records(result.stdout))
        return states

    def accounting(self, job_ids: list[str]) -> dict[Key, ElementState]:
        """sacct's view (clusters with accounting); {} where accounting is off or absent."""
        if not job_ids or self._sacct_works is False:
            return {}
        try:
            result = self.shell.run(["sacct", "-n", "-P", "-X", "-j", ",".join(job_ids),
                                     "--format=JobID,State,ExitCode"])
        except TargetError:
            result = None
        self._sacct_works = bool(result and result.returncode == 0)
        return parse_sacct(result.stdout) if result and self._sacct_works else {}

    def completed(self, job_ids: list[str]) -> dict[Key, ElementState]:
        """The jobcomp/filetxt lines of these arrays, when that file is readable here."""
        path = self.jobcomp_file()
        if not path or not job_ids or type(self.shell) is not Shell:
            return {}
        wanted = set(job_ids)
        lines = []
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    fields = parse_key_values(line)
                    if (fields.get("ArrayJobId") or fields.get("JobId")) in wanted:
                        lines.append(line)
        except OSError:
            return {}
        return parse_records("".join(lines))

    def cancel(self, ids: list[str]) -> None:
        """scancel these job or element ids ('123', '123_4') in one call."""
        if ids:
            self._checked(["scancel", *ids])
