"""Concurrent chunks of one subject, task state files, bad task files, other engines."""

from __future__ import annotations

import json
import threading

import pytest
from orbitfarm.submitter.files.taskstate import read_state
from orbitfarm.submitter.launch.local import run_worker
from orbitfarm.submitter.launch.runtime import Runtime
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.task import Subject, WorkerTask
from worker_helpers import TINY, depth, result, transforms

pytestmark = pytest.mark.render


def test_concurrent_chunks_merge_results(tmp_path, bpy_python, subjects):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    subject = Subject(blend=info["path"], out=str(tmp_path / "out" / "cube"))
    settings = RenderSettings(frames=6, width=48, height=36, samples=1)
    runtime = Runtime("python", bpy_python)
    codes: dict[int, int] = {}
    snapshots: list[str] = []

    def chunk(i, frames):
        task = WorkerTask(settings=settings, subjects=[subject], frames=frames,
                          state_file=str(tmp_path / f"task{i}.json"), task_id=f"t{i}")
        codes[i] = run_worker(runtime, task, echo=False)

    threads = [threading.Thread(target=chunk, args=(i, f))
               for i, f in enumerate([[1, 2, 3], [4, 5, 6]])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == {0: 0, 1: 0}
    res = result(subject.out)
    assert sorted(res["frames"]) == [f"{k:04d}" for k in range(1, 7)]
    assert res["frames_done"] == res["frames_total"] == 6 and res["status"] == "rendered"
    snapshots.append(json.dumps(transforms(subject.out), sort_keys=True))
    for i in (0, 1):
        state = read_state(tmp_path / f"task{i}.json")
        assert state["state"] == "done" and state["exit_code"] == 0
        assert state["subjects"]["cube"]["frames_done"] == 3
    # Whichever chunk writes transforms.json, it is the same file.
    chunk(2, [2])
    snapshots.append(json.dumps(transforms(subject.out), sort_keys=True))
    assert snapshots[0] == snapshots[1]


def test_one_chunk_alone_does_not_claim_the_subject_rendered(tmp_path, bpy_python, subjects):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    subject = Subject(blend=info["path"], out=str(tmp_path / "out" / "cube"))
    settings = RenderSettings(frames=4, width=48, height=36, samples=1)
    runtime = Runtime("python", bpy_python)
    first = WorkerTask(settings=settings, subjects=[subject], frames=[1, 2])
    assert run_worker(runtime, first, echo=False) == 0
    res = result(subject.out)
    assert (res["status"], res["frames_done"], res["frames_total"]) == ("rendering", 2, 4)
    rest = WorkerTask(settings=settings, subjects=[subject], frames=[3, 4])
    assert run_worker(runtime, rest, echo=False) == 0
    assert result(subject.out)["status"] == "rendered"


def test_unusable_task_file_exits_2(tmp_path, bpy_python):
    bad = tmp_path / "task.json"
    bad.write_text("{not json")
    assert run_worker(Runtime("python", bpy_python), bad, echo=False) == 2


def test_workbench_depth_is_planar_too(tmp_path, bpy_python, subjects, render):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    code, log = render([info["path"]], tmp_path / "out", "--frames", "4", "--frame-range", "4",
                       "--engine", "workbench", *TINY)
    assert code == 0, log
    d = depth(tmp_path / "out" / "cube", 4)
    r = transforms(tmp_path / "out" / "cube")["radius"]
    assert d[18, 24] == pytest.approx(r - 1.0, abs=1e-3)  # the cube's front face at y = -1
    assert d[0, 0] == 1e10


def test_subject_timeout_inside_the_worker(tmp_path, bpy_python, subjects):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    subject = Subject(blend=info["path"], out=str(tmp_path / "out" / "cube"))
    task = WorkerTask(settings=RenderSettings(frames=1000, width=48, height=36, samples=1),
                      subjects=[subject], subject_timeout=1.0,
                      state_file=str(tmp_path / "state.json"))
    assert run_worker(Runtime("python", bpy_python), task, echo=False) == 1
    res = result(subject.out)
    assert res["status"] == "failed" and "timed out after 1 s" in res["reason"]
    state = read_state(tmp_path / "state.json")
    assert state["state"] == "failed" and state["exit_code"] == 1
