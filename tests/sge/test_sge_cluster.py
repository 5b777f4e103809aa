"""The Grid Engine target against a real cluster (tests/sge/cluster.sh, started by conftest.py).

Tiny renders (48x36, 2 samples): what is checked is the scheduler plumbing, with rendered pixels
and depth values proving that the nodes really ran the worker on the right subjects.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest
from orbitfarm.submitter import jobs
from orbitfarm.submitter.files.imageio import read_exr, read_png
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.model.states import EndReason, Phase
from orbitfarm.submitter.targets import make_target

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clusters import COLORS, cubes, submit_tiny  # noqa: E402  (tests/clusters.py)

pytestmark = pytest.mark.sge

HOSTILE = "we ird $(touch PWNED) `touch PWNED2` 'q' \"dq\" ü"
SIZE = 2.0


@pytest.fixture(autouse=True)
def _own_jobs_index(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "orbitfarm-home"))


def _submit(python: str, scenes: Path, out: Path, frames: int = 4, **options) -> JobDir:
    return submit_tiny("sge", scenes, out, frames, **{"python": python, "h_rt": "0:10:00",
                                                      **options})


def _wait(job: JobDir, timeout: float = 240, **kwargs) -> jobs.JobStatus:
    result = jobs.wait(job, interval=0.5, timeout=timeout, **kwargs)
    assert result.finished, f"job not finished after {timeout} s: {result.tasks}\n" + \
        jobs.logs(job, tail=30)
    return result


def _check_cube(out: Path, color: tuple[float, float, float], frames: list[int]) -> None:
    """The cube's colour fills the centre pixel and its depth is radius - half the edge."""
    channel = max(range(3), key=lambda c: color[c])
    poses = json.loads((out / "transforms.json").read_text())
    for frame in frames:
        image = read_png(out / "rgb" / f"{frame:04d}.png")
        centre = image.pixel(24, 18)
        assert centre[channel] > 200 and sum(centre) - centre[channel] < 20, (frame, centre)
        depth = read_exr(out / "depth" / f"{frame:04d}.exr")
        name = depth.channel_names[0]
        if (360 * frame / len(poses["frames"])) % 90 == 0:
            assert depth.value(name, 24, 18) == pytest.approx(poses["radius"] - SIZE / 2,
                                                              abs=0.02)
        assert depth.value(name, 0, 0) > 1e6


def test_array_renders_with_hostile_paths_and_distinct_gpus(sge_cluster, bpy_python, tmp_path):
    """One array job for three subjects; each task holds its own device of the node."""
    root = tmp_path / HOSTILE
    scenes = cubes(bpy_python, root / "scenes", ["red", "green", "blue"])
    # Four fake devices per node (the consumable says 4; no real GPU renders here).
    job = _submit(bpy_python, scenes, root / "out", gpus=1, gpu_devices=4,
                  gpu_lock_dir=str(tmp_path), setup=["sleep 2"])
    record = job.target_record()
    assert [a["indices"] for a in record["arrays"]] == ["0-2"]  # one qsub, one array job
    script = (job.path / record["arrays"][0]["script"]).read_text()
    assert "#$ -t 1-3" in script and "#$ -l gpu=1" in script
    result = _wait(job)
    assert result.ok, jobs.logs(job)
    for name, color in COLORS.items():
        _check_cube(root / "out" / name, color, [1, 2, 3, 4])
    assert not list(tmp_path.rglob("PWNED*")), "a path was run by a shell"
    logs = {t: job.log_file(t).read_text() for t in job.task_ids()}
    assert all(f"as Grid Engine job {record['arrays'][0]['job']}." in text
               for text in logs.values())
    devices = [re.search(r"GPU device\(s\) (\d+) of 4", text) for text in logs.values()]
    assert all(devices), logs
    # Finished tasks are answered by qacct (one call) with their exit codes, once it has
    # flushed; until then (and while the shell exits) they read as running.
    target = make_target(job.spec.target)
    deadline = time.monotonic() + 60
    while True:
        seen = target.poll(job, job.task_ids())
        waiting = [s for s in seen.values() if s.state != Phase.ENDED]
        if not waiting:
            break
        assert all(s.state == Phase.RUNNING for s in waiting), seen  # never unknown or lost
        assert time.monotonic() < deadline, seen
        time.sleep(1)
    assert all(s.state == Phase.ENDED and s.exit_code == 0 for s in seen.values()), seen


def test_split_error_state_cancel_and_retry(sge_cluster, bpy_python, tmp_path):
    """4 tasks with max_aj_tasks=3: two arrays. t1 hits Eqw (exit 100 in setup), t2 is
    deleted while running; status says why, nothing stays stuck, retry finishes just those."""
    scenes = cubes(bpy_python, tmp_path / "scenes", ["red"])
    first_try = ('[ -e "$JOB_DIR/tried.$INDEX" ] || { touch "$JOB_DIR/tried.$INDEX"; '
                 '[ "$INDEX" = 1 ] && exit 100; [ "$INDEX" = 2 ] && sleep 600; }; true')
    job = _submit(bpy_python, scenes, tmp_path / "out", frames=4, chunk=1, gpus=0,
                  setup=[first_try], escalate_time=2)
    arrays = job.target_record()["arrays"]
    assert sge_cluster.max_aj_tasks == 3
    assert [a["indices"] for a in arrays] == ["0-2", "3"]
    target = make_target(job.spec.target)

    deadline = time.monotonic() + 120
    while (seen := target.poll(job, ["t00002"])["t00002"]).state != Phase.RUNNING \
            or not (job.path / "tried.2").exists():
        assert time.monotonic() < deadline, seen
        time.sleep(0.5)
    target.cancel(job, ["t00002"])

    deadline = time.monotonic() + 120
    while True:
        seen = target.poll(job, job.task_ids())
        if all(s.state == Phase.ENDED for s in seen.values()):
            break
        assert time.monotonic() < deadline, seen
        time.sleep(1)
    assert "error state" in seen["t00001"].reason and "100" in seen["t00001"].reason
    assert "killed" in seen["t00002"].reason, seen["t00002"]
    assert seen["t00002"].end == EndReason.CANCELLED  # deleted by orbitfarm, not by a limit
    assert seen["t00001"].end == EndReason.EXITED
    assert seen["t00000"].exit_code == 0 and seen["t00003"].exit_code == 0
    # The Eqw task was deleted, not left in the queue.
    assert f"{arrays[0]['job']}" not in sge_cluster.run("qstat", "-u", "*")

    status = jobs.status(job)
    assert sorted(status.retryable) == ["t00001", "t00002"], status.tasks
    result = _wait(job, timeout=300, retries=1)
    assert result.ok, jobs.logs(job)
    # The failed task runs its attempt 2 (escalated); the cancelled one did not use up one.
    retries = job.target_record()["arrays"][2:]
    assert sorted((a["indices"], a["attempt"]) for a in retries) == [("1", 2), ("2", 1)]
    again = next(a for a in retries if a["attempt"] == 2)
    retry_script = (job.path / again["script"]).read_text()
    assert "#$ -t 1-1" in retry_script and "INDEX=$((SGE_TASK_ID - 1 + 1))" in retry_script
    assert "#$ -l h_rt=0:20:00" in retry_script  # escalate_time: 2 x 10 minutes
    _check_cube(tmp_path / "out" / "red", COLORS["red"], [1, 2, 3, 4])


def test_path_map_nodes_see_another_mount_point(sge_cluster, bpy_python, tmp_path):
    """The submit host mounts the files at one path, the exec hosts at another (path_map)."""
    local = tmp_path / "workstation mount"
    remote = tmp_path / "cluster mount"
    local.mkdir()
    remote.symlink_to(local, target_is_directory=True)  # the same files, another mount point
    scenes = cubes(bpy_python, local / "scenes", ["blue"])
    job = _submit(bpy_python, scenes, local / "out", frames=2, gpus=0,
                  path_map=[{"local": str(local), "remote": str(remote)}])
    script = (job.path / job.target_record()["arrays"][0]["script"]).read_text()
    assert "workstation mount" not in script and "plan.cluster.json" in script
    result = _wait(job)
    assert result.ok, jobs.logs(job)
    _check_cube(local / "out" / "blue", COLORS["blue"], [1, 2])
    blend = json.loads((local / "out" / "blue" / "result.json").read_text())["blend"]
    assert blend.startswith(str(remote) + "/")


def test_cancel_stops_every_task(sge_cluster, bpy_python, tmp_path):
    """`orbitfarm cancel`: running and pending tasks read as cancelled; Grid Engine keeps none."""
    scenes = cubes(bpy_python, tmp_path / "scenes", ["green"])
    job = _submit(bpy_python, scenes, tmp_path / "out", frames=6, chunk=1, gpus=0,
                  setup=["sleep 600"], array_throttle=2)
    target = make_target(job.spec.target)
    deadline = time.monotonic() + 60
    while Phase.RUNNING not in {s.state for s in target.poll(job, job.task_ids()).values()}:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert sorted(jobs.cancel(job)) == job.task_ids()
    deadline = time.monotonic() + 60
    while sge_cluster.run("qstat", "-u", "*").strip():
        assert time.monotonic() < deadline, sge_cluster.run("qstat", "-u", "*")
        time.sleep(0.5)
    status = jobs.status(job)
    assert status.finished and status.tasks == {"cancelled": 6}, status.tasks


def test_h_rt_kill_reads_as_a_timeout(sge_cluster, bpy_python, tmp_path):
    """A task killed at its h_rt is a timeout (with its limit named), not just "killed"."""
    scenes = cubes(bpy_python, tmp_path / "scenes", ["red"])
    job = _submit(bpy_python, scenes, tmp_path / "out", frames=2, gpus=0, setup=["sleep 120"],
                  h_rt="0:0:3")
    target = make_target(job.spec.target)
    deadline = time.monotonic() + 90
    while True:
        state = target.poll(job, job.task_ids())[job.task_ids()[0]]
        if state.state == Phase.ENDED:
            break
        assert time.monotonic() < deadline, state
        time.sleep(1)
    assert state.end == EndReason.TIMEOUT, state
    assert "h_rt limit reached (3 s" in state.reason, state


def test_retry_of_scattered_tasks_runs_a_list(sge_cluster, bpy_python, tmp_path):
    """t0 and t2 fail once: their retry is one array job of two tasks that looks up its index
    in a list (Grid Engine arrays are ranges only), and the worker renders the right ones."""
    scenes = cubes(bpy_python, tmp_path / "scenes", ["red", "green", "blue"])
    fail_once = ('[ "$INDEX" = 1 ] || [ -e "$JOB_DIR/tried.$INDEX" ] || '
                 '{ touch "$JOB_DIR/tried.$INDEX"; exit 3; }')
    job = _submit(bpy_python, scenes, tmp_path / "out", frames=2, gpus=0, setup=[fail_once])
    result = _wait(job, retries=1)
    assert result.ok, jobs.logs(job)
    retry = job.target_record()["arrays"][-1]
    assert (retry["indices"], retry["attempt"]) == ("0,2", 2)
    script = (job.path / retry["script"]).read_text()
    assert "#$ -t 1-2" in script and "INDICES=(0 2)" in script
    for name in ("red", "green", "blue"):
        _check_cube(tmp_path / "out" / name, COLORS[name], [1, 2])


def test_submit_through_ssh_with_path_map(sge_cluster, sge_login, bpy_python, tmp_path,
                                          monkeypatch):
    """A workstation without Grid Engine submits through ssh to a submit host that mounts the
    files elsewhere: every qsub/qstat/qacct goes through ssh, scripts carry the host's paths."""
    local = tmp_path / HOSTILE / "workstation mount"
    remote = tmp_path / "cluster mount"
    local.mkdir(parents=True)
    remote.symlink_to(local, target_is_directory=True)  # the same files, another mount point
    scenes = cubes(bpy_python, local / "scenes", ["blue"])
    for name in ("SGE_ROOT", "SGE_CELL", "SGE_QMASTER_PORT", "SGE_EXECD_PORT"):
        monkeypatch.delenv(name)  # no Grid Engine here: every command must go through ssh
    job = _submit(bpy_python, scenes, local / "out", gpus=0, ssh="orbitfarm-sge-login",
                  ssh_options=["-F", str(sge_login)],
                  path_map=[{"local": str(local), "remote": str(remote)}])
    script = (job.path / job.target_record()["arrays"][0]["script"]).read_text()
    assert "workstation mount" not in script and f"{remote}/out/.orbitfarm/jobs/" in script
    result = _wait(job)
    assert result.ok, jobs.logs(job)
    _check_cube(local / "out" / "blue", COLORS["blue"], [1, 2, 3, 4])
    blend = json.loads((local / "out" / "blue" / "result.json").read_text())["blend"]
    assert blend.startswith(str(remote) + "/")  # the node opened it through its own mount
    assert not list(tmp_path.rglob("PWNED*"))
