"""Task markers: `status` of finished tasks from one folder listing, never claiming more than
the state files say (retry, stale attempts, killed workers, cancel races)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orbitfarm.submitter import jobs
from orbitfarm.submitter.files import jobdir as jobdir_module
from orbitfarm.submitter.files import taskstate
from orbitfarm.submitter.files.atomic import read_json
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.files.taskstate import TaskStateWriter, resolve_markers, summarize
from orbitfarm.submitter.jobs import control
from orbitfarm.submitter.model.jobspec import JobSpec
from orbitfarm.submitter.model.plan import make_plan
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.task import Subject

FRAMES = 4


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))


def _job(root: Path, subjects: int = 3, max_attempts: int = 3) -> JobDir:
    settings = RenderSettings(frames=FRAMES)
    subs = [Subject(blend=str(root / "job" / "inputs" / f"s{i}.blend"), out=str(root / f"s{i}"),
                    name=f"s{i}") for i in range(subjects)]
    spec = JobSpec(id="job-m", settings=settings, target={"kind": "local", "name": "local"},
                   out=str(root / "out"), max_attempts=max_attempts)
    job = JobDir(root / "job")
    job.write_new(spec, make_plan("job-m", settings, subs))
    return job


def _start(job: JobDir, task_id: str) -> TaskStateWriter:
    """What worker/main.run does when a task starts (the real writer, no heartbeat thread)."""
    return TaskStateWriter(job.state_file(task_id), task_id)


def _end(writer: TaskStateWriter, subject: str, outcome: str) -> None:
    """What worker/main.run does when its subject ends: rendered, skipped or failed."""
    if outcome == "rendered":
        writer.subject(subject, status="rendered", frames_done=FRAMES, frames_total=FRAMES)
        writer.finish(taskstate.DONE, 0, "")
    elif outcome == "skipped":
        writer.subject(subject, status="skipped", reason="animated", frames_total=FRAMES)
        writer.finish(taskstate.SKIPPED, 0, "")
    else:
        writer.subject(subject, status="failed", reason="cannot open", frames_done=1,
                       frames_total=FRAMES)
        writer.finish(taskstate.FAILED, 1, f"failed: {subject}")


def _markers(job: JobDir) -> list[str]:
    return sorted(p.name for p in job.markers_dir.iterdir())


def _from_files(job: JobDir) -> dict[str, list]:
    """The truth: summaries of every existing state file, read one by one."""
    return {t: summarize(read_json(job.state_file(t))) for t in job.task_ids()
            if job.state_file(t).is_file()}


def _forbid_state_reads(monkeypatch, job: JobDir) -> None:
    real = jobdir_module.read_json

    def guarded(path, default=None):
        assert Path(path).parent != job.tasks_dir, f"status read {path}"
        return real(path, default)

    monkeypatch.setattr(jobdir_module, "read_json", guarded)


def test_finished_tasks_are_answered_from_markers_without_reading_state_files(tmp_path,
                                                                              monkeypatch):
    job = _job(tmp_path)
    for i, task_id in enumerate(job.task_ids()):
        _end(_start(job, task_id), f"s{i}", "rendered")
    assert _markers(job) == ["t00000.done.1", "t00001.done.1", "t00002.done.1"]
    _forbid_state_reads(monkeypatch, job)
    status = jobs.status(JobDir(job.path))
    assert status.finished and status.ok and status.tasks == {"done": 3}
    assert [(r.state, r.frames_done, r.frames_total) for r in status.subjects] == [
        ("rendered", FRAMES, FRAMES)] * 3


def test_tasks_with_reasons_get_detail_markers_and_status_reads_their_files(tmp_path):
    job = _job(tmp_path)
    a, b, c = job.task_ids()
    _end(_start(job, a), "s0", "rendered")
    _end(_start(job, b), "s1", "skipped")
    _end(_start(job, c), "s2", "failed")
    assert _markers(job) == ["t00000.done.1", "t00001.skipped.1.detail",
                             "t00002.failed.1.detail"]
    rows = {r.name: r for r in jobs.status(JobDir(job.path)).subjects}
    assert (rows["s1"].state, rows["s1"].reason) == ("skipped", "animated")
    assert (rows["s2"].state, rows["s2"].reason, rows["s2"].frames_done) == (
        "failed", "cannot open", 1)
    assert JobDir(job.path).read_summaries() == _from_files(job)


class _RecordingTarget:
    """Stands in for the local target, which would start real renders (test_local_render
    covers that path); retry's bookkeeping in the job directory is what is under test."""

    submitted: list[dict[str, int]] = []

    def check(self):
        pass

    def stage_in(self, job):
        pass

    def submit(self, job, attempts):
        self.submitted.append(dict(attempts))


def test_retry_after_failure_withdraws_markers_so_the_task_is_not_counted_final(tmp_path,
                                                                                monkeypatch):
    job = _job(tmp_path, subjects=2)
    a, b = job.task_ids()
    _end(_start(job, a), "s0", "rendered")
    _end(_start(job, b), "s1", "failed")
    job.save_target_record({"kind": "local", "runs": []})
    assert jobs.status(JobDir(job.path), refresh=False).finished
    monkeypatch.setattr(control, "make_target", lambda profile: _RecordingTarget())
    assert jobs.retry(JobDir(job.path)) == [b]
    assert _RecordingTarget.submitted[-1] == {b: 2}  # the attempt goes to the target explicitly
    assert _markers(job) == ["t00000.done.1"]  # the failed attempt's marker is gone
    status = jobs.status(JobDir(job.path), refresh=False)
    assert status.tasks == {"done": 1, "queued": 1} and not status.finished
    assert {r.name: r.state for r in status.subjects} == {"s0": "rendered", "s1": "queued"}
    # The second attempt renders it: now it counts as done, at attempt 2.
    _end(_start(job, b), "s1", "rendered")
    assert _markers(job) == ["t00000.done.1", "t00001.done.2"]
    status = jobs.status(JobDir(job.path), refresh=False)
    assert status.ok and status.tasks == {"done": 2}


def test_a_stale_marker_from_an_earlier_attempt_is_ignored(tmp_path):
    job = _job(tmp_path, subjects=1)
    (task_id,) = job.task_ids()
    _end(_start(job, task_id), "s0", "failed")
    # A leftover "done" of attempt 1 (e.g. a zombie worker of that attempt finishing late)
    # next to attempt 2, which started and has not finished: status must not say done.
    taskstate.make_marker(job.markers_dir, "t00000.done.1")
    writer = _start(job, task_id)
    assert "t00000.running.2" in _markers(job)
    status = jobs.status(JobDir(job.path), refresh=False)
    assert status.tasks == {"running": 1} and not status.finished
    _end(writer, "s0", "rendered")
    status = jobs.status(JobDir(job.path), refresh=False)
    assert status.ok and status.subjects[0].state == "rendered"
    assert resolve_markers(["t1.done.1", "t1.failed.2.detail"]) == {"t1": ("failed", 2, True)}
    assert resolve_markers(["t1.failed.1.detail", "t1.done.2"]) == {"t1": ("done", 2, False)}


def test_a_worker_killed_before_its_marker_falls_back_to_the_state_file(tmp_path, monkeypatch):
    job = _job(tmp_path, subjects=2)
    a, b = job.task_ids()
    _end(_start(job, a), "s0", "rendered")
    writer = _start(job, b)

    def killed(folder, name):  # the process dies between the state file and its marker
        raise OSError("killed")

    monkeypatch.setattr(taskstate, "make_marker", killed)
    _end(writer, "s1", "rendered")
    monkeypatch.undo()
    assert job.read_state(b)["state"] == "done"
    assert _markers(job) == ["t00000.done.1", "t00001.running.1"]
    status = jobs.status(JobDir(job.path), refresh=False)
    assert status.ok and status.tasks == {"done": 2}
    # A worker killed mid-render leaves only its running marker: the file says running.
    c_job = _job(tmp_path / "other", subjects=1)
    _start(c_job, "t00000")
    assert jobs.status(JobDir(c_job.path), refresh=False).tasks == {"running": 1}
    # A job without any markers (made by an older version) reads every state file.
    import shutil

    shutil.rmtree(job.markers_dir)
    status = jobs.status(JobDir(job.path), refresh=False)
    assert status.ok and status.tasks == {"done": 2}


def test_cancel_racing_the_workers_finish_follows_the_state_file(tmp_path):
    job = _job(tmp_path, subjects=1)
    (task_id,) = job.task_ids()
    writer = _start(job, task_id)
    jobs.cancel(JobDir(job.path))  # never submitted: marks it cancelled, stops nothing
    _end(writer, "s0", "rendered")  # the worker had already got to the end
    assert _markers(job) == ["t00000.cancelled.1.detail", "t00000.done.1"]
    assert JobDir(job.path).read_summaries() == _from_files(job)
    assert jobs.status(JobDir(job.path), refresh=False).tasks == {"done": 1}


def test_marker_names_that_are_not_markers_are_ignored():
    names = [".tmp-x", "t1.done", "t1.done.x", "t1.bogus.1", "t1.done.1.extra", "t2.done.1"]
    assert resolve_markers(names) == {"t2": ("done", 1, False)}
    assert resolve_markers(["t3.running.1", "t3.done.1"]) == {"t3": ("done", 1, False)}
    assert resolve_markers(["t4.done.1", "t4.cancelled.1.detail"]) == {"t4": None}
    assert resolve_markers(["t5.running.4"]) == {"t5": None}


# Any interleaving of what workers (also stale ones) and the submitter do to a job leaves the
# markers consistent: `status`'s summaries always equal what reading every state file gives.
_OPS = st.lists(st.tuples(
    st.sampled_from(["start", "finish", "kill", "lost", "cancel", "retry", "look"]),
    st.integers(0, 2),  # task
    st.sampled_from(["rendered", "skipped", "failed"]),
    st.booleans(),  # finish: the newest writer, or an older one still alive (a zombie)
), max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS)
def test_markers_never_disagree_with_the_state_files(ops):
    with tempfile.TemporaryDirectory() as tmp:
        job = _job(Path(tmp))
        ids = job.task_ids()
        writers: dict[str, list[TaskStateWriter]] = {t: [] for t in ids}
        job.save_target_record({"kind": "local", "runs": []})
        for op, index, outcome, zombie in ops:
            task_id = ids[index]
            if op == "start":
                writers[task_id].append(_start(job, task_id))
            elif op == "finish" and writers[task_id]:
                writer = writers[task_id].pop(0 if zombie else -1)
                _end(writer, f"s{index}", outcome)
            elif op == "kill" and writers[task_id]:
                writers[task_id].pop()
            elif op == "lost":  # what _reconcile writes for a task the target no longer runs
                fresh = job.read_state(task_id)
                if fresh.get("state") not in taskstate.FINAL_STATES:
                    fresh.update(state="lost", reason="the target no longer knows this task",
                                 ended=time.time())
                    job.write_state(task_id, fresh)
            elif op == "cancel":
                jobs.cancel(JobDir(job.path))
            elif op == "retry":
                retryable = jobs.status(JobDir(job.path), refresh=False).retryable
                job.reopen({t: {"task": t, "state": "queued",
                                "attempt": int(job.read_state(t).get("attempt", 0))}
                            for t in retryable})
            assert JobDir(job.path).read_summaries() == _from_files(job), (op, task_id)


def test_jobdir_write_state_keeps_markers_true_both_ways(tmp_path):
    job = _job(tmp_path, subjects=1)
    (task_id,) = job.task_ids()
    job.write_state(task_id, {"state": "done", "attempt": 1, "exit_code": 0})
    assert _markers(job) == ["t00000.done.1"]
    job.write_state(task_id, {"state": "queued", "attempt": 1})  # back to non-final
    assert _markers(job) == []
    assert jobs.status(JobDir(job.path), refresh=False).tasks == {"queued": 1}
    job.write_state(task_id, {"state": "running", "attempt": 2, "heartbeat": time.time()})
    assert _markers(job) == ["t00000.running.2"]
    job.write_state(task_id, {"state": "lost", "attempt": 2, "reason": "node died"})
    assert _markers(job) == ["t00000.lost.2.detail"]
    assert JobDir(job.path).read_summaries() == _from_files(job)


def test_status_to_dict_is_what_asdict_gives(tmp_path):
    import dataclasses

    job = _job(tmp_path)
    a, b, _ = job.task_ids()
    _end(_start(job, a), "s0", "rendered")
    _end(_start(job, b), "s1", "failed")
    status = jobs.status(JobDir(job.path), refresh=False)
    expected = dataclasses.asdict(status)
    expected["totals"] = status.totals
    assert status.to_dict() == expected


def test_an_older_attempt_finishing_late_never_overwrites_the_newer_one(tmp_path):
    # Issue 16 item 9: attempt 1 (a zombie) ends after attempt 2 started; the state file
    # must stay attempt 2's and the zombie must not leave a marker saying it ended.
    job = _job(tmp_path, subjects=1)
    (task_id,) = job.task_ids()
    first = _start(job, task_id)
    second = _start(job, task_id)
    assert job.read_state(task_id)["attempt"] == 2
    _end(first, "s0", "failed")
    state = job.read_state(task_id)
    assert (state["state"], state["attempt"]) == ("running", 2)
    assert first.stale and _markers(job) == ["t00000.running.2"]
    # The submitter's own verdicts follow the same rule: a "lost" for attempt 1 is refused.
    assert job.write_state(task_id, dict(state, state="lost", attempt=1)) is False
    _end(second, "s0", "rendered")
    assert _markers(job) == ["t00000.done.2"]
    assert jobs.status(JobDir(job.path), refresh=False).ok


def test_an_empty_state_file_reads_as_queued(tmp_path):
    # Issue 16 item 10: an empty task state file (disk full, a hand edit) crashed `status`.
    job = _job(tmp_path, subjects=2)
    a, b = job.task_ids()
    _end(_start(job, a), "s0", "rendered")
    job.state_file(b).write_text("")
    status = jobs.status(JobDir(job.path), refresh=False)
    assert status.tasks == {"done": 1, "queued": 1}
    assert job.read_state(b) == {"state": "queued"}
