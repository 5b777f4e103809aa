"""The HTCondor target against a real pool (tests/htcondor/cluster.sh, started by conftest.py).

Jobs run Debian's blender inside the pool's root on a shared /tmp; tiny renders (48x36, 2
samples) whose pixels and depth prove the right subjects were rendered by the execute node.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
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

pytestmark = pytest.mark.htcondor

SIZE = 2.0


@pytest.fixture(autouse=True)
def _own_jobs_index(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "orbitfarm-home"))


def _submit(pool, scenes: Path, out: Path, frames: int = 4, **options) -> JobDir:
    return submit_tiny("htcondor", scenes, out, frames, **{
        "blender": pool.blender, "request_gpus": 0, "request_memory": "512MB", **options})


def _wait(job: JobDir, timeout: float = 300, **kwargs) -> jobs.JobStatus:
    result = jobs.wait(job, interval=1, timeout=timeout, **kwargs)
    assert result.finished, f"job not finished after {timeout} s: {result.tasks}\n" + \
        jobs.logs(job, tail=30)
    return result


def _check_cube(out: Path, color: tuple[float, float, float], frames: list[int]) -> None:
    channel = max(range(3), key=lambda c: color[c])
    poses = json.loads((out / "transforms.json").read_text())
    for frame in frames:
        centre = read_png(out / "rgb" / f"{frame:04d}.png").pixel(24, 18)
        assert centre[channel] > 200 and sum(centre) - centre[channel] < 20, (frame, centre)
        depth = read_exr(out / "depth" / f"{frame:04d}.exr")
        name = depth.channel_names[0]
        if (360 * frame / len(poses["frames"])) % 90 == 0:
            assert depth.value(name, 24, 18) == pytest.approx(poses["radius"] - SIZE / 2,
                                                              abs=0.02)
        assert depth.value(name, 0, 0) > 1e6


def test_cluster_of_procs_renders_on_the_pool(condor_pool, bpy_python, shared_dir):
    """One submit (queue Index from ...) for two subjects, rendered by the pool's blender."""
    scenes = cubes(bpy_python, shared_dir / "scenes dir", ["red", "blue"])
    job = _submit(condor_pool, scenes, shared_dir / "out")
    clusters = job.target_record()["clusters"]
    assert [c["indices"] for c in clusters] == ["0-1"]
    text = (job.path / clusters[0]["file"]).read_text()
    assert "queue Index from (\n0\n1\n)" in text and '+OrbitfarmJob = "' in text
    result = _wait(job)
    assert result.ok, jobs.logs(job)
    for name in ("red", "blue"):
        _check_cube(shared_dir / "out" / name, COLORS[name], [1, 2, 3, 4])
    assert "as HTCondor job" in job.log_file("t00000").read_text()
    # Finished procs are answered from the schedd's history, with their exit codes.
    deadline = time.monotonic() + 60
    while True:
        seen = make_target(job.spec.target).poll(job, job.task_ids())
        if all(s.state == Phase.ENDED for s in seen.values()):
            break
        # Each proc leaves the queue for the history on its own: one may be there already.
        assert all(s.state in (Phase.RUNNING, Phase.ENDED) for s in seen.values()), seen
        assert time.monotonic() < deadline, seen
        time.sleep(1)
    assert all(s.exit_code == 0 for s in seen.values()), seen
    # `logs` includes HTCondor's own files (the per-proc output and the event log).
    assert "Job terminated" in jobs.logs(job, "t00001")


def test_held_and_removed_tasks_are_reported_and_retried(condor_pool, bpy_python, shared_dir):
    """t1 exits 3 and on_exit_hold holds it; t2 is removed while running; retry finishes both."""
    scenes = cubes(bpy_python, shared_dir / "scenes", ["green"])
    first_try = ('[ -e "$JOB_DIR/tried.$INDEX" ] || { touch "$JOB_DIR/tried.$INDEX"; '
                 '[ "$INDEX" = 1 ] && exit 3; [ "$INDEX" = 2 ] && sleep 600; }; true')
    job = _submit(condor_pool, scenes, shared_dir / "out", frames=3, chunk=1, setup=[first_try],
                  extra_submit={"on_exit_hold": "ExitCode =!= 0",
                                "on_exit_hold_reason": '"the worker failed (test)"'})
    target = make_target(job.spec.target)
    deadline = time.monotonic() + 180
    while (seen := target.poll(job, ["t00002"])["t00002"]).state != Phase.RUNNING \
            or not (job.path / "tried.2").exists():
        assert time.monotonic() < deadline, seen
        time.sleep(1)
    target.cancel(job, ["t00002"])
    deadline = time.monotonic() + 180
    while True:
        seen = target.poll(job, job.task_ids())
        if all(s.state == Phase.ENDED for s in seen.values()):
            break
        assert time.monotonic() < deadline, seen
        time.sleep(1)
    assert seen["t00001"].reason == "held: the worker failed (test)", seen["t00001"]
    assert seen["t00002"].reason.startswith("removed: "), seen["t00002"]
    assert (seen["t00001"].end, seen["t00002"].end) == (EndReason.KILLED, EndReason.CANCELLED)
    assert seen["t00000"].exit_code == 0
    status = jobs.status(job)
    assert sorted(status.retryable) == ["t00001", "t00002"], status.tasks

    result = _wait(job, retries=1)
    assert result.ok, jobs.logs(job)
    clusters = job.target_record()["clusters"]
    # The held task runs its attempt 2; the removed (cancelled) one did not use up one.
    assert sorted((c["indices"], c["attempt"]) for c in clusters[1:]) == [("1", 2), ("2", 1)]
    # The held proc was removed when its task was submitted again: nothing is left queued.
    import htcondor2

    assert not htcondor2.Schedd().query(constraint=f"ClusterId == {clusters[0]['cluster']}",
                                        projection=["ProcId"])
    _check_cube(shared_dir / "out" / "green", COLORS["green"], [1, 2, 3])


def test_cancel_removes_every_proc(condor_pool, bpy_python, shared_dir):
    """`orbitfarm cancel`: Schedd.act(Remove) on the job's clusters; every task cancelled."""
    import htcondor2

    scenes = cubes(bpy_python, shared_dir / "scenes", ["blue"])
    job = _submit(condor_pool, scenes, shared_dir / "out", frames=3, chunk=1,
                  setup=["sleep 600"])
    cluster = job.target_record()["clusters"][0]["cluster"]
    assert sorted(jobs.cancel(job)) == job.task_ids()
    deadline = time.monotonic() + 60
    while htcondor2.Schedd().query(constraint=f"ClusterId == {cluster}",
                                   projection=["ProcId"]):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    status = jobs.status(job)
    assert status.finished and status.tasks == {"cancelled": 3}, status.tasks
    seen = make_target(job.spec.target).poll(job, job.task_ids())
    assert all(s.reason.startswith("removed") for s in seen.values()), seen


def test_file_transfer_without_shared_storage(condor_pool, bpy_python, tmp_path_factory):
    """filesystem: transfer: the job directory lives where the pool cannot see it (a folder
    outside the /tmp it shares); inputs are spooled to the schedd, each proc renders in its
    scratch folder, and status retrieves and unpacks the outputs where shared storage would
    have put them. One task fails on purpose: its log comes back too, and a retry finishes it."""
    root = Path(tempfile.mkdtemp(prefix="orbitfarm-condor-unshared-", dir="/var/tmp"))
    try:
        root_in_pool = Path(os.environ.get("ORBITFARM_CACHE", Path.home() / ".cache/orbitfarm"),
                            "trixie-condor", "root", str(root).lstrip("/"))
        assert not root_in_pool.exists()  # the pool's file system has no such folder
        scenes = cubes(bpy_python, root / "scenes", ["red", "green"])
        fail_once = ('[ -e "$JOB_DIR/tasks/tried" ] || [ "$INDEX" != 1 ] || '
                     '{ echo "failing on purpose"; exit 5; }')
        job = _submit(condor_pool, scenes, root / "out", frames=2, filesystem="transfer",
                      setup=[fail_once])
        clusters = job.target_record()["clusters"]
        assert clusters[0].get("transfer") is True
        text = (job.path / clusters[0]["file"]).read_text()
        assert "transfer_input_files = inbox.tar.gz" in text and "log =" not in text
        result = _wait(job)
        assert not result.ok and result.tasks == {"done": 1, "failed": 1}, result.tasks
        target = make_target(job.spec.target)
        failed = target.poll(job, ["t00001"])["t00001"]
        assert (failed.exit_code, failed.end) == (5, EndReason.EXITED), failed
        assert "failing on purpose" in (job.logs_dir / "t00001.log").read_text()
        _check_cube(root / "out" / "green", COLORS["green"], [1, 2])  # t00000 (sorted names)
        assert not (root / "out" / "red" / "rgb").exists()
        # Retry: a new inbox (the marker now says "tried"), only t00001 goes again.
        (job.path / "tasks" / "tried").touch()
        result = _wait(job, retries=1)
        assert result.ok, jobs.logs(job, tail=30)
        assert [c["indices"] for c in job.target_record()["clusters"]] == ["0-1", "1"]
        _check_cube(root / "out" / "red", COLORS["red"], [1, 2])
        log = (job.logs_dir / "t00001.log").read_text()
        assert log.count("as HTCondor job") == 2  # both attempts' logs, appended
    finally:
        shutil.rmtree(root, ignore_errors=True)
