"""The local target: tasks run as worker processes on this machine, N at a time.

submit() starts a detached runner (targets/local/runner.py) in its own session; the runner
starts one worker process per task and records pids and exit codes under JOBDIR/local/.
poll() reads those records and checks which processes still live; cancel() signals the
runner's process group (the runner and its workers).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ...files.atomic import atomic_write_json, read_json
from ...launch.runtime import NoRuntimeError, Runtime, detect_runtime
from ...model.settings import Limit, SettingsError
from ...model.states import EndReason, Phase
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..nodes import refuse_unknown_keys
from .runner import INDEX_VARIABLE, local_dir, runner_argv

# Profile keys of the local target, and the limits of its numbers.
_KEYS = {"kind", "name", "notify", "description", "workers", "blender", "python",
         "task_timeout", "pin_gpus"}
_LIMITS = {"workers": Limit("--workers", 1, 1024, optional=True),
           "task_timeout": Limit("task_timeout", 1, 30 * 86400, whole=False, optional=True,
                                 unit="seconds")}
# Runners this process started: kept so they are reaped (a zombie would look alive).
_CHILDREN: list[subprocess.Popen] = []


def default_workers() -> int:
    """One per GPU when there are GPUs, else one per 8 CPU cores (Cycles uses every core)."""
    gpus = _count_gpus()
    if gpus:
        return gpus
    return max(1, (os.cpu_count() or 1) // 8)


def _count_gpus() -> int:
    return len(gpu_ids())


def gpu_ids(environ: dict[str, str] | None = None) -> list[str]:
    """The NVIDIA GPUs this machine lets us use: CUDA_VISIBLE_DEVICES if set, else nvidia-smi."""
    env = os.environ if environ is None else environ
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    listed = [line for line in out.stdout.splitlines() if line.startswith("GPU ")]
    return [str(i) for i in range(len(listed))]


def _proc_start(pid: int) -> str | None:
    """The process's start time from /proc (None: no such process or not Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):  # zombie / dead: exited, not yet reaped
        return None
    return fields[19]


def pid_alive(pid: int | None, start: str | None = None) -> bool:
    """True when pid runs and (if given) is the same process that had start time `start`."""
    if not pid:
        return False
    for child in _CHILDREN:
        if child.pid == pid:
            child.poll()
    if Path("/proc").is_dir():
        now = _proc_start(pid)
        return now is not None and (start is None or now == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalTarget(Target):
    """Worker processes on this machine (profile keys: workers, blender, python, task_timeout)."""

    kind = "local"
    index_variable = INDEX_VARIABLE

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        return [TargetOption(("--workers",), "workers", type=int, metavar="N",
                             help="worker processes at once (default: one per GPU, else "
                                  "cores/8, >= 1)")]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        refuse_unknown_keys("local", profile, _KEYS)
        for key, limit in _LIMITS.items():
            try:
                limit.check(profile.get(key))
            except SettingsError as exc:
                raise TargetError(f"local profile {profile.get('name', '')!r}: {exc}") from None
        if not isinstance(profile.get("pin_gpus", True), bool):
            raise TargetError(f"local profile {profile.get('name', '')!r}: pin_gpus must be "
                              f"true or false, got {profile['pin_gpus']!r}")

    @property
    def workers(self) -> int:
        return int(self.profile.get("workers") or default_workers())

    def runtime(self) -> Runtime:
        try:
            return detect_runtime(blender=self.profile.get("blender"),
                                  python=self.profile.get("python"))
        except NoRuntimeError as exc:
            raise TargetError(str(exc)) from None

    def describe(self) -> str:
        try:
            runtime = self.runtime().describe()
        except TargetError:
            runtime = "no Blender found"
        return f"local: {self.workers} worker process(es) on {socket.gethostname()} ({runtime})"

    def check(self) -> None:
        self.runtime()

    def submit(self, job, attempts: dict[str, int]) -> None:
        # A local worker counts its own attempts in its state file: nothing depends on them here.
        task_ids = list(attempts)
        if not task_ids:
            return
        runtime = self.runtime()
        record = job.target_record() or {"kind": self.kind, "runs": []}
        runs = record.setdefault("runs", [])
        number = len(runs) + 1
        folder = local_dir(job.path)
        run_file = folder / f"run-{number}.json"
        timeout = self.profile.get("task_timeout")
        subject_timeout = job.spec.subject_timeout
        if timeout is None and subject_timeout:
            timeout = subject_timeout * max(job.spec.group, 1) + 60
        atomic_write_json(run_file, {
            "run": number, "tasks": list(task_ids), "workers": self.workers,
            # Each worker slot gets its own GPU, so N workers on N GPUs never share one.
            "gpu_ids": gpu_ids() if self.profile.get("pin_gpus", True) else [],
            "runtime": [runtime.kind, runtime.executable], "task_timeout": timeout,
        })
        env = dict(os.environ)
        # The runner imports the job's code copy; give it this process's YAML/requests too.
        extra = [str(Path(m.__file__).resolve().parent.parent) for m in _optional_modules()]
        if extra:
            env["ORBITFARM_WORKER_PYTHONPATH"] = env.get("PYTHONPATH", "")
            env["PYTHONPATH"] = os.pathsep.join(extra + [env.get("PYTHONPATH", "")]).rstrip(":")
        log = open(folder / f"run-{number}.log", "ab")
        try:
            proc = subprocess.Popen(
                runner_argv(_plain_python(), job.code_dir, job.path, run_file),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=str(job.path), env=env,
            )
        finally:
            log.close()
        _CHILDREN.append(proc)
        runs.append({"run": number, "runner_pid": proc.pid, "runner_start": _proc_start(proc.pid),
                     "host": socket.gethostname(), "submitted": time.time(),
                     "tasks": f"{folder.name}/{run_file.name}", "count": len(task_ids)})
        record["kind"] = self.kind
        job.save_target_record(record)

    def _runs(self, job) -> list[dict[str, Any]]:
        return list(job.target_record().get("runs", []))

    def poll(self, job, task_ids: list[str]) -> dict[str, SchedulerState]:
        runs = self._runs(job)
        latest: dict[str, int] = {}
        for entry in runs:
            for task_id in (read_json(job.path / entry["tasks"], default=None) or {}).get("tasks",
                                                                                           []):
                latest[task_id] = entry["run"]
        alive = {r["run"]: pid_alive(r["runner_pid"], r.get("runner_start")) for r in runs}
        pids = {r["run"]: r["runner_pid"] for r in runs}
        hosts = {r["run"]: r.get("host") for r in runs}
        records = _read_records(local_dir(job.path) / "tasks")
        states: dict[str, SchedulerState] = {}
        for task_id in task_ids:
            run = latest.get(task_id)
            rec = records.get(task_id)
            if run is None:
                states[task_id] = SchedulerState(Phase.UNKNOWN,
                                                 reason="never submitted to the local target")
            elif rec is None or rec.get("run") != run:
                if alive[run]:
                    states[task_id] = SchedulerState(Phase.PENDING, native_id=f"run {run}")
                else:
                    states[task_id] = SchedulerState(
                        Phase.UNKNOWN, reason=f"the local runner (pid {pids[run]}) stopped before "
                                        "starting this task")
            elif rec.get("ended") is not None:
                states[task_id] = SchedulerState(Phase.ENDED, rec.get("exit_code"),
                                                 rec.get("reason", ""), str(rec.get("pid", "")),
                                                 _end_of(rec))
            elif pid_alive(rec.get("pid")) or alive[run]:
                states[task_id] = SchedulerState(Phase.RUNNING, native_id=str(rec.get("pid", "")))
            else:
                # Both pids checked on the machine that started them: certainly gone.
                here = hosts[run] in (None, socket.gethostname())
                states[task_id] = SchedulerState(
                    Phase.UNKNOWN, reason=f"the worker (pid {rec.get('pid')}) and the local runner "
                                    f"(pid {pids[run]}) are gone (machine restarted or killed?)",
                    end=EndReason.KILLED if here else None)
        return states

    def cancel(self, job, task_ids: list[str] | None = None) -> None:
        if task_ids is not None:  # only some tasks: stop their workers, the runner goes on
            records = _read_records(local_dir(job.path) / "tasks")
            for task_id in task_ids:
                pid = (records.get(task_id) or {}).get("pid")
                if pid and pid_alive(pid):
                    _signal(pid, signal.SIGTERM, group=False)
            return
        live = [r for r in self._runs(job) if pid_alive(r["runner_pid"], r.get("runner_start"))]
        for run in live:
            _signal(run["runner_pid"], signal.SIGTERM, group=True)
        deadline = time.monotonic() + 15
        while live and time.monotonic() < deadline:
            live = [r for r in live if pid_alive(r["runner_pid"], r.get("runner_start"))]
            time.sleep(0.2)
        for run in live:
            _signal(run["runner_pid"], signal.SIGKILL, group=True)


def _end_of(record: dict[str, Any]) -> EndReason:
    """The typed end of a runner record; records of runners before typed ends had only text."""
    if record.get("end"):
        return EndReason(record["end"])
    if record.get("reason") == "cancelled":
        return EndReason.CANCELLED
    code = record.get("exit_code")
    return EndReason.KILLED if isinstance(code, int) and code < 0 else EndReason.EXITED


def _signal(pid: int, sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)  # the runner leads its own session and process group
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _read_records(folder: Path) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return records
    for entry in entries:
        if entry.name.endswith(".json") and not entry.name.startswith("."):
            data = read_json(entry.path, default=None)
            if data:
                records[entry.name[:-5]] = data
    return records


def _optional_modules() -> list[Any]:
    found = []
    for name in ("yaml", "requests"):
        try:
            found.append(__import__(name))
        except ImportError:
            pass
    return found


def _plain_python() -> str:
    """A Python for the runner: this one (inside Blender, its bundled Python)."""
    return os.environ.get("ORBITFARM_RUNNER_PYTHON") or sys.executable
