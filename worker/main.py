"""Worker entry point: render a task's subjects in turn, then end the process hard.

Runs inside Blender. On a node (Blender binary) the exact command line is

    blender -b --factory-startup --disable-autoexec --python-exit-code 1 \\
        --python-expr "<boot>" -- CODE_DIR --task TASK.json

and through the bpy wheel `python -c "<boot>" -- CODE_DIR --task TASK.json`, where <boot> (see
submitter/launch.py) imports orbitfarm from CODE_DIR and calls entry(). `--plan FILE --index N`
reads task N of a job plan instead. Exit code: 0 every subject rendered or skipped, 1 any
failed, 2 the task file is unusable.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Any, NoReturn

EXIT_OK, EXIT_FAILED, EXIT_BAD_TASK = 0, 1, 2


def _load_task(argv: list[str]) -> Any:
    from ..submitter.spec import WorkerTask

    parser = argparse.ArgumentParser(prog="orbitfarm-worker")
    parser.add_argument("--task", help="WorkerTask JSON file")
    parser.add_argument("--plan", help="job plan file (with --index)")
    parser.add_argument("--index", type=int, help="task index within --plan")
    args = parser.parse_args(argv)
    if args.task:
        return WorkerTask.read(args.task)
    if args.plan is not None and args.index is not None:
        from ..submitter.plan import load_worker_task

        return load_worker_task(args.plan, args.index)
    parser.error("give --task FILE or --plan FILE --index N")


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

    from ..submitter.taskstate import TaskStateWriter, final_state_for
    from .pipeline import log, render_subject

    writer = TaskStateWriter(task.state_file, task.task_id) if task.state_file else None
    if writer:
        writer.start_heartbeat()

    def progress(name: str, **fields: Any) -> None:
        if writer:
            writer.subject(name, **fields)

    statuses: list[str] = []
    for subject in task.subjects:
        statuses.append(render_subject(task, subject, progress))
    failed = [s.name for s, st in zip(task.subjects, statuses, strict=False) if st == "failed"]
    code = EXIT_FAILED if failed else EXIT_OK
    reason = f"failed: {', '.join(failed)}" if failed else ""
    log(f"task done: {statuses.count('rendered')} rendered, {statuses.count('skipped')} skipped, "
        f"{len(failed)} failed")
    if writer:
        writer.finish(final_state_for(statuses), code, reason)
    return code


def entry(argv: list[str]) -> NoReturn:
    """Run the worker and end with os._exit (Blender can crash or hang at normal exit)."""
    code = EXIT_FAILED
    try:
        code = run(list(argv))
    except BaseException:
        traceback.print_exc()
    finally:
        # After a Python driver ran, normal interpreter exit segfaults (4.2) or hangs (4.5).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
