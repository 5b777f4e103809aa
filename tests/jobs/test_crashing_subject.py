"""A subject that crashes Blender itself (SIGABRT in C++, no Python exception) in a grouped task:
the task's next attempt fails that subject with a reason and renders the others (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests: subjects.py, render_checks
import subjects  # noqa: E402
from orbitfarm.submitter import jobs  # noqa: E402
from orbitfarm.submitter.files.atomic import read_json  # noqa: E402
from orbitfarm.submitter.jobs.preflight import PreflightReport  # noqa: E402
from orbitfarm.submitter.model.settings import RenderSettings  # noqa: E402
from render_checks import check_cube  # noqa: E402

pytestmark = [pytest.mark.render, pytest.mark.compat]

# A cube whose Mesh Sequence Cache modifier reads an Alembic file that is truncated after the
# .blend is saved: opening the .blend then aborts inside Alembic ("Ogawa IStreams::read failed").
CRASHING_BLEND = r"""
import os, sys, bpy
path = sys.argv[-1]
abc = os.path.join(os.path.dirname(path), "cache.abc")
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.mesh.primitive_cube_add()
cube = bpy.context.object
cube.keyframe_insert("location", frame=1)
cube.location = (0, 0, 1)
cube.keyframe_insert("location", frame=10)
bpy.ops.wm.alembic_export(filepath=abc, start=1, end=10)
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.wm.alembic_import(filepath=abc)
obj = next(o for o in bpy.data.objects if o.type == "MESH")
cache = obj.modifiers.new("cache", "MESH_SEQUENCE_CACHE")
cache.cache_file = bpy.data.cache_files[0]
cache.object_path = "/Cube/Cube"
bpy.ops.wm.save_as_mainfile(filepath=path)
data = open(abc, "rb").read()
open(abc, "wb").write(data[: len(data) // 2])
print("MADE", flush=True)
__import__("shutil").rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's own removal
os._exit(0)
"""

COLORS = {"a_red": (0.8, 0.0, 0.0), "c_blue": (0.0, 0.0, 0.8)}
TINY = dict(width=48, height=36, samples=2, frames=4)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def _make_crashing_blend(python: str, path: Path, resources: Path) -> None:
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(resources)}
    proc = subprocess.run([python, "-c", CRASHING_BLEND, str(path)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert "MADE" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    # The premise: opening it really kills the process with a signal on this Blender.
    probe = subprocess.run(
        [python, "-c", "import sys, bpy; bpy.ops.wm.open_mainfile(filepath=sys.argv[1])",
         str(path)], capture_output=True, text=True, env=env, timeout=300)
    assert probe.returncode < 0, (probe.returncode, probe.stderr[-2000:])


def test_a_subject_that_kills_the_worker_fails_alone(tmp_path, bpy_python):
    src = tmp_path / "src"
    for name, color in COLORS.items():
        subjects.make_subject(bpy_python, src / f"{name}.blend", "cube", color=color)
    # In a folder of its own (its cache.abc is a subject format too), 2nd in path order.
    crashing = src / "b" / "b_crash.blend"
    crashing.parent.mkdir()
    _make_crashing_blend(bpy_python, crashing, tmp_path / "resources")
    out = tmp_path / "out"
    job = jobs.submit(jobs.SubmitRequest(
        files=[str(src / "a_red.blend"), str(crashing), str(src / "c_blue.blend")],
        out=str(out), job_dir=str(tmp_path / "job"), group=3, pack=False,
        # Preflight (blender-asset-tracer) is not in the compat venvs, nor what is tested here.
        preflight=PreflightReport(problems=[], dependencies={}, unreadable=[]),
        settings=RenderSettings(**TINY)))
    assert len(job.task_ids()) == 1
    task_id = job.task_ids()[0]

    first = jobs.wait(job, interval=0.3, timeout=300)
    assert first.finished and first.failed_tasks == 1, first.to_dict()
    assert job.read_state(task_id)["exit_code"] < 0, job.read_state(task_id)  # a signal
    rows = {r.name: r for r in first.subjects}
    assert rows["a_red"].state == "rendered", first.to_dict()
    assert rows["c_blue"].state != "rendered", first.to_dict()  # never reached

    assert jobs.retry(job) == [task_id]
    second = jobs.wait(job, interval=0.3, timeout=300)
    assert second.finished, second.to_dict()
    rows = {r.name: r for r in second.subjects}
    assert {n: r.state for n, r in rows.items()} == {
        "a_red": "rendered", "b_crash": "failed", "c_blue": "rendered"}, second.to_dict()
    reason = rows["b_crash"].reason
    assert reason.startswith("the worker process died while rendering this subject "
                             "(attempt 1: signal "), reason
    assert "\n" not in reason
    assert job.read_state(task_id)["attempt"] == 2
    for name, color in COLORS.items():
        check_cube(out / name, color, [1, 2, 3, 4])
        assert read_json(out / name / "result.json")["status"] == "rendered"
    crashed = read_json(out / "b_crash" / "result.json")
    assert crashed["status"] == "failed" and crashed["reason"] == reason, crashed
    # Nothing half-written: no scratch folder of the dead worker, no frame of the crashed subject.
    leftovers = [p.relative_to(out).as_posix() for p in out.rglob("*")
                 if p.name.startswith(".tmp-") or (p.parent.name in ("rgb", "depth")
                                                   and p.parent.parent.name == "b_crash")]
    assert not leftovers, leftovers

    # It killed one attempt: later attempts fail it at once too, and never load it again.
    assert jobs.retry(job) == [task_id]
    third = jobs.wait(job, interval=0.3, timeout=300)
    rows = {r.name: r for r in third.subjects}
    assert rows["b_crash"].state == "failed" and rows["b_crash"].reason == reason
    assert job.read_state(task_id)["exit_code"] == 1  # a verdict, not a crash
    log = (job.path / "logs" / f"{task_id}.log").read_text()
    assert log.count("subject b_crash: /") == 1, log  # loaded by attempt 1 only
    shown = subprocess.run([bpy_python, "-m", "orbitfarm.submitter.cli", "status", str(job.path)],
                           capture_output=True, text=True, timeout=120)
    line = next(x for x in shown.stdout.splitlines() if x.startswith("b_crash"))
    assert "failed" in line and reason in line, shown.stdout + shown.stderr
