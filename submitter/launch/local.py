"""Run one worker process on this machine: stream its log, enforce a timeout. Plain Python."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO

from ..model.states import WorkerExit
from ..model.task import WorkerTask
from .runtime import Runtime, package_dir, worker_argv, worker_env

TIMEOUT_EXIT = WorkerExit.TIMEOUT


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_worker(runtime: Runtime, task: WorkerTask | str | Path, log_path: str | Path | None = None,
               timeout: float | None = None, echo: IO[str] | bool = True,
               code_dir: str | Path | None = None) -> int:
    """Run the worker on `task` (a WorkerTask or a task file) and return its exit code.

    Output lines go to `echo` (True: the current sys.stdout; False: nowhere) and, appended, to
    `log_path`. After `timeout` seconds the whole
    process group is killed and TIMEOUT_EXIT is returned.
    """
    tmp_dir = None
    if isinstance(task, WorkerTask):
        tmp_dir = tempfile.mkdtemp(prefix="orbitfarm-task-")
        task_file = Path(tmp_dir) / "task.json"
        task.write(task_file)
    else:
        task_file = Path(task)
    stream: IO[str] | None = sys.stdout if echo is True else (echo or None)
    argv = worker_argv(runtime, code_dir or package_dir(), task_file)
    log = open(log_path, "a", encoding="utf-8") if log_path else None
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=worker_env(),
                                start_new_session=True)  # own group: a timeout kills it all

        def pump() -> None:
            # Keep draining even if a sink fails: a full pipe would block the worker forever.
            nonlocal stream
            assert proc.stdout is not None
            for raw in iter(proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace")
                try:
                    if stream is not None:
                        stream.write(line)
                        stream.flush()
                except (OSError, ValueError):
                    stream = None
                if log is not None:
                    log.write(line)
                    log.flush()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            code = int(TIMEOUT_EXIT)
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
        reader.join(timeout=5)
        return code
    finally:
        if log is not None:
            log.close()
        if tmp_dir:
            for f in Path(tmp_dir).iterdir():
                f.unlink()
            os.rmdir(tmp_dir)
