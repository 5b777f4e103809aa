"""The ray target against a real Ray head (tests/ray/cluster.sh, started by conftest.py).

One test renders with the real worker (bpy wheel) and checks pixels; the scheduler plumbing
(GPU fitting, exit codes, cancel, retry) uses a stand-in worker: a shell script given as the
`python:` runtime that records its PID and CUDA_VISIBLE_DEVICES, then sleeps or exits as told,
so the tests are quick and can watch processes die.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from orbitfarm.submitter import jobs
from orbitfarm.submitter.files.imageio import read_png
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.states import Phase
from orbitfarm.submitter.targets import make_target

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import subjects  # noqa: E402  (tests/subjects.py)

pytestmark = pytest.mark.ray

COLORS = {"red": (0.8, 0.0, 0.0), "blue": (0.0, 0.0, 0.8)}


@pytest.fixture(autouse=True)
def _own_jobs_index(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "orbitfarm-home"))


def _settings(frames: int = 2) -> RenderSettings:
    return RenderSettings(frames=frames, width=48, height=36, samples=2, device="cpu")


def _cubes(python: str, folder: Path, names: list[str]) -> Path:
    for name in names:
        subjects.make_subject(python, folder / f"{name}.blend", "cube", color=COLORS[name])
    return folder


def _submit(scenes: Path, out: Path, frames: int = 2, **options) -> JobDir:
    request = jobs.SubmitRequest(files=[str(scenes)], out=str(out), settings=_settings(frames),
                                 target="ray", chunk=options.pop("chunk", None),
                                 target_options=options)
    return jobs.submit(request)


def _stand_in(folder: Path, behaviour: dict[int, str]) -> str:
    """A stand-in worker: per plan index, 'sleep' (10 min) or 'exit N'; records PID and GPU."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = "\n".join(f"  {i}) {action} ;;" for i, action in behaviour.items())
    script = folder / "stand-in-worker"
    script.write_text(f"""#!/bin/bash
# Stand-in for a Python with bpy, which would read its task from $ORBITFARM_PLAN_INDEX.
index=$ORBITFARM_PLAN_INDEX  # the target exports it; the worker would read it
echo "$$ $CUDA_VISIBLE_DEVICES" > {folder}/index-$index.pid
echo "stand-in worker for plan index $index"
case $index in
{cases}
  *) exit 0 ;;
esac
""")
    script.chmod(0o755)
    return str(script)


def _poll_until(target, job: JobDir, check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        states = target.poll(job, job.task_ids())
        if check(states):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last states {states}")
        time.sleep(0.3)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_renders_on_ray_with_gpu_ids(ray_head, bpy_python, tmp_path):
    """Two subjects, one Ray task each with num_gpus=1: real pixels, one fake GPU per task."""
    scenes = _cubes(bpy_python, tmp_path / "scenes", list(COLORS))
    job = _submit(scenes, tmp_path / "out", address=ray_head.address, python=bpy_python)
    result = jobs.wait(job, interval=0.5, timeout=300)
    assert result.finished and result.ok, jobs.logs(job, tail=40)
    for name, color in COLORS.items():
        channel = max(range(3), key=lambda c: color[c])
        for frame in (1, 2):
            centre = read_png(tmp_path / "out" / name / "rgb" / f"{frame:04d}.png").pixel(24, 18)
            assert centre[channel] > 200 and sum(centre) - centre[channel] < 20, (name, centre)
    record = job.target_record()
    assert record["kind"] == "ray" and len(record["submissions"]) == 1
    logs = [job.log_file(t).read_text() for t in job.task_ids()]
    assert all("as Ray task" in text for text in logs)
    gpu_ids = {text.split("CUDA_VISIBLE_DEVICES=")[1].split("\n")[0] for text in logs}
    assert gpu_ids <= {"'0'", "'1'"}, gpu_ids


def test_gpu_fitting_exit_codes_cancel_and_retry(ray_head, bpy_python, tmp_path):
    """3 one-GPU tasks on 2 GPUs: two run, one waits for a GPU; exit codes, cancel, retry."""
    fake = tmp_path / "fake"
    scenes = _cubes(bpy_python, tmp_path / "scenes", ["red"])
    worker = _stand_in(fake, {0: "sleep 600", 1: "sleep 600", 2: "exit 3", 3: "sleep 600"})
    job = _submit(scenes, tmp_path / "out", frames=4, chunk=1, address=ray_head.address,
                  python=worker, mem="100M", escalate_mem=2)
    # A fresh target from the profile: nothing is kept in memory between calls, as after the
    # submitter disconnects.
    target = make_target(job.spec.target)
    states = _poll_until(target, job, lambda s: sum(x.state == Phase.RUNNING for x in s.values()) == 2
                         and sum(x.state == Phase.PENDING for x in s.values()) >= 1)
    waiting = [t for t, s in states.items() if s.state == Phase.PENDING]
    assert all("GPU 1" in states[t].reason for t in waiting), states
    # Task t00002 exits 3 as soon as it gets a GPU; the sleepers hold theirs until cancelled.
    first = [t for t, s in states.items() if s.state == Phase.RUNNING]
    deadline = time.monotonic() + 30  # running in Ray's eyes; the worker starts a moment later
    while not all((fake / f"index-{job.index_of(t)}.pid").exists() for t in first):
        assert time.monotonic() < deadline, "the running tasks' workers never started"
        time.sleep(0.2)
    pids = {t: int((fake / f"index-{job.index_of(t)}.pid").read_text().split()[0]) for t in first}
    gpus = {(fake / f"index-{job.index_of(t)}.pid").read_text().split()[1] for t in first}
    assert gpus == {"0", "1"}, gpus
    victim = first[0]
    target.cancel(job, [victim])
    states = _poll_until(target, job, lambda s: s[victim].state == Phase.ENDED)
    assert "cancel" in states[victim].reason, states[victim]
    deadline = time.monotonic() + 15
    while _alive(pids[victim]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pids[victim]), "the cancelled task's worker process survived"
    states = _poll_until(target, job, lambda s: s["t00002"].state == Phase.ENDED)
    assert states["t00002"].exit_code == 3 and "exit code 3" in states["t00002"].reason, \
        [p.read_text()[-3000:] for p in target.extra_logs(job, "t00002")]
    # Cancel the whole job: the Ray job is stopped, every worker process dies.
    target.cancel(job)
    states = _poll_until(target, job, lambda s: all(x.state == Phase.ENDED for x in s.values()),
                         timeout=60)
    for pid_file in fake.glob("index-*.pid"):
        pid = int(pid_file.read_text().split()[0])
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pid), f"worker {pid_file.name} survived the cancel"
    # Retry one task: a second Ray job, attempt 2, memory escalated 2x.
    target.submit(job, {"t00002": 2})
    subs = job.target_record()["submissions"]
    assert [s["attempt"] for s in subs] == [1, 2] and subs[1]["tasks"] == ["t00002"]
    assert subs[1]["resources"]["memory"] == 2 * subs[0]["resources"]["memory"]
    states = _poll_until(target, job, lambda s: s["t00002"].state == Phase.ENDED)
    assert states["t00002"].exit_code == 3
    assert states["t00002"].native_id != ""
    spec = json.loads((job.path / "ray" / "submission-2.json").read_text())
    assert [t["task"] for t in spec["tasks"]] == ["t00002"]


def test_local_head_started_on_demand(ray_head, tmp_path, monkeypatch):
    """`address: local`: the target starts a head here, the next target reuses it; stop by PID."""
    from orbitfarm.submitter.targets.ray.local_head import local_dir, stop_local_head

    monkeypatch.setenv("ORBITFARM_CACHE", str(tmp_path / "cache"))  # not the user's head
    ray = str(Path(ray_head.venv) / "bin" / "ray")
    profile = {"kind": "ray", "name": "ray", "address": "local", "ray": ray, "local_cpus": 1,
               "local_gpus": 0, "gpus": 0}
    try:
        first = make_target(profile)
        version = first.api.version()
        assert version == "2.60.0"
        pid = int((local_dir() / "head.pid").read_text())
        second = make_target(profile)
        assert second.api.address == first.api.address  # the same head, not a second one
        assert int((local_dir() / "head.pid").read_text()) == pid
    finally:
        assert stop_local_head()
    assert not _alive(pid)
