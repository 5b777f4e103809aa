"""The local target's runner: a detached process that runs a job's tasks, N workers at a time.

Started by LocalTarget.submit in its own session, so the user can close the terminal (or
Blender) and walk away. Each task is a separate worker process (Blender or a Python with bpy),
so a crash takes down one task, never the runner. For every task it records the worker's pid
and, when it ends, the exit code and a reason in JOBDIR/local/tasks/<task>.json; the job logic
reads those through LocalTarget.poll. SIGTERM (orbitfarm cancel) stops launching, terminates
the running workers and exits. Plain Python; imports nothing that needs Blender or YAML.

It imports nothing from jobs/ either (that would close an import loop through the targets):
the final status check that sends notifications runs `orbitfarm status` as a child process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from ...files import layout
from ...files.atomic import atomic_write_json, read_json
from ...files.taskstate import read_state
from ...launch.runtime import Runtime, boot_expression, plan_worker_argv, runner_boot, worker_env
from ...model.plan import index_of
from ...model.states import EndReason, TaskState, WorkerExit
from .report_child import PageUpdates

GRACE_SECONDS = 5.0
TICK = 0.2
# The variable the runner sets to a worker's plan index (its "array index"; offset 0).
INDEX_VARIABLE = "ORBITFARM_TASK_INDEX"


def local_dir(job_path: Path) -> Path:
    return job_path / layout.LOCAL_DIR


def record_file(job_path: Path, task_id: str) -> Path:
    return local_dir(job_path) / "tasks" / f"{task_id}.json"


def end_of(code: int | None, timed_out: bool = False, cancelled: bool = False) -> EndReason:
    """Why a worker ended, typed."""
    if cancelled:
        return EndReason.CANCELLED
    if timed_out:
        return EndReason.TIMEOUT
    if code is None:
        return EndReason.NEVER_STARTED
    return EndReason.KILLED if code < 0 else EndReason.EXITED


def describe_exit(code: int | None, timed_out: bool = False, cancelled: bool = False) -> str:
    """Human reason for a worker's exit code."""
    if cancelled:
        return "cancelled"
    if timed_out:
        return WorkerExit.TIMEOUT.describe()
    if code is None:
        return "never started"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-code} ({name})"
    if code in (WorkerExit.OK, WorkerExit.FAILED, WorkerExit.BAD_TASK):
        return WorkerExit(code).describe()
    return f"worker exited with code {code}"


class GpuSlots:
    """Worker slots 0..workers-1, each pinned to one GPU (round robin) when there are GPUs."""

    def __init__(self, workers: int, gpu_ids: list[str]) -> None:
        self.free = list(range(workers))
        self.gpu_ids = gpu_ids

    def take(self) -> int:
        return self.free.pop(0)

    def give_back(self, slot: int) -> None:
        self.free.append(slot)
        self.free.sort()

    def env_for(self, slot: int) -> dict[str, str]:
        """CUDA_VISIBLE_DEVICES for a slot ({} when there are no GPUs to pin)."""
        if not self.gpu_ids:
            return {}
        return {"CUDA_VISIBLE_DEVICES": self.gpu_ids[slot % len(self.gpu_ids)]}


class Runner:
    """Runs the tasks of one submission (a run file) with at most `workers` at once."""

    def __init__(self, job_path: Path, run_file: Path) -> None:
        self.job_path = job_path
        self.run: dict[str, Any] = read_json(run_file)
        self.plan_file = job_path / layout.PLAN_FILE
        self.code_dir = layout.code_dir(job_path)
        self.runtime = Runtime(*self.run["runtime"])
        self.workers = max(1, int(self.run.get("workers", 1)))
        self.timeout = self.run.get("task_timeout")
        self.stop = threading.Event()
        self.slots = GpuSlots(self.workers, list(self.run.get("gpu_ids") or []))
        self.page = PageUpdates(job_path)

    def record(self, task_id: str, **fields: Any) -> None:
        path = record_file(self.job_path, task_id)
        data = read_json(path, default=None) or {}
        if data.get("run") != self.run["run"]:
            data = {"run": self.run["run"]}
        data.update(fields)
        atomic_write_json(path, data)

    def already_final(self, task_id: str) -> bool:
        state = read_state(layout.state_file(self.job_path, task_id))  # empty file: queued
        return state.get("state") in (TaskState.DONE, TaskState.SKIPPED, TaskState.CANCELLED)

    def launch(self, task_id: str, slot: int) -> tuple[subprocess.Popen, Any, float]:
        argv = plan_worker_argv(self.runtime, self.code_dir, self.plan_file, INDEX_VARIABLE)
        log_path = layout.log_file(self.job_path, task_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"== orbitfarm local runner: task {task_id} started {stamp} "
                  f"({self.runtime.describe()})\n".encode())
        log.flush()
        env = worker_env()
        if "ORBITFARM_WORKER_PYTHONPATH" in env:  # undo the runner's own additions
            env["PYTHONPATH"] = env.pop("ORBITFARM_WORKER_PYTHONPATH")
            if not env["PYTHONPATH"]:
                del env["PYTHONPATH"]
        env.update(self.slots.env_for(slot))
        env[INDEX_VARIABLE] = str(index_of(task_id))
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=str(self.job_path))
        self.record(task_id, pid=proc.pid, started=time.time(), exit_code=None, reason="")
        return proc, log, time.monotonic()

    def main(self) -> int:
        queue = deque(self.run["tasks"])
        active: dict[str, tuple[subprocess.Popen, Any, float]] = {}
        slot_of: dict[str, int] = {}
        cancel_deadline: float | None = None
        while queue or active:
            while queue and len(active) < self.workers and not self.stop.is_set():
                task_id = queue.popleft()
                if self.already_final(task_id):
                    self.record(task_id, exit_code=0, reason="already finished",
                                end=EndReason.EXITED, ended=time.time())
                    continue
                slot_of[task_id] = self.slots.take()
                active[task_id] = self.launch(task_id, slot_of[task_id])
            if self.stop.is_set() and queue:
                for task_id in queue:
                    self.record(task_id, exit_code=None, reason="cancelled",
                                end=EndReason.CANCELLED, ended=time.time())
                queue.clear()
            for task_id, (proc, log, started) in list(active.items()):
                timed_out = bool(self.timeout) and time.monotonic() - started > float(self.timeout)
                if timed_out and proc.poll() is None:
                    proc.kill()
                    proc.wait()
                code = proc.poll()
                if code is None:
                    continue
                log.close()
                cancelled = self.stop.is_set() and code != 0
                self.record(task_id, exit_code=code, reason=describe_exit(code, timed_out, cancelled),
                            end=end_of(code, timed_out, cancelled), ended=time.time())
                del active[task_id]
                self.slots.give_back(slot_of.pop(task_id))
            if active:
                self.page.tick()  # the job's web page, every few seconds while tasks run
            if self.stop.is_set() and active:
                if cancel_deadline is None:
                    cancel_deadline = time.monotonic() + GRACE_SECONDS
                    for proc, _, _ in active.values():
                        proc.terminate()
                elif time.monotonic() > cancel_deadline:
                    for proc, _, _ in active.values():
                        proc.kill()
            time.sleep(TICK)
        return 0


def main(argv: list[str]) -> int:
    """Entry: `local_runner JOBDIR RUNFILE`."""
    job_path, run_file = Path(argv[0]), Path(argv[1])
    runner = Runner(job_path, run_file)
    signal.signal(signal.SIGTERM, lambda *_: runner.stop.set())
    signal.signal(signal.SIGINT, lambda *_: runner.stop.set())
    code = runner.main()
    if runner.stop.is_set():
        # Cancelled: `orbitfarm cancel` holds the job lock while it waits for this process to
        # end, so a status check here would wait for it (and be killed); cancel writes the
        # task states and the page itself.
        return code
    # The last one out sends the job's notifications (needs YAML; skipped where it is missing).
    final_status_check(job_path)
    runner.page.final()
    return code


def final_status_check(job_path: Path) -> None:
    """`orbitfarm status JOBDIR` from the job's own code: detects dead tasks, notifies."""
    argv = [sys.executable, "-c", boot_expression("submitter.cli", "main"), "--",
            str(layout.code_dir(job_path)), "status", str(job_path)]
    try:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600,
                       check=True, cwd=str(job_path))
    except (OSError, subprocess.SubprocessError) as exc:  # never turn bookkeeping into a crash
        print(f"orbitfarm local runner: final status check skipped: {exc}", file=sys.stderr)


def runner_argv(python: str, code_dir: Path, job_path: Path, run_file: Path) -> list[str]:
    """Boots the runner from a code directory (the job's own copy, whatever its layout)."""
    return [python, "-c", runner_boot(code_dir), "--", str(code_dir), str(job_path),
            str(run_file)]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
