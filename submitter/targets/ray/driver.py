"""The Ray job's entrypoint: runs one submission's tasks as Ray tasks, each the worker as a child.

Runs ON the Ray cluster (started by the Jobs API as `python driver.py SUBMISSION.json`), so it
uses only the standard library and `ray`, and never imports orbitfarm: the submitter only needs
HTTP. Being a Ray job, it outlives the submitter: closing the laptop loses nothing.

What it reads and writes (paths as the cluster sees them, all in the job directory):
- SUBMISSION.json (written by the submitter): the tasks (id, argv, log file), the resources of
  one task (num_gpus, num_cpus, memory, custom resources), the Ray task name, `parallelism`
  (at most that many tasks submitted at once; the rest wait in this driver) and the paths below.
- `ids_file`: Ray task id -> orbitfarm task id, rewritten whenever tasks are submitted, so the
  submitter can read Ray's state API (which knows Ray ids only) in one list call.
- `results_file`: task id -> exit code and reason as the driver saw each task end; the
  submitter's fallback when Ray's state API has forgotten a task (it keeps a bounded number)
  or reports only that the task's Ray worker died.
- `cancel_dir`: a file named after a task id cancels that task: the driver drops it if it has
  not handed it to Ray yet, and the Ray task itself kills its worker when it sees the file.
  Stopping the whole Ray job (Jobs API stop) force-cancels every task instead.

A task whose worker exits non-zero fails with "orbitfarm worker exit code N" (or "killed by
signal N"), which the submitter reads back from the state API's error message.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import ray

POLL_SECONDS = 1.0
CANCEL_CHECK_SECONDS = 0.5  # how soon a task notices orbitfarm's cancel request
_EXIT = re.compile(r"orbitfarm worker exit code (-?\d+)")
_SIGNAL = re.compile(r"orbitfarm worker killed by signal (\d+)")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the Ray worker that started us dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: a force-cancel then leaves the worker to finish on its own


def run_worker(task: dict[str, Any], env: dict[str, str], cwd: str,
               cancel_file: str = "") -> int:
    """Body of one Ray task: run the worker, its output appended to the task's log; end it
    when `cancel_file` appears (orbitfarm's cancel of this task)."""
    os.makedirs(os.path.dirname(task["log"]), exist_ok=True)
    if cancel_file and os.path.exists(cancel_file):
        raise RuntimeError("orbitfarm worker cancelled before it started")
    child_env = dict(os.environ, **env, **task.get("env", {}))
    with open(task["log"], "ab", buffering=0) as log:
        gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        ray_id = ray.get_runtime_context().get_task_id()
        log.write(f"orbitfarm: task {task['task']} (plan index {task['index']}) on "
                  f"{socket.gethostname()} as Ray task {ray_id}, "
                  f"CUDA_VISIBLE_DEVICES={gpus!r}\n".encode())
        proc = subprocess.Popen(task["argv"], cwd=cwd, env=child_env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent, start_new_session=True)
        # The task ends its own worker on a cancel request, rather than the driver force-
        # cancelling the Ray task: a force-cancel kills the Ray worker process, and can hit the
        # one Ray has just handed the next task to.
        while (code := proc.poll()) is None:
            if cancel_file and os.path.exists(cancel_file):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the worker and anything it started
                except ProcessLookupError:
                    pass
                proc.wait()
                log.write(b"orbitfarm: task cancelled, worker killed\n")
                raise RuntimeError("orbitfarm worker cancelled")
            time.sleep(CANCEL_CHECK_SECONDS)
    if code < 0:
        raise RuntimeError(f"orbitfarm worker killed by signal {-code}")
    if code:
        raise RuntimeError(f"orbitfarm worker exit code {code}")
    return 0


def _write_json(path: str, data: Any) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, allow_nan=False)
    os.replace(tmp, path)


class Driver:
    """Submits the tasks (throttled), watches them, honours cancel requests."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        res = spec.get("resources") or {}
        options: dict[str, Any] = {"name": spec["name"], "max_retries": 0,
                                   "retry_exceptions": False,
                                   "num_gpus": float(res.get("num_gpus") or 0),
                                   "num_cpus": float(res.get("num_cpus") or 1)}
        if res.get("memory"):
            options["memory"] = int(res["memory"])
        if res.get("resources"):
            options["resources"] = {k: float(v) for k, v in res["resources"].items()}
        self.remote = ray.remote(run_worker).options(**options)
        self.waiting = list(spec["tasks"])  # not yet handed to Ray
        self.running: dict[Any, str] = {}  # ObjectRef -> task id
        self.ids: dict[str, str] = {}  # Ray task id -> task id (every task ever submitted)
        self.parallelism = int(spec.get("parallelism") or 0) or len(self.waiting)
        self.stopping = False
        self.results: dict[str, dict[str, Any]] = {}  # task id -> exit code, reason
        self.cancelled: set[str] = set()  # task ids force-cancelled already

    def _submit_more(self) -> None:
        started = False
        while self.waiting and len(self.running) < self.parallelism and not self.stopping:
            task = self.waiting.pop(0)
            cancel_file = os.path.join(self.spec["cancel_dir"], task["task"])
            ref = self.remote.remote(task, self.spec.get("env") or {}, self.spec["cwd"],
                                     cancel_file)
            self.running[ref] = task["task"]
            self.ids[ref.task_id().hex()] = task["task"]
            started = True
        if started:
            _write_json(self.spec["ids_file"], self.ids)

    def _record_result(self, ref: Any, task_id: str) -> None:
        """The task's outcome as the driver saw it (a fallback when Ray's state API forgot the
        task or reports only that its Ray worker exited)."""
        try:
            ray.get(ref, timeout=10)
            self.results[task_id] = {"exit_code": 0, "reason": ""}
        except Exception as exc:  # noqa: BLE001 (any task error is an outcome to record)
            # The message carries a traceback whose source lines contain these phrases too:
            # only a phrase followed by digits is the worker's outcome.
            text = str(exc)
            code = None
            if m := _EXIT.search(text):
                code = int(m.group(1))
            elif m := _SIGNAL.search(text):
                code = 128 + int(m.group(1))
            last = text.strip().splitlines()[-1] if text.strip() else type(exc).__name__
            self.results[task_id] = {"exit_code": code, "reason": last[:300],
                                     "error": type(exc).__name__}

    def _cancel_requested(self) -> None:
        folder = self.spec["cancel_dir"]
        try:
            wanted = set(os.listdir(folder))
        except FileNotFoundError:
            return
        if not wanted:
            return
        # Tasks already handed to Ray see the request themselves (run_worker).
        self.waiting = [t for t in self.waiting if t["task"] not in wanted]

    def cancel_all(self, *_: Any) -> None:
        """SIGTERM from the Jobs API's stop: force-cancel everything, submit nothing more."""
        self.stopping = True
        self.waiting = []
        for ref, task_id in list(self.running.items()):
            if task_id not in self.cancelled:
                self.cancelled.add(task_id)
                ray.cancel(ref, force=True)

    def run(self) -> None:
        self._submit_more()
        while self.running or (self.waiting and not self.stopping):
            refs = list(self.running)
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=POLL_SECONDS,
                               fetch_local=False)
            for ref in done:
                task_id = self.running.pop(ref)
                try:
                    self._record_result(ref, task_id)
                except Exception as exc:  # noqa: BLE001 (bookkeeping must never stop the driver)
                    print(f"orbitfarm: could not record the outcome of {task_id}: {exc!r}",
                          flush=True)
            if done:
                _write_json(self.spec["results_file"], self.results)
            self._cancel_requested()
            self._submit_more()


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    ray.init()
    driver = Driver(spec)
    signal.signal(signal.SIGTERM, driver.cancel_all)
    started = time.monotonic()
    driver.run()
    print(f"orbitfarm: {len(driver.ids)} task(s) of {spec['name']} ended after "
          f"{time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
