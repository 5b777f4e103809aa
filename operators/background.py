"""Run slow submitter work on a thread while a modal operator keeps Blender responsive.

The thread never touches bpy: it only posts small messages on a queue. The modal operator drains
the queue on the main thread (timer events), updates WindowManager state and redraws.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bpy

from . import bridge
from .bridge import OpResult

ProgressFn = Callable[[str, float], None]
Work = Callable[[ProgressFn, threading.Event], Any]


@dataclass
class Message:
    """What the worker thread reports: progress, done (with result), error or crash."""

    kind: str
    text: str = ""
    fraction: float = 0.0
    result: Any = None


class BackgroundTask:
    """One piece of work on a daemon thread; results arrive as Messages."""

    def __init__(self, work: Work) -> None:
        self.work = work
        self.messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, name="orbitfarm-background", daemon=True)
        self._errors = bridge.user_errors()  # resolved here: imports belong on the main thread

    def start(self) -> None:
        self.thread.start()

    def _progress(self, text: str, fraction: float) -> None:
        self.messages.put(Message("progress", text, max(0.0, min(1.0, fraction))))

    def _run(self) -> None:
        try:
            result = self.work(self._progress, self.cancel)
        except self._errors as exc:
            self.messages.put(Message("error", str(exc)))
        except Exception:  # a bug: keep the traceback for the console, one line for the UI
            self.messages.put(Message("crash", traceback.format_exc()))
        else:
            self.messages.put(Message("done", result=result))

    def drain(self) -> list[Message]:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out


def redraw_all() -> None:
    """Ask every visible area to redraw (progress bars, job rows)."""
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", []):
        for area in window.screen.areas:
            area.tag_redraw()


class BackgroundOperator(bridge.OperatorMixin):
    """Mixin for operators whose invoke() runs `work` on a thread and modal() follows it.

    Subclasses implement on_done(context, result) -> OpResult; Esc sets the cancel event.
    """

    _task: BackgroundTask | None = None
    _timer: Any = None

    def refuse_if_busy(self, context: bpy.types.Context) -> bool:
        """One background task at a time (it may be packaging a temp copy): report and refuse."""
        runtime = bridge.runtime(context)
        if runtime.busy:
            self.report({"ERROR"}, f"orbitfarm is still busy: {runtime.status} (Esc aborts it)")
        return bool(runtime.busy)

    def start_background(self, context: bpy.types.Context, work: Work, status: str) -> OpResult:
        if self.refuse_if_busy(context):
            return {"CANCELLED"}
        runtime = bridge.runtime(context)
        runtime.busy, runtime.progress, runtime.status, runtime.error = True, 0.0, status, ""
        self._task = BackgroundTask(work)
        self._task.start()
        wm: Any = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _finish(self, context: bpy.types.Context) -> None:
        if self._timer is not None:
            wm: Any = context.window_manager
            wm.event_timer_remove(self._timer)
            self._timer = None
        runtime = bridge.runtime(context)
        runtime.busy = False
        redraw_all()

    def modal(self, context: bpy.types.Context, event: Any) -> OpResult:
        runtime = bridge.runtime(context)
        task = self._task
        assert task is not None
        if event.type == "ESC" and event.value == "PRESS" and not task.cancel.is_set():
            task.cancel.set()
            runtime.status = "Aborting…"
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        for msg in task.drain():
            if msg.kind == "progress":
                runtime.status, runtime.progress = msg.text, msg.fraction
            elif msg.kind == "done":
                self._finish(context)
                return self.on_done(context, msg.result)
            else:
                self._finish(context)
                if msg.kind == "crash":
                    print(msg.text)
                    text = "internal error: " + msg.text.strip().splitlines()[-1] + " (see console)"
                else:
                    text = msg.text
                if task.cancel.is_set():
                    text = f"Aborted: {text}"
                runtime.error, runtime.status = text, ""
                self.report({"ERROR"}, text)
                return {"CANCELLED"}
        redraw_all()
        return {"PASS_THROUGH"}

    def on_done(self, context: bpy.types.Context, result: Any) -> OpResult:
        raise NotImplementedError


def run_blocking(operator: Any, context: bpy.types.Context, work: Work) -> tuple[bool, Any]:
    """Run `work` on the calling thread (execute() for scripts and tests); report user errors."""
    runtime = bridge.runtime(context)
    runtime.error = ""

    def progress(text: str, fraction: float) -> None:
        runtime.status, runtime.progress = text, fraction

    try:
        return True, work(progress, threading.Event())
    except bridge.user_errors() as exc:
        runtime.error, runtime.status = str(exc), ""
        operator.report({"ERROR"}, str(exc))
        return False, None
