"""Issue 16's reliability holes, one test each: retry refused or racing, retry after a crash,
unsafe values, secrets, and the small ones (empty files, foreign index lines, disk full)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from orbitfarm.submitter import jobs
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.jobs import control
from orbitfarm.submitter.model.jobspec import JobSpec
from orbitfarm.submitter.model.plan import make_plan
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.states import Phase
from orbitfarm.submitter.model.task import Subject
from orbitfarm.submitter.targets.base import SchedulerState, TargetError
from orbitfarm.submitter.targets.local.runner import record_file
from orbitfarm.submitter.targets.local.target import LocalTarget

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)


def _job(root: Path, subjects: int = 1, target: dict | None = None,
         max_attempts: int = 3) -> JobDir:
    settings = RenderSettings(frames=4)
    subs = [Subject(blend=str(root / "src" / f"s{i}.blend"), out=str(root / "out" / f"s{i}"),
                    name=f"s{i}") for i in range(subjects)]
    spec = JobSpec(id="job-r", settings=settings,
                   target=target or {"kind": "local", "name": "local"},
                   out=str(root / "out"), max_attempts=max_attempts)
    job = JobDir(root / "job")
    job.write_new(spec, make_plan("job-r", settings, subs))
    return job


def _failed(job: JobDir, task_id: str, attempt: int = 1, reason: str = "real reason") -> None:
    job.write_state(task_id, {"task": task_id, "state": "failed", "attempt": attempt,
                              "reason": reason, "exit_code": 1})


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orbitfarm.submitter.cli", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


# -- item 2: a retry the target refuses changes no task state and says why ---------------------


def test_a_refused_retry_changes_no_task_state_and_says_why(tmp_path):
    # A SLURM profile on a machine without sbatch: the target is unreachable for real.
    job = _job(tmp_path, target={"kind": "slurm", "name": "gpu"})
    (task_id,) = job.task_ids()
    _failed(job, task_id)
    job.save_target_record({"kind": "slurm", "arrays": []})
    before = job.state_file(task_id).read_bytes()
    markers = sorted(os.listdir(job.markers_dir))
    for _ in range(2):  # twice: the "two refused retries" left the task failed for good
        run = _cli("retry", str(job.path), env={"PATH": str(tmp_path / "nothing")})
        assert run.returncode == 2, run.stderr
        assert "refused the retry" in run.stderr and "no task state was changed" in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert job.state_file(task_id).read_bytes() == before
        assert sorted(os.listdir(job.markers_dir)) == markers
    st = jobs.status(JobDir(job.path), refresh=False)
    assert st.retryable == [task_id] and st.subjects[0].reason == "real reason"


class _RefusingTarget(LocalTarget):
    """The local target, except that its scheduler refuses the submission itself."""

    def check(self) -> None:
        pass

    def submit(self, job, attempts):
        raise TargetError("sbatch: error: Batch job submission failed: Invalid account")


def test_a_submission_refused_after_reopening_restores_every_state(tmp_path, monkeypatch):
    job = _job(tmp_path, subjects=2)
    a, b = job.task_ids()
    _failed(job, a)
    job.write_state(b, {"task": b, "state": "cancelled", "attempt": 1, "reason": "by user"})
    job.save_target_record({"kind": "local", "runs": []})
    files = {t: job.state_file(t).read_bytes() for t in (a, b)}
    markers = sorted(os.listdir(job.markers_dir))
    monkeypatch.setattr(control, "make_target", lambda profile: _RefusingTarget(profile))
    with pytest.raises(jobs.JobError, match="Invalid account.*no task state was changed"):
        jobs.retry(JobDir(job.path))
    assert {t: job.state_file(t).read_bytes() for t in (a, b)} == files
    assert sorted(os.listdir(job.markers_dir)) == markers
    st = jobs.status(JobDir(job.path), refresh=False)
    assert sorted(st.retryable) == [a, b] and st.tasks == {"failed": 1, "cancelled": 1}


# -- items 3 and 4: retry right after a crash; two retries at once ------------------------------


class _RecordingLocal(LocalTarget):
    """The real local target's poll (pids, runner records); submissions are recorded instead of
    starting renders (test_local_render covers those)."""

    submitted: list[dict[str, int]] = []

    def check(self) -> None:
        pass

    def submit(self, job, attempts):
        time.sleep(0.3)  # a real submit takes a moment: the window two retries raced in
        self.submitted.append(dict(attempts))
        record = job.target_record()
        record["runs"].append({"run": len(record["runs"]) + 1, "runner_pid": os.getpid(),
                               "host": socket.gethostname(), "tasks": "local/none.json"})
        job.save_target_record(record)


def _crashed_local_job(tmp_path: Path) -> tuple[JobDir, str]:
    """A local job whose runner and worker were just killed -9 mid-render (fresh heartbeat)."""
    job = _job(tmp_path)
    (task_id,) = job.task_ids()
    runner, worker = _dead_pid(), _dead_pid()
    runs = job.path / "local" / "run-1.json"
    runs.parent.mkdir()
    runs.write_text(json.dumps({"run": 1, "tasks": [task_id]}))
    job.save_target_record({"kind": "local", "runs": [
        {"run": 1, "runner_pid": runner, "host": socket.gethostname(),
         "tasks": "local/run-1.json"}]})
    record = record_file(job.path, task_id)
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"run": 1, "pid": worker, "started": time.time()}))
    now = time.time()
    job.write_state(task_id, {"task": task_id, "state": "running", "attempt": 1, "pid": worker,
                              "host": socket.gethostname(), "started": now, "heartbeat": now})
    return job, task_id


def test_retry_right_after_a_crash_finds_the_lost_tasks(tmp_path, monkeypatch):
    job, task_id = _crashed_local_job(tmp_path)
    _RecordingLocal.submitted = []
    monkeypatch.setattr(control, "make_target", lambda profile: _RecordingLocal(profile))
    assert jobs.retry(JobDir(job.path)) == [task_id]  # no `status` first, no 30 s wait
    assert _RecordingLocal.submitted == [{task_id: 2}]


def test_two_retries_at_once_submit_each_task_once(tmp_path, monkeypatch):
    job = _job(tmp_path, max_attempts=2)
    (task_id,) = job.task_ids()
    _failed(job, task_id)
    job.save_target_record({"kind": "local", "runs": []})
    _RecordingLocal.submitted = []
    monkeypatch.setattr(control, "make_target", lambda profile: _RecordingLocal(profile))
    pending = lambda self, job, ids: {t: SchedulerState(Phase.PENDING) for t in ids}  # noqa: E731
    monkeypatch.setattr(_RecordingLocal, "poll", pending)
    from orbitfarm.submitter.jobs import job_status

    monkeypatch.setattr(job_status, "make_target", lambda profile: _RecordingLocal(profile))
    real_status = control.status

    def slow_status(job, refresh=True):  # both look before either acts: the race
        found = real_status(job, refresh)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(control, "status", slow_status)
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(jobs.retry(JobDir(job.path))))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [task_id]]
    assert _RecordingLocal.submitted == [{task_id: 2}]
    assert (job.path / "job.lock").is_file()
