"""Grid Engine's command-line tools (qsub, qstat, qacct, qdel, qconf) and their output.

Each question is ONE call for a whole orbitfarm job, whatever its number of tasks: `qstat -xml`
lists pending array tasks as ranges ('3-10000:1') and the parser expands them; `qacct -j NAME`
answers for every array the job ever had (they share the job name). The parsers are pure
functions, tested on captured text.

Facts they rely on (Grid Engine 8.1.9): a task's state letters are r/t/R (running, transferring,
restarted), qw/hqw (pending, on hold), E (error: it stays in the queue until `qmod -cj` or
`qdel`), d (being deleted), s/S/T (suspended); the accounting file is written only after a flush
(reporting_params flush_time, 15 s by default), so a task can be in neither qstat nor qacct for a
while after it ends.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ...model.states import EndReason, Phase
from ..base import TargetError
from ..remote import Shell

Key = tuple[str, int]  # (Grid Engine job number, task id 1..N)

# `failed` codes of qacct worth words (sge_accounting(5)); others print qacct's own text.
_FAILED_WORDS = {
    1: "the job could not start (assumedly before job)",
    26: "Grid Engine could not open the task's output file",
    37: "time or memory limit enforced (h_rt, h_cpu or h_vmem)",
    100: "killed (qdel, a limit, or the execution host)",
}
_BEFORE_START = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 26, 27, 28}  # failed codes before the job ran
_SIGNALS = {9: "SIGKILL", 15: "SIGTERM", 6: "SIGABRT", 11: "SIGSEGV", 24: "SIGXCPU"}


@dataclass
class TaskRecord:
    """One array task as Grid Engine reports it."""

    letters: str  # qstat state letters (e.g. 'r', 'qw', 'Eqw'), or 'done' from qacct
    exit_code: int | None = None
    failed: int = 0  # qacct's failed code (0: Grid Engine saw no failure of its own)
    failed_text: str = ""
    h_rt: int | None = None  # the task's h_rt request in seconds (qacct's category)
    wallclock: float | None = None  # qacct's ru_wallclock, seconds

    @property
    def timed_out(self) -> bool:
        """Killed for its h_rt: qacct says only "h_rt, h_cpu, or h_vmem limit" (failed 37), so
        the run time against the requested h_rt tells a time limit from a memory limit."""
        return (self.failed == 37 and self.h_rt is not None and self.wallclock is not None
                and self.wallclock >= self.h_rt)

    @property
    def state(self) -> Phase:
        """The scheduler's phase; a task in error state has ended (it never runs by itself)."""
        if self.letters == "done" or "E" in self.letters:
            return Phase.ENDED
        if "d" in self.letters:
            return Phase.RUNNING  # being deleted: it ends once its processes are gone
        if "q" in self.letters or "h" in self.letters:
            return Phase.PENDING
        return Phase.RUNNING

    @property
    def end(self) -> EndReason | None:
        """Why a finished task ended (qacct's failed code and exit status)."""
        if self.letters != "done":
            return None
        if self.failed in _BEFORE_START:
            return EndReason.NEVER_STARTED
        if self.exit_code == 100:
            return EndReason.EXITED  # the task's own exit 100 (Grid Engine's error state)
        if self.timed_out:
            return EndReason.TIMEOUT
        if self.failed or (self.exit_code is not None and self.exit_code > 128):
            return EndReason.KILLED
        return EndReason.EXITED

    def describe(self) -> str:
        """e.g. 'exit code 3', 'h_rt limit: killed by SIGKILL', 'qw'."""
        if self.letters != "done":
            return self.letters
        words = []
        if self.timed_out:
            words.append(f"h_rt limit reached ({self.h_rt} s; ran {self.wallclock:g} s)")
        elif self.failed:
            words.append(_FAILED_WORDS.get(self.failed, self.failed_text or f"failed {self.failed}"))
        code = self.exit_code
        if code is not None and code > 128 and self.failed:
            words.append(f"killed by {_SIGNALS.get(code - 128, f'signal {code - 128}')}")
        elif code == 100:
            words.append("exit code 100, which puts a task in Grid Engine's error state (Eqw)")
        elif code:
            words.append(f"exit code {code}")
        return ": ".join(words) if words else "exited 0"


def expand_tasks(text: str) -> list[int]:
    """qstat's task list '3', '3-10:1', '1-9:2,12' -> task ids (empty text: not an array = [1])."""
    text = text.strip()
    if not text:
        return [1]
    tasks: list[int] = []
    for part in text.split(","):
        bounds, _, step = part.partition(":")
        lo, _, hi = bounds.partition("-")
        tasks += range(int(lo), int(hi or lo) + 1, int(step or 1))
    return tasks


def parse_qstat_xml(text: str) -> dict[Key, TaskRecord]:
    """`qstat -xml` -> state per array task (running ones and pending ranges alike)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise TargetError(f"qstat printed XML that cannot be read ({exc})") from None
    states: dict[Key, TaskRecord] = {}
    for entry in root.iter("job_list"):
        job = (entry.findtext("JB_job_number") or "").strip()
        letters = (entry.findtext("state") or "").strip()
        if not job:
            continue
        for task in expand_tasks(entry.findtext("tasks") or ""):
            states[(job, task)] = TaskRecord(letters)
    return states


def parse_qacct(text: str) -> dict[Key, TaskRecord]:
    """`qacct -j ...` records -> final state per array task (a task run twice: the last wins)."""
    states: dict[Key, TaskRecord] = {}
    for block in re.split(r"^=+\s*$", text, flags=re.MULTILINE):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(" ")
            if name:
                fields[name] = value.strip()
        job = fields.get("jobnumber", "")
        if not job:
            continue
        task_text = fields.get("taskid", "undefined")
        task = int(task_text) if task_text.isdigit() else 1
        failed_text = fields.get("failed", "0")
        failed_code, _, failed_words = failed_text.partition(":")
        exit_text = fields.get("exit_status", "").split()
        states[(job, task)] = TaskRecord(
            "done",
            exit_code=int(exit_text[0]) if exit_text and exit_text[0].isdigit() else None,
            failed=int(failed_code.strip()) if failed_code.strip().isdigit() else 0,
            failed_text=failed_words.strip(),
            h_rt=_h_rt_of(fields.get("category", "")),
            wallclock=_seconds_of(fields.get("ru_wallclock", "")),
        )
    return states


_H_RT = re.compile(r"(?:^|[\s,])h_rt=(\d+(?::\d+)*)")
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d*)?)")


def _h_rt_of(category: str) -> int | None:
    """'-l gpu=1,h_rt=0:10:00' -> 600 (qacct's category holds the task's requests)."""
    m = _H_RT.search(category)
    if not m:
        return None
    seconds = 0
    for part in m.group(1).split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def _seconds_of(text: str) -> float | None:
    """qacct's ru_wallclock: '5s' (8.1.9) or '5.012' (older) -> seconds."""
    m = _NUMBER.match(text)
    return float(m.group(1)) if m else None


_ERROR_REASON = re.compile(r"^error reason\s+(\d+):\s+(?:\S+ \S+ \[[^\]]*\]: )?(.*)$",
                           re.MULTILINE)


def parse_error_reasons(text: str) -> dict[int, str]:
    """`qstat -j JOB` -> task id -> why it is in error state (Grid Engine's words)."""
    return {int(task): reason.strip() for task, reason in _ERROR_REASON.findall(text)}


def parse_qsub_terse(text: str) -> str:
    """`qsub -terse` output ('123.1-5:1' for arrays, '123') -> '123'."""
    lines = text.strip().splitlines()
    job = lines[-1].split(".")[0].strip() if lines else ""
    if not job.isdigit():
        raise TargetError(f"qsub did not print a job id (got {text.strip()[:200]!r})")
    return job


def parse_qconf_value(text: str, key: str) -> str | None:
    """A value from `qconf -sconf` ('max_aj_tasks   75000')."""
    m = re.search(rf"^{re.escape(key)}\s+(\S+)", text, re.MULTILINE)
    return m.group(1) if m else None


class SgeCommands:
    """The Grid Engine tools on one shell (local or ssh); one call per question, per job."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self._config: str | None = None

    def _checked(self, argv: list[str], cwd: str | None = None) -> str:
        result = self.shell.run(argv, cwd=cwd)
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()
            raise TargetError(f"{argv[0]} failed on {self.shell.describe()}: "
                              f"{message[-1] if message else 'exit ' + str(result.returncode)}")
        return result.stdout

    def config(self) -> str:
        """`qconf -sconf` (the global configuration; read once per target object)."""
        if self._config is None:
            self._config = self._checked(["qconf", "-sconf"])
        return self._config

    def max_aj_tasks(self) -> int:
        """The largest array job the cluster accepts (0 there means unlimited)."""
        value = parse_qconf_value(self.config(), "max_aj_tasks")
        if value and value.isdigit() and int(value) > 0:
            return int(value)
        return 75000 if value is None else 10**9

    def submit(self, script: str, cwd: str) -> str:
        """qsub the script file (a path on the cluster) from cwd; returns the job number."""
        return parse_qsub_terse(self._checked(["qsub", "-terse", script], cwd=cwd))

    def queue(self) -> dict[Key, TaskRecord]:
        """Every task of this user's jobs that Grid Engine still holds (one qstat)."""
        return parse_qstat_xml(self._checked(["qstat", "-xml"]))

    def accounting(self, name: str) -> dict[Key, TaskRecord]:
        """qacct's records of every array named `name` ({} before the first flush)."""
        result = self.shell.run(["qacct", "-j", name])
        if result.returncode != 0:
            text = result.stderr + result.stdout
            # No record of that name yet, or no accounting file at all before the first flush.
            if "not found" in text or ("accounting" in text and "No such file" in text):
                return {}
            raise TargetError(f"qacct failed on {self.shell.describe()}: "
                              f"{(result.stderr or result.stdout).strip()[-300:]}")
        return parse_qacct(result.stdout)

    def error_reasons(self, job: str) -> dict[int, str]:
        """Why the tasks of `job` in error state are there (one `qstat -j`)."""
        result = self.shell.run(["qstat", "-j", job])
        return parse_error_reasons(result.stdout) if result.returncode == 0 else {}

    def delete(self, job: str, tasks: list[int] | None = None) -> None:
        """qdel a whole job, or some of its tasks (`qdel JOB -t a-b` per run of ids).

        A job or task Grid Engine no longer has is already gone: that is not an error.
        """
        ranges = [f"{lo}-{hi}" for lo, hi in _runs(sorted(tasks))] if tasks else [None]
        for spec in ranges:
            argv = ["qdel", job] + (["-t", spec] if spec else [])
            result = self.shell.run(argv)
            text = result.stderr + result.stdout
            if result.returncode != 0 and "does not exist" not in text:
                raise TargetError(f"qdel failed on {self.shell.describe()}: "
                                  f"{text.strip()[-300:]}")


def _runs(ids: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for i in ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs
