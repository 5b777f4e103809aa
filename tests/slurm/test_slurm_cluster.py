"""The SLURM target against a real cluster (tests/slurm/cluster.sh, started by conftest.py).

Tiny renders (48x36, 2 samples): what is checked is the scheduler plumbing, with rendered pixels
and depth values proving that the nodes really ran the worker on the right subjects.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from orbitfarm.submitter import jobs
from orbitfarm.submitter.files.imageio import read_exr, read_png
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.states import EndReason, Phase
from orbitfarm.submitter.targets import make_target
from orbitfarm.submitter.targets.slurm.rest import RestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import subjects  # noqa: E402  (tests/subjects.py)

pytestmark = pytest.mark.slurm

HOSTILE = "we ird $(touch PWNED) `touch PWNED2` 'q' \"dq\" ü"
COLORS = {"red": (0.8, 0.0, 0.0), "green": (0.0, 0.8, 0.0), "blue": (0.0, 0.0, 0.8)}
SIZE = 2.0  # cube edge (subjects.py default)


@pytest.fixture(autouse=True)
def _own_jobs_index(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "orbitfarm-home"))


def _settings(frames: int = 4) -> RenderSettings:
    return RenderSettings(frames=frames, width=48, height=36, samples=2, device="cpu")


def _cubes(python: str, folder: Path, names: list[str]) -> Path:
    for name in names:
        subjects.make_subject(python, folder / f"{name}.blend", "cube", color=COLORS[name])
    return folder


def _submit(python: str, scenes: Path, out: Path, frames: int = 4, **options) -> JobDir:
    request = jobs.SubmitRequest(files=[str(scenes)], out=str(out), settings=_settings(frames),
                                 target="slurm", chunk=options.pop("chunk", None),
                                 target_options={"python": python, "time": "0:10:00", **options})
    return jobs.submit(request)


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
        assert (image.width, image.height) == (48, 36)
        centre = image.pixel(24, 18)
        assert centre[channel] > 200 and sum(centre) - centre[channel] < 20, (frame, centre)
        assert max(image.pixel(0, 0)) < 100  # the background is not the cube
        depth = read_exr(out / "depth" / f"{frame:04d}.exr")
        name = depth.channel_names[0]
        centre_depth = depth.value(name, 24, 18)
        if (360 * frame / len(poses["frames"])) % 90 == 0:  # looking straight at a face
            assert centre_depth == pytest.approx(poses["radius"] - SIZE / 2, abs=0.02)
        else:  # the centre ray hits the cube between a face centre and an edge
            assert poses["radius"] - SIZE / 2 * 2**0.5 - 0.02 < centre_depth
            assert centre_depth < poses["radius"] - SIZE / 2 + 0.02
        assert depth.value(name, 0, 0) > 1e6  # no hit
    assert set(frames) <= {f["frame"] for f in poses["frames"]}


def test_array_renders_subjects_with_hostile_paths(slurm_cluster, bpy_python, tmp_path):
    """One array for three subjects; paths with spaces, quotes, $() and ü survive sbatch."""
    root = tmp_path / HOSTILE
    scenes = _cubes(bpy_python, root / "scenes", ["red", "green", "blue"])
    job = _submit(bpy_python, scenes, root / "out")
    record = job.target_record()
    assert [a["indices"] for a in record["arrays"]] == ["0-2"]  # one sbatch, one array
    script = (job.path / record["arrays"][0]["script"]).read_text()
    assert "#SBATCH --array=0-2" in script and "#SBATCH --gpus=1" in script
    result = _wait(job)
    assert result.ok, jobs.logs(job)
    for name, color in COLORS.items():
        _check_cube(root / "out" / name, color, [1, 2, 3, 4])
    assert not list(tmp_path.rglob("PWNED*")), "a path was run by a shell"
    states = job.read_states()
    assert {s["state"] for s in states.values()} == {"done"}
    # Logs landed per task in the job directory, SLURM's own output in slurm/.
    assert "as SLURM job" in job.log_file("t00000").read_text()
    assert len(list((job.path / "slurm").glob("*_*.out"))) == 3


def test_array_larger_than_max_array_size_is_split(slurm_cluster, bpy_python, tmp_path):
    """6 one-frame tasks with MaxArraySize=4: two arrays, every task runs."""
    scenes = _cubes(bpy_python, tmp_path / "scenes", ["red"])
    job = _submit(bpy_python, scenes, tmp_path / "out", frames=6, chunk=1)
    arrays = job.target_record()["arrays"]
    assert slurm_cluster.max_array_size == 4
    assert [(a["offset"], a["indices"]) for a in arrays] == [(0, "0-3"), (4, "0-1")]
    assert len({a["job"] for a in arrays}) == 2
    result = _wait(job)
    assert result.ok and result.tasks == {"done": 6}, jobs.logs(job)
    _check_cube(tmp_path / "out" / "red", COLORS["red"], list(range(1, 7)))


def test_killed_and_timed_out_tasks_are_reported_and_retried(slurm_cluster, bpy_python,
                                                             tmp_path):
    """scancel mid-render -> CANCELLED, a 1-minute limit -> TIMEOUT; retry finishes only them."""
    frames = 400  # tiny frames render in ~15 ms: enough of them to cancel one part-way
    scenes = _cubes(bpy_python, tmp_path / "scenes", ["blue", "green", "red"])  # t0, t1, t2
    # Task t00002 (red) sleeps past its 1-minute limit on its first attempt only.
    sleeper = ('if [ "$INDEX" = 2 ] && [ ! -e "$JOB_DIR/slept" ]; then '
               'touch "$JOB_DIR/slept"; sleep 600; fi')
    job = _submit(bpy_python, scenes, tmp_path / "out", frames=frames, time="1",
                  setup=[sleeper], escalate_time=3)
    target = make_target(job.spec.target)
    green_rgb = tmp_path / "out" / "green" / "rgb"
    green_result = tmp_path / "out" / "green" / "result.json"

    def recorded() -> dict:
        """Frames t00001's worker has recorded as done (result.json, written as it goes)."""
        try:
            return json.loads(green_result.read_text()).get("frames", {})
        except (FileNotFoundError, ValueError):
            return {}

    deadline = time.monotonic() + 120
    while len(recorded()) < 3:  # t00001 is part-way through its orbit
        assert time.monotonic() < deadline, jobs.logs(job, "t00001")
        assert job.read_state("t00001").get("state") != "done", "render too fast to cancel"
        time.sleep(0.05)
    slurm_cluster.run("scancel", f"{job.target_record()['arrays'][0]['job']}_1")

    # One batch poll for all tasks: the scheduler's view with SLURM's reasons.
    deadline = time.monotonic() + 150
    while True:
        seen = target.poll(job, job.task_ids())
        if all(s.state == Phase.ENDED for s in seen.values()):
            break
        assert all(s.state in (Phase.PENDING, Phase.RUNNING, Phase.ENDED) for s in seen.values()), seen
        assert time.monotonic() < deadline, seen
        time.sleep(1)
    assert seen["t00000"].reason.startswith("COMPLETED") and seen["t00000"].exit_code == 0
    assert seen["t00001"].reason.startswith("CANCELLED"), seen["t00001"]
    assert seen["t00002"].reason.startswith("TIMEOUT"), seen["t00002"]
    assert (seen["t00001"].end, seen["t00002"].end) == (EndReason.CANCELLED, EndReason.TIMEOUT)
    assert {s.native_id for s in seen.values()} == {f"{seen['t00000'].native_id[:-2]}_{i}"
                                                     for i in range(3)}
    # `orbitfarm logs` adds SLURM's own word on why it ended the task.
    assert "DUE TO TIME LIMIT" in jobs.logs(job, "t00002")

    # Frames the killed worker had recorded as done must survive the retry.
    early = {f"{name}.png": (green_rgb / f"{name}.png").stat().st_mtime_ns for name in recorded()}
    assert 3 <= len(early) < frames

    status = jobs.status(job)
    states = job.read_states()
    assert states["t00000"]["state"] == "done"
    # An scancel is a cancellation (typed end reason), with SLURM's own words as the reason.
    assert states["t00001"]["state"] == "cancelled" and "CANCELLED" in states["t00001"]["reason"]
    assert states["t00002"]["state"] == "failed" and "TIMEOUT" in states["t00002"]["reason"]
    assert sorted(status.retryable) == ["t00001", "t00002"]
    blue_before = {p.name: p.stat().st_mtime_ns
                   for p in (tmp_path / "out" / "blue" / "rgb").glob("*.png")}
    assert len(blue_before) == frames

    result = _wait(job, timeout=300, retries=1)  # `orbitfarm wait --retry 1`
    assert result.ok, jobs.logs(job)
    arrays = job.target_record()["arrays"]
    assert len(arrays) == 2
    assert (arrays[1]["offset"], arrays[1]["indices"], arrays[1]["attempt"]) == (1, "0-1", 2)
    assert arrays[1]["time"] == "00:03:00"  # escalate_time: 3 x 1 minute
    retry_script = (job.path / arrays[1]["script"]).read_text()
    assert "#SBATCH --time=00:03:00" in retry_script and "#SBATCH --array=0-1" in retry_script
    # Nothing finished was redone: blue untouched, green's early frames kept.
    assert {p.name: p.stat().st_mtime_ns
            for p in (tmp_path / "out" / "blue" / "rgb").glob("*.png")} == blue_before
    for name, mtime in early.items():
        assert (green_rgb / name).stat().st_mtime_ns == mtime, name
    for name in ("blue", "green", "red"):
        assert len(list((tmp_path / "out" / name / "depth").glob("*.exr"))) == frames
        _check_cube(tmp_path / "out" / name, COLORS[name], list(range(50, frames + 1, 50)))
    # Once squeue has forgotten the first array (MinJobAge), the jobcomp log still answers.
    first = arrays[0]["job"]
    deadline = time.monotonic() + 120
    while f"{first}_0|" in slurm_cluster.run("squeue", "-h", "-t", "all", "-o", "%i|%T"):
        assert time.monotonic() < deadline, "slurmctld never purged the finished array"
        time.sleep(1)
    seen = target.poll(job, ["t00000"])["t00000"]
    assert (seen.state, seen.exit_code, seen.native_id) == (Phase.ENDED, 0, f"{first}_0")
    assert seen.reason.startswith("COMPLETED")
    assert "JobState=TIMEOUT" in slurm_cluster.jobcomp()


def test_rest_submit_status_cancel(slurm_cluster, bpy_python, tmp_path):
    """The same job through slurmrestd (JWT from `scontrol token`), then a cancel over REST."""
    import os

    rest = {"url": slurm_cluster.rest_url, "user": "root",
            "environment": {"BLENDER_USER_RESOURCES": os.environ["BLENDER_USER_RESOURCES"]}}
    assert RestClient(rest).version() == "0.0.38"  # discovered from the server's OpenAPI
    scenes = _cubes(bpy_python, tmp_path / "scenes", ["green"])
    job = _submit(bpy_python, scenes, tmp_path / "out", rest=rest)
    assert job.target_record()["arrays"][0]["job"].isdigit()
    result = _wait(job)
    assert result.ok, jobs.logs(job)
    _check_cube(tmp_path / "out" / "green", COLORS["green"], [1, 2, 3, 4])
    token = RestClient(rest).token()
    assert token not in "".join(p.read_text(errors="replace") for p in job.path.rglob("*")
                                if p.is_file() and p.suffix in (".json", ".sh", ".yaml"))

    # A job that would sleep for ten minutes, cancelled over REST.
    second = _submit(bpy_python, scenes, tmp_path / "out2", rest=rest, setup=["sleep 600"])
    target = make_target(second.spec.target)
    deadline = time.monotonic() + 60
    while target.poll(second, ["t00000"])["t00000"].state != Phase.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    target.cancel(second, None)
    deadline = time.monotonic() + 60
    while (seen := target.poll(second, ["t00000"])["t00000"]).state != Phase.ENDED:
        assert time.monotonic() < deadline, seen
        time.sleep(0.2)
    assert seen.reason.startswith("CANCELLED")
    assert "POST /slurm/v0.0.38/job/submit" in (slurm_cluster.state / "slurmrestd.log").read_text()


def test_submit_through_ssh_with_path_map(slurm_cluster, bpy_python, tmp_path, monkeypatch):
    """A workstation without SLURM submits through ssh; the cluster mounts the files elsewhere."""
    local = tmp_path / HOSTILE / "workstation mount"
    remote = tmp_path / "cluster mount"
    local.mkdir(parents=True)
    remote.symlink_to(local, target_is_directory=True)  # the same files, another mount point
    scenes = _cubes(bpy_python, local / "scenes", ["blue"])
    monkeypatch.delenv("SLURM_CONF")  # no SLURM here: every command must go through ssh
    job = _submit(bpy_python, scenes, local / "out", ssh="orbitfarm-login",
                  ssh_options=["-F", str(slurm_cluster.ssh_config)],
                  path_map=[{"local": str(local), "remote": str(remote)}])
    script = (job.path / job.target_record()["arrays"][0]["script"]).read_text()
    assert "workstation mount" not in script and f"{remote}/out/.orbitfarm/jobs/" in script
    result = _wait(job)
    assert result.ok, jobs.logs(job)
    _check_cube(local / "out" / "blue", COLORS["blue"], [1, 2, 3, 4])
    # The node opened the packed .blend through its own mount point.
    blend = json.loads((local / "out" / "blue" / "result.json").read_text())["blend"]
    assert blend.startswith(str(remote) + "/")
    assert not list(tmp_path.rglob("PWNED*"))
