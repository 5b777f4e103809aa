"""The `command` target against a real little farm of shell scripts (farm.sh): orbitfarm knows
it only through the submit/status/kill command templates of a profile, as it would any farm.

Tiny renders (48x36, 2 samples) with the real bpy worker: pixels and depth prove the farm's
jobs really ran the right tasks. The farm holds jobs (pending), fails one on its "node" with a
reason, preempts a running one; orbitfarm's own status/retry/cancel must say and do the right
thing each time. Paths are hostile so any unquoted placeholder would run a shell command.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from orbitfarm.submitter import jobs
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.states import Phase, TaskState
from orbitfarm.submitter.targets import make_target

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import subjects  # noqa: E402  (tests/subjects.py)
from render_checks import check_cube  # noqa: E402

FARM = Path(__file__).resolve().parent / "farm.sh"
HOSTILE = "we ird $(touch PWNED) `touch PWNED2` 'q' ü"
RED = (0.8, 0.0, 0.0)


@pytest.fixture(autouse=True)
def _own_jobs_index(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "orbitfarm-home"))


@pytest.fixture
def farm(tmp_path, monkeypatch):
    """The farm's state folder (FARM_DIR); every job still running is stopped at the end."""
    folder = tmp_path / "farm"
    folder.mkdir()
    monkeypatch.setenv("FARM_DIR", str(folder))
    yield folder
    for pid_file in folder.glob("*.pid"):
        try:
            os.killpg(int(pid_file.read_text()), 15)
        except (ProcessLookupError, ValueError):
            pass


def _profile(python: str, **extra) -> dict:
    farm = str(FARM)
    return {"kind": "command", "python": python,
            "submit": f"{farm} submit {{script}} {{log}}",
            "status": f"{farm} status {{native_ids}}",
            "cancel": f"{farm} kill {{native_ids}}", **extra}


def _submit(python: str, root: Path, frames: int = 4, chunk: int | None = 2, **extra) -> JobDir:
    subjects.make_subject(python, root / "scenes" / "red.blend", "cube", color=RED)
    settings = RenderSettings(frames=frames, width=48, height=36, samples=2, device="cpu")
    request = jobs.SubmitRequest(files=[str(root / "scenes")], out=str(root / "out"),
                                 settings=settings, target="command", chunk=chunk,
                                 target_options=_profile(python, **extra))
    return jobs.submit(request)


def _until(check, timeout: float = 180, what: str = ""):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return value


def test_pending_failed_preempted_retry(farm, bpy_python, tmp_path):
    """Held jobs read pending; a job the farm fails says the farm's reason; a preempted one says
    so; `retry` sends both again and the frames come out right."""
    root = tmp_path / HOSTILE
    (farm / "hold").touch()
    (farm / "fail-next").write_text("node n3 lost its GPU driver")
    slow_once = ('if [ ! -e "$JOB_DIR/tried.$INDEX" ]; then touch "$JOB_DIR/tried.$INDEX"; '
                 '[ "$INDEX" = 1 ] && sleep 120; fi; true')
    job = _submit(bpy_python, root, setup=['echo "node env: $STUDIO $NODE_OS"', slow_once],
                  env={"common": {"STUDIO": "acme co"}, "linux": {"NODE_OS": "linux"},
                       "windows": {"NODE_OS": "windows"}})
    assert job.task_ids() == ["t00000", "t00001"]
    record = job.target_record()
    assert {t: r["native"] for t, r in record["tasks"].items()} == {"t00000": "1",
                                                                  "t00001": "2"}
    target = make_target(job.spec.target)
    seen = target.poll(job, job.task_ids())
    assert [s.state for s in seen.values()] == [Phase.PENDING, Phase.PENDING], seen
    assert jobs.status(job).tasks == {"queued": 2}

    (farm / "hold").unlink()
    _until(lambda: (job.path / "tried.1").exists()
           and (farm / "2.state").read_text().startswith("running"), what="task 1 running")
    subprocess.run([str(FARM), "preempt", "2", "node", "reclaimed"], check=True)
    result = _until(lambda: (s := jobs.status(job)).finished and s, what="both ended")
    states = job.read_states()
    assert states["t00000"]["state"] == TaskState.FAILED
    assert "node n3 lost its GPU driver" in states["t00000"]["reason"]
    assert states["t00000"]["exit_code"] == 7
    assert states["t00001"]["state"] == TaskState.FAILED
    assert "preempted by the farm: node reclaimed" in states["t00001"]["reason"]
    assert sorted(result.retryable) == ["t00000", "t00001"]

    assert sorted(jobs.retry(job)) == ["t00000", "t00001"]
    assert {r["native"] for r in job.target_record()["tasks"].values()} == {"3", "4"}
    result = jobs.wait(job, interval=0.5, timeout=300)
    assert result.ok, jobs.logs(job)
    check_cube(root / "out" / "red", RED, [1, 2, 3, 4])
    log = job.log_file("t00000").read_text()
    assert "node env: acme co linux" in log
    assert not list(tmp_path.rglob("PWNED*")), "a placeholder reached the shell unquoted"
    # The farm's own output for each task went to {log}, which `logs` shows too.
    assert target.extra_logs(job, "t00000")


def test_cancel_stops_the_farms_jobs(farm, bpy_python, tmp_path):
    """`cancel` runs the cancel template with the farm's ids; the farm stops them and they stay
    cancelled (nothing renders)."""
    (farm / "hold").touch()
    job = _submit(bpy_python, tmp_path, frames=2, chunk=1)
    assert jobs.cancel(job) == ["t00000", "t00001"]
    assert (farm / "1.state").read_text().strip() == "cancelled"
    assert (farm / "2.state").read_text().strip() == "cancelled"
    (farm / "hold").unlink()
    time.sleep(1)
    result = jobs.status(job)
    assert result.finished and result.tasks == {"cancelled": 2}
    seen = make_target(job.spec.target).poll(job, job.task_ids())
    assert all(s.state == Phase.ENDED and s.end == "cancelled" for s in seen.values()), seen
    assert not (tmp_path / "out" / "red" / "rgb").exists()


def test_cli_options_and_dry_run(farm, bpy_python, tmp_path, capsys):
    """`orbitfarm submit --target command --command-submit ... --dry-run` writes the exact
    submit lines (placeholders quoted) and the task scripts, and runs none of them."""
    from orbitfarm.submitter import cli

    subjects.make_subject(bpy_python, tmp_path / HOSTILE / "cube.blend", "cube")
    code = cli.main(["submit", str(tmp_path / HOSTILE), "--out", str(tmp_path / "out"),
                     "--frames", "2", "--chunk", "1", "--target", "command",
                     "--command-submit", f"{FARM} submit {{script}} {{log}}",
                     "--command-status", f"{FARM} status {{native_ids}}",
                     "--command-setup", "echo one", "--command-setup", "echo two", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    job = JobDir(next(line.split(" ", 1)[1] for line in out.splitlines()
                      if line.startswith("directory ")))
    lines = json.loads((job.path / "dry-run" / "command.json").read_text())["submit"]
    assert [x["task"] for x in lines] == ["t00000", "t00001"]
    argv = shlex.split(lines[1]["command"])
    assert argv == [str(FARM), "submit", str(job.path / "command" / "t00001.a1.sh"),
                    str(job.path / "command" / "t00001.out")]
    script = (job.path / "command" / "t00001.a1.sh").read_text()
    assert "INDEX=1" in script and "echo one\necho two" in script
    assert job.target_record() == {} and not list(farm.iterdir())  # nothing was submitted
