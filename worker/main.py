"""Worker entry point: render a task's subjects in turn, then end the process hard.

Runs inside Blender. On a node (Blender binary) the exact command line is

    blender -b --factory-startup --disable-autoexec --python-exit-code 1 \\
        --python-expr "<boot>" -- CODE_DIR --task TASK.json

and through the bpy wheel `python -c "<boot>" -- CODE_DIR --task TASK.json`, where <boot> (see
submitter/launch/runtime.py) imports orbitfarm from CODE_DIR and calls entry(). `--plan FILE
--index-env VAR --index-offset K` reads task $VAR + K of a job plan instead (the target sets VAR,
e.g. SLURM_ARRAY_TASK_ID); `--plan FILE --index N` names the task directly. Exit codes:
submitter/model/states.py WorkerExit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import traceback
from typing import Any, NoReturn

from ..submitter.files.crashed_subjects import CRASHED, IN_PROGRESS
from ..submitter.model.states import TaskState, WorkerExit

EXIT_OK, EXIT_FAILED, EXIT_BAD_TASK = WorkerExit.OK, WorkerExit.FAILED, WorkerExit.BAD_TASK


def _load_task(argv: list[str]) -> Any:
    from ..submitter.model.task import WorkerTask

    parser = argparse.ArgumentParser(prog="orbitfarm-worker")
    parser.add_argument("--task", help="WorkerTask JSON file")
    parser.add_argument("--plan", help="job plan file (with --index or --index-env)")
    parser.add_argument("--index", type=int, help="task index within --plan")
    parser.add_argument("--index-env", metavar="VAR",
                        help="environment variable the target set to the task's array index")
    parser.add_argument("--index-offset", type=int, default=0, metavar="K",
                        help="added to $VAR: the plan index of the array's element 0")
    args = parser.parse_args(argv)
    if args.task:
        return WorkerTask.read(args.task)
    index = args.index
    if index is None and args.index_env:
        value = os.environ.get(args.index_env, "")
        if not value.isdigit():
            raise ValueError(f"${args.index_env} should hold this task's array index, "
                             f"got {value!r}")
        index = int(value) + args.index_offset
    if args.plan is not None and index is not None:
        from ..submitter.model.plan import load_worker_task

        return load_worker_task(args.plan, index)
    parser.error("give --task FILE, or --plan FILE with --index N or --index-env VAR")


class Watchdog:
    """Ends the process when one subject runs past task.subject_timeout (a hang in C code).

    Touches files only (never bpy) from its thread: marks the subject failed, the task failed.
    """

    def __init__(self, timeout: float | None, on_timeout: Any) -> None:
        self.timeout = timeout
        self.on_timeout = on_timeout
        self._timer: threading.Timer | None = None

    def start(self, subject: Any) -> None:
        self.stop()
        if self.timeout:
            self._timer = threading.Timer(self.timeout, self._fire, args=(subject,))
            self._timer.daemon = True
            self._timer.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self, subject: Any) -> None:
        try:
            self.on_timeout(subject)
        finally:
            sys.stdout.flush()
            hard_exit(int(EXIT_FAILED))


def run(argv: list[str]) -> int:
    """Render every subject of the task; return the exit code."""
    try:
        task = _load_task(argv)
    except SystemExit:
        return EXIT_BAD_TASK
    except Exception as exc:
        print(f"[orbitfarm] error: unusable task ({argv}): {type(exc).__name__}: {exc}",
              flush=True)
        return EXIT_BAD_TASK

    from ..submitter.files.taskstate import TaskStateWriter, final_state_for
    from .pipeline import log, render_subject

    writer = TaskStateWriter(task.state_file, task.task_id) if task.state_file else None
    if writer:
        writer.start_heartbeat()

    def progress(name: str, **fields: Any) -> None:
        if writer:
            writer.subject(name, **fields)

    def timed_out(subject: Any) -> None:
        from ..submitter.files.result import mark_failed

        reason = f"timed out after {task.subject_timeout:g} s (subject timeout); process ended"
        log(f"subject {subject.name}: FAILED: {reason}")
        mark_failed(subject.out, reason, subject=subject.name, blend=subject.blend)
        if writer:
            writer.subject(subject.name, status="failed", reason=reason)
            writer.finish(TaskState.FAILED, EXIT_FAILED, f"{subject.name}: {reason}")

    watchdog = Watchdog(task.subject_timeout, timed_out)
    statuses: list[str] = []
    for subject in task.subjects:
        if writer and _failed_by_crash(writer, subject):
            statuses.append("failed")
            continue
        # Before loading it: if this process dies in Blender's C code, the next attempt reads
        # which subject killed it (submitter/files/crashed_subjects.py).
        progress(subject.name, status=IN_PROGRESS)
        watchdog.start(subject)
        statuses.append(render_subject(task, subject, progress))
        watchdog.stop()
    failed = [s.name for s, st in zip(task.subjects, statuses, strict=False) if st == "failed"]
    code = EXIT_FAILED if failed else EXIT_OK
    reason = f"failed: {', '.join(failed)}" if failed else ""
    log(f"task done: {statuses.count('rendered')} rendered, {statuses.count('skipped')} skipped, "
        f"{len(failed)} failed")
    if writer:
        writer.finish(final_state_for(statuses), code, reason)
    return code


def _failed_by_crash(writer: Any, subject: Any) -> bool:
    """Record (log, result.json) the failure of a subject that killed an earlier attempt."""
    from ..submitter.files.result import mark_failed
    from .pipeline import log
    from .scratch import remove_orphans

    entry = writer.data["subjects"].get(subject.name) or {}
    if not entry.get(CRASHED):
        return False
    reason = entry["reason"]
    log(f"subject {subject.name}: FAILED: {reason}")
    remove_orphans(subject.out)  # the dead process's unpublished frames
    mark_failed(subject.out, reason, subject=subject.name, blend=subject.blend)
    writer.subject(subject.name)  # written now, not at the next heartbeat
    return True


def entry(argv: list[str]) -> NoReturn:
    """Run the worker and end with os._exit (Blender can crash or hang at normal exit)."""
    code: int = EXIT_FAILED
    try:
        code = run(list(argv))
    except BaseException:
        traceback.print_exc()
    finally:
        # After a Python driver ran, normal interpreter exit segfaults (4.2) or hangs (4.5).
        sys.stdout.flush()
        sys.stderr.flush()
        hard_exit(int(code))


def hard_exit(code: int) -> NoReturn:
    """End the process now, first removing Blender's session temp folder (/tmp/blender_*), which
    only Blender's normal exit would remove: one per worker would pile up on every node."""
    try:
        import bpy

        tempdir = bpy.app.tempdir
        if tempdir and os.path.basename(os.path.normpath(tempdir)).startswith("blender_"):
            shutil.rmtree(tempdir, ignore_errors=True)
    except Exception:  # never let clean-up stand between the worker and its exit code
        pass
    os._exit(code)
