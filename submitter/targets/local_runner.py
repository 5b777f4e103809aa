"""The local target's runner: a detached process that runs a job's tasks, N workers at a time.

Started by LocalTarget.submit in its own session, so the user can close the terminal (or
Blender) and walk away. Each task is a separate worker process (Blender or a Python with bpy),
so a crash takes down one task, never the runner. For every task it records the worker's pid
and, when it ends, the exit code and a reason in JOBDIR/local/tasks/<task>.json; the job logic
reads those through LocalTarget.poll. SIGTERM (orbitfarm cancel) stops launching, terminates
the running workers and exits. Plain Python; imports nothing that needs Blender or YAML.
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

from ..atomic import atomic_write_json, read_json
from ..launch import Runtime, boot_expression, worker_env
from ..plan import Plan, index_of, plan_worker_argv
from ..taskstate import CANCELLED, DONE, SKIPPED

LOCAL_DIR = "local"
GRACE_SECONDS = 5.0
TICK = 0.2


def local_dir(job_path: Path) -> Path:
    return job_path / LOCAL_DIR


def record_file(job_path: Path, task_id: str) -> Path:
    return local_dir(job_path) / "tasks" / f"{task_id}.json"


def describe_exit(code: int | None, timed_out: bool = False, cancelled: bool = False) -> str:
    """Human reason for a worker's exit code."""
    if cancelled:
        return "cancelled"
    if timed_out:
        return "timed out (task time limit reached) and was killed"
    if code is None:
        return "never started"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-code} ({name})"
    if code == 0:
        return "exited normally"
    if code == 1:
        return "worker reported failed subjects (exit code 1)"
    if code == 2:
        return "worker could not use its task (exit code 2)"
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
        self.plan_file = job_path / "plan.json"
        self.code_dir = job_path / "code" / "orbitfarm"
        self.runtime = Runtime(*self.run["runtime"])
        self.workers = max(1, int(self.run.get("workers", 1)))
        self.timeout = self.run.get("task_timeout")
        self.stop = threading.Event()
        self.plan = Plan.read(self.plan_file)
        self.slots = GpuSlots(self.workers, list(self.run.get("gpu_ids") or []))

    def record(self, task_id: str, **fields: Any) -> None:
        path = record_file(self.job_path, task_id)
        data = read_json(path, default=None) or {}
        if data.get("run") != self.run["run"]:
            data = {"run": self.run["run"]}
        data.update(fields)
        atomic_write_json(path, data)

    def already_final(self, task_id: str) -> bool:
        state = read_json(self.job_path / "tasks" / f"{task_id}.json", default=None) or {}
        return state.get("state") in (DONE, SKIPPED, CANCELLED)

    def launch(self, task_id: str, slot: int) -> tuple[subprocess.Popen, Any, float]:
        index = index_of(task_id)
        argv = plan_worker_argv(self.runtime, self.code_dir, self.plan_file, index)
        log_path = self.job_path / "logs" / f"{task_id}.log"
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
                    self.record(task_id, exit_code=0, reason="already finished", ended=time.time())
                    continue
                slot_of[task_id] = self.slots.take()
                active[task_id] = self.launch(task_id, slot_of[task_id])
            if self.stop.is_set() and queue:
                for task_id in queue:
                    self.record(task_id, exit_code=None, reason="cancelled", ended=time.time())
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
                reason = describe_exit(code, timed_out, cancelled=self.stop.is_set() and code != 0)
                self.record(task_id, exit_code=code, reason=reason, ended=time.time())
                del active[task_id]
                self.slots.give_back(slot_of.pop(task_id))
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
    # The last one out sends the job's notifications (needs YAML; skipped where it is missing).
    try:
        from ..jobdir import JobDir
        from ..jobs import status

        status(JobDir(job_path))
    except Exception as exc:  # notifications and bookkeeping must never turn into a crash
        print(f"orbitfarm local runner: final status check skipped: {exc}", file=sys.stderr)
    return code


# Boots the runner from a code directory (the job's own copy), like the worker is booted.
BOOT = boot_expression("submitter.targets.local_runner", "main")


def runner_argv(python: str, code_dir: Path, job_path: Path, run_file: Path) -> list[str]:
    return [python, "-c", BOOT, "--", str(code_dir), str(job_path), str(run_file)]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
