"""The job model without rendering: plan, job directory, spec, profiles, names, status, notify."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from orbitfarm.submitter import jobs
from orbitfarm.submitter.files.jobdir import JobDir, copy_code
from orbitfarm.submitter.jobs import notify
from orbitfarm.submitter.jobs.index import remember
from orbitfarm.submitter.jobs.subjects import SubjectsError, find_blends, subject_names
from orbitfarm.submitter.launch.runtime import Runtime, package_dir, plan_worker_argv
from orbitfarm.submitter.model.jobspec import JobSpec, JobSpecError
from orbitfarm.submitter.model.plan import Plan, load_worker_task, make_plan
from orbitfarm.submitter.model.settings import RenderSettings, SettingsError
from orbitfarm.submitter.model.task import Subject
from orbitfarm.submitter.targets import TARGET_KINDS, make_target, profiles, target_class
from orbitfarm.submitter.targets.base import TargetError


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)


def _subjects(root: Path, count: int) -> list[Subject]:
    return [Subject(blend=str(root / "inputs" / f"s{i}.blend"), out=f"/data/out/s{i}",
                    name=f"s{i}") for i in range(count)]


def test_plan_tasks_are_subject_groups_times_frame_chunks(tmp_path):
    settings = RenderSettings(frames=10)
    plan = make_plan("j", settings, _subjects(tmp_path, 5), chunk=4, group=2)
    assert [(list(m), plan.chunks[c]) for m, c in plan.tasks][:3] == [
        ([0, 1], [1, 2, 3, 4]), ([0, 1], [5, 6, 7, 8]), ([0, 1], [9, 10])]
    assert len(plan.tasks) == 3 * 3
    covered = {(s, f) for m, c in plan.tasks for s in m for f in plan.chunks[c]}
    assert covered == {(s, f) for s in range(5) for f in range(1, 11)}
    whole = make_plan("j", settings, _subjects(tmp_path, 2))
    assert len(whole.tasks) == 2 and whole.worker_task(0, tmp_path).frames is None


def test_plan_paths_inside_the_job_dir_are_relative_so_it_can_move(tmp_path):
    job = tmp_path / "job one"
    plan = make_plan("j", RenderSettings(frames=6, frame_range="2-6x2"), _subjects(job, 3),
                     chunk=2)
    plan.write(job / "plan.json")
    raw = json.loads((job / "plan.json").read_text())
    assert raw["subjects"][0][:2] == ["inputs/s0.blend", "s0"]  # inside: relative
    assert raw["out_root"] == "/data/out"  # outside: absolute, written once
    moved = tmp_path / "elsewhere ü" / "job"
    moved.parent.mkdir()
    shutil.move(str(job), moved)
    task = load_worker_task(str(moved / "plan.json"), 1)
    assert task.subjects[0].blend == str(moved / "inputs" / "s0.blend")
    assert task.subjects[0].out == "/data/out/s0"
    assert task.frames == [6]
    assert task.state_file == str(moved / "tasks" / "t00001.json")
    assert task.task_id == "t00001"
    with pytest.raises(IndexError):
        load_worker_task(str(moved / "plan.json"), 99)


def test_plan_worker_argv_names_the_index_variable():
    runtime = Runtime("blender", "/opt/blender 4.2/blender")
    argv = plan_worker_argv(runtime, "/jobs/a b/code/orbitfarm", "/jobs/a b/plan.json",
                            "SGE_TASK_ID", 7)
    assert argv[-8:] == ["--", "/jobs/a b/code/orbitfarm", "--plan", "/jobs/a b/plan.json",
                         "--index-env", "SGE_TASK_ID", "--index-offset", "7"]
    assert "--disable-autoexec" in argv and "--factory-startup" in argv


def test_worker_reads_its_task_from_the_variable_the_launch_line_names(tmp_path, monkeypatch):
    from orbitfarm.worker.main import _load_task

    plan = make_plan("j", RenderSettings(frames=2), _subjects(tmp_path, 6))
    plan.write(tmp_path / "plan.json")
    monkeypatch.setenv("SOME_ARRAY_INDEX", "3")
    task = _load_task(["--plan", str(tmp_path / "plan.json"), "--index-env", "SOME_ARRAY_INDEX",
                       "--index-offset", "2"])
    assert task.task_id == "t00005" and task.subjects[0].name == "s5"
    monkeypatch.setenv("SOME_ARRAY_INDEX", "")
    with pytest.raises(ValueError, match="SOME_ARRAY_INDEX"):
        _load_task(["--plan", str(tmp_path / "plan.json"), "--index-env", "SOME_ARRAY_INDEX"])


def test_a_100k_task_plan_loads_its_last_task(tmp_path):
    # How fast is bench/jobs_bench.py's business (wall-clock time has no place in tests).
    subjects = _subjects(tmp_path, 100_000)
    plan = make_plan("big", RenderSettings(frames=36), subjects)
    plan.write(tmp_path / "plan.json")
    task = load_worker_task(str(tmp_path / "plan.json"), 99_999)
    assert task.subjects[0].name == "s99999" and task.task_id == "t99999"


def test_job_spec_round_trips_and_refuses_bad_files(tmp_path):
    spec = JobSpec(id="x", settings=RenderSettings(frames=8), target={"kind": "local"}, out="/o",
                   chunk=2, notify="https://example.org/hook")
    path = tmp_path / "job.yaml"
    spec.write(path)
    assert JobSpec.read(path) == spec
    path.write_text(path.read_text().replace("version: 1", "version: 9"))
    with pytest.raises(JobSpecError, match="version 9"):
        JobSpec.read(path)
    path.write_text("id: x\nversion: 1\nsettings: {}\ntarget: {kind: local}\nout: o\nchnk: 3\n")
    with pytest.raises(JobSpecError, match="unknown key.*chnk"):
        JobSpec.read(path)
    path.write_text("version: 1\nid: x\nsettings: {frames: 0}\ntarget: {kind: local}\nout: o\n")
    with pytest.raises(JobSpecError, match="--frames"):
        JobSpec.read(path)
    path.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(JobSpecError, match="not valid YAML"):
        JobSpec.read(path)


def test_profiles_merge_user_project_and_config(tmp_path):
    user = tmp_path / "config" / "orbitfarm" / "targets.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("default: gpu\ntargets:\n  gpu: {kind: slurm, partition: gpu}\n"
                    "  two: {kind: local, workers: 2}\n")
    (tmp_path / "orbitfarm.yaml").write_text("targets:\n  two: {kind: local, workers: 3}\n")
    found = profiles.load_profiles()
    assert found["two"]["workers"] == 3 and found["gpu"]["partition"] == "gpu"
    assert "local" in found
    assert profiles.default_profile_name() == "gpu"
    extra = tmp_path / "extra.yaml"
    extra.write_text("targets:\n  two: {kind: nope}\n")
    with pytest.raises(TargetError, match="unknown kind 'nope'"):
        profiles.load_profiles(str(extra))
    with pytest.raises(TargetError, match="no target profile named 'gpux'"):
        profiles.resolve_profile("gpux")
    with pytest.raises(TargetError, match="no such file"):
        profiles.load_profiles(str(tmp_path / "missing.yaml"))


def test_target_registry_is_lazy_and_clear():
    assert set(TARGET_KINDS) >= {"local", "slurm"}
    assert target_class("local").kind == "local"
    assert make_target({"kind": "local", "workers": 2}).workers == 2
    with pytest.raises(TargetError, match="unknown target kind 'k8s'"):
        target_class("k8s")


def test_equal_stems_from_different_folders_get_distinct_deterministic_names(tmp_path):
    blends = [tmp_path / "a" / "chair.blend", tmp_path / "b" / "chair.blend",
              tmp_path / "b" / "table.blend"]
    names, notes = subject_names(blends)
    assert names == ["a_chair", "b_chair", "table"]
    assert subject_names(list(reversed(blends)))[0] == list(reversed(names))
    assert "2 files are called chair.blend" in notes[0]


def test_find_blends_searches_folders_but_not_hidden_job_dirs(tmp_path):
    (tmp_path / "src" / "deep").mkdir(parents=True)
    (tmp_path / "src" / "deep" / "x.blend").write_bytes(b"")
    (tmp_path / "src" / "x.blend1").write_bytes(b"")
    (tmp_path / "src" / ".orbitfarm" / "jobs").mkdir(parents=True)
    (tmp_path / "src" / ".orbitfarm" / "jobs" / "packed.blend").write_bytes(b"")
    found = find_blends([str(tmp_path / "src")])
    assert [b.name for b, _ in found] == ["x.blend"]
    with pytest.raises(SubjectsError, match="no such file"):
        find_blends([str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubjectsError, match="no subject files"):
        find_blends([str(tmp_path / "empty")])


def test_code_copy_holds_the_package_but_no_tests(tmp_path):
    dest = tmp_path / "code" / "orbitfarm"
    copy_code(package_dir(), dest)
    assert (dest / "__init__.py").is_file()
    assert (dest / "worker" / "main.py").is_file()
    assert (dest / "submitter" / "model" / "plan.py").is_file()
    assert (dest / "submitter" / "targets" / "local" / "runner.py").is_file()
    assert not (dest / "tests").exists() and not (dest / "bench").exists()
    assert not list(dest.rglob("__pycache__"))


def _fake_job(tmp_path: Path, subjects: int, chunk: int | None = None, group: int = 1) -> JobDir:
    """A job directory written by hand (no packing, never submitted)."""
    settings = RenderSettings(frames=4)
    spec = JobSpec(id="job-1", settings=settings, target={"kind": "local", "name": "local"},
                   out=str(tmp_path / "out"), max_attempts=2)
    plan = make_plan("job-1", settings, _subjects(tmp_path / "job", subjects), chunk, group)
    job = JobDir(tmp_path / "job")
    job.write_new(spec, plan)
    return job


def test_status_aggregates_worker_states_per_subject(tmp_path):
    job = _fake_job(tmp_path, subjects=4, chunk=2)  # 8 tasks: subject i -> tasks 2i, 2i+1
    ids = job.task_ids()
    job.write_state(ids[0], {"state": "done", "attempt": 1,
                             "subjects": {"s0": {"status": "rendered", "frames_done": 2}}})
    job.write_state(ids[1], {"state": "done", "attempt": 1,
                             "subjects": {"s0": {"status": "rendered", "frames_done": 2}}})
    for i in (2, 3):
        job.write_state(ids[i], {"state": "skipped", "attempt": 1,
                                 "subjects": {"s1": {"status": "skipped", "reason": "animated"}}})
    job.write_state(ids[4], {"state": "failed", "attempt": 2, "reason": "killed by signal 9"})
    job.write_state(ids[6], {"state": "running", "attempt": 1, "heartbeat": time.time(),
                             "subjects": {"s3": {"status": "rendering", "frames_done": 1}}})
    st = jobs.status(job)
    rows = {r.name: r for r in st.subjects}
    assert (rows["s0"].state, rows["s0"].frames_done, rows["s0"].frames_total) == ("rendered", 4, 4)
    assert rows["s1"].state == "skipped" and rows["s1"].reason == "animated"
    assert rows["s2"].state == "failed" and "signal 9" in rows["s2"].reason
    assert (rows["s3"].state, rows["s3"].frames_done) == ("running", 1)
    assert st.failed_tasks == 1 and not st.finished
    assert st.exhausted == [ids[4]]  # attempt 2 of max 2: failed for good
    assert st.to_dict()["totals"]["rendered"] == 1
    json.dumps(st.to_dict())


def test_status_of_a_group_task_keeps_subjects_apart(tmp_path):
    job = _fake_job(tmp_path, subjects=3, group=3)
    (task_id,) = job.task_ids()
    job.write_state(task_id, {"state": "failed", "attempt": 1, "reason": "failed: s1", "subjects": {
        "s0": {"status": "rendered", "frames_done": 4},
        "s1": {"status": "failed", "reason": "cannot open"}}})
    rows = {r.name: r for r in jobs.status(job).subjects}
    assert rows["s0"].state == "rendered"
    assert rows["s1"].state == "failed" and rows["s1"].reason == "cannot open"
    assert rows["s2"].state == "failed"  # never reached: its task failed


def test_open_job_by_dir_id_and_prefix(tmp_path):
    job = _fake_job(tmp_path, 1)
    remember(job, 1, 1)
    assert jobs.open_job(str(job.path)).path == job.path
    assert jobs.open_job("job-1").path == job.path
    assert jobs.open_job("job-").path == job.path
    assert jobs.recent_jobs()[0].id == "job-1"
    with pytest.raises(jobs.JobError, match="no job 'zzz'"):
        jobs.open_job("zzz")


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_notifications_post_once_and_a_dead_hook_never_fails(tmp_path):
    # A real HTTP server on localhost stands in for the user's webhook service.
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        job = _fake_job(tmp_path, 1)
        job.spec.notify = url
        (task_id,) = job.task_ids()
        job.write_state(task_id, {"state": "done", "attempt": 1})
        assert jobs.status(job).finished
        jobs.status(job)  # a second look must not notify again
        assert [m["event"] for m in _Hook.received] == ["job_finished"]
        assert _Hook.received[0]["ok"] is True
    finally:
        server.shutdown()
        server.server_close()
    assert notify.post(url, {"x": 1}) is False  # server gone: logged, no exception


def test_retry_needs_a_submitted_job_and_respects_max_attempts(tmp_path):
    job = _fake_job(tmp_path, 2)
    a, b = job.task_ids()
    job.write_state(a, {"state": "failed", "attempt": 2})
    job.write_state(b, {"state": "lost", "attempt": 1})
    job.save_target_record({"kind": "local", "runs": []})
    st = jobs.status(job, refresh=False)
    assert st.retryable == [b] and st.exhausted == [a]


def test_submit_refuses_bad_input_with_one_clear_line(tmp_path):
    with pytest.raises(jobs.JobError, match="--out DIR is required"):
        jobs.submit(jobs.SubmitRequest(files=[str(tmp_path)], out="", settings=RenderSettings()))
    with pytest.raises(jobs.JobError, match="no subject files"):
        jobs.submit(jobs.SubmitRequest(files=[str(tmp_path)], out=str(tmp_path / "o"),
                                       settings=RenderSettings()))
    with pytest.raises(SettingsError, match="--chunk"):
        make_plan("j", RenderSettings(), [], chunk=0)
    assert not (tmp_path / "o").exists()


def test_plan_json_is_plain_json_without_yaml(tmp_path):
    plan = make_plan("j", RenderSettings(frames=3), _subjects(tmp_path, 1))
    plan.write(tmp_path / "plan.json")
    assert Plan.read(tmp_path / "plan.json").subjects[0].name == "s0"
    assert os.path.getsize(tmp_path / "plan.json") < 1000
