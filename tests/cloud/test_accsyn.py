"""The accsyn target. accsyn cannot exist on this machine: jobs are created, queried and
aborted through the official accsyn-python-api, sent with ACCSYN_PROXY (plain HTTP) to a
stand-in on 127.0.0.1 (accsyn_standin.py) that checks the login, the session on every event
and the compute payload's fields. What IS real: the node script accsyn's compute app runs per
bucket (`bash INPUT` with ACCSYN_ITEM set), run here for each bucket the stand-in made, which
renders with the real bpy worker; orbitfarm's status then reads what the tasks wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from accsyn_standin import AccsynStandIn
from orbitfarm.submitter import jobs
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.states import Phase, TaskState
from orbitfarm.submitter.targets import make_target

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import subjects  # noqa: E402  (tests/subjects.py)
from render_checks import check_cube  # noqa: E402

pytestmark = pytest.mark.cloud

RED = (0.8, 0.0, 0.0)
KEY = "fake-accsyn-key-do-not-store"


@pytest.fixture
def accsyn(standin, monkeypatch):
    service = AccsynStandIn("orbitfarm-test", "render@example.org", KEY)
    server = standin(service.handle)
    monkeypatch.setenv("ACCSYN_PROXY", f"127.0.0.1:{server.port}")
    monkeypatch.setenv("ACCSYN_WORKSPACE", "orbitfarm-test")
    monkeypatch.setenv("ACCSYN_API_USER", "render@example.org")
    monkeypatch.setenv("ACCSYN_API_KEY", KEY)
    service.server = server  # type: ignore[attr-defined]
    return service


def _submit(python: str, root: Path, **extra):
    subjects.make_subject(python, root / "scenes" / "red.blend", "cube", color=RED)
    settings = RenderSettings(frames=4, width=48, height=36, samples=2, device="cpu")
    profile = {"kind": "accsyn", "python": python, "hostname": "127.0.0.1",
               "filters": ["ram:>32g", "site:sthlm"],
               "env": {"common": {"STUDIO": "acme"}, "linux": {"NODE_OS": "linux"},
                       "windows": {"NODE_OS": "windows"}},
               "path_map": [{"local": str(root), "linux": str(root), "windows": "P:\\proj"}],
               **extra}
    request = jobs.SubmitRequest(files=[str(root / "scenes")], out=str(root / "out"),
                                 settings=settings, target="accsyn", chunk=2,
                                 target_options=profile)
    return jobs.submit(request)


def _run_bucket(job, payload: dict, item: str) -> subprocess.CompletedProcess:
    """What accsyn's compute app does on a node for one bucket: bash INPUT with the item."""
    env = dict(os.environ, ACCSYN_ITEM=item)
    return subprocess.run(["bash", payload["input"]], env=env, capture_output=True, text=True,
                          timeout=600)


def test_compute_job_status_retry_cancel(accsyn, node_python, tmp_path):
    """STAND-IN accsyn: the payload, pending, running, failed with accsyn's message, preempted
    (node offline), retry as a new compute job whose buckets run for real, cancel."""
    job = _submit(node_python, tmp_path)
    assert len(accsyn.jobs) == 1
    first = next(iter(accsyn.jobs.values()))
    payload = first.payload
    assert payload["app"] == "orbitfarm" and payload["range"] == "1-4"
    assert payload["settings"]["task_bucketsize"] == "2"  # from --chunk
    assert payload["filters"] == "ram:>32g,site:sthlm"
    assert payload["parameters"]["envs"] == {"common": {"STUDIO": "acme"},
                                             "linux": {"NODE_OS": "linux"},
                                             "windows": {"NODE_OS": "windows"}}
    assert {"remote": str(tmp_path), "local": "P:\\proj", "os": "windows"} in \
        payload["parameters"]["mapped_share_paths"]
    blend = job.plan.subject(0).blend
    assert blend in payload["dependencies"] and str(job.plan_file) in payload["dependencies"]
    assert sorted(first.tasks) == ["1-2", "3-4"]
    saved = json.loads((job.path / "accsyn" / "group-0.a1.json").read_text())
    assert saved == payload  # what --dry-run writes is what was sent

    target = make_target(job.spec.target)
    seen = target.poll(job, job.task_ids())
    assert [s.state for s in seen.values()] == [Phase.PENDING, Phase.PENDING], seen
    accsyn.set_task(first.job_id, "1-2", "executing")
    accsyn.set_task(first.job_id, "3-4", "failed", "blender: license server unreachable")
    seen = target.poll(job, job.task_ids())
    assert seen["t00000"].state == Phase.RUNNING and seen["t00001"].state == Phase.ENDED
    accsyn.set_task(first.job_id, "1-2", "offline", "node r12 stopped answering")
    result = jobs.status(job)
    assert result.finished and sorted(result.retryable) == ["t00000", "t00001"]
    states = job.read_states()
    assert "preempted" in states["t00000"]["reason"]
    assert "node r12 stopped answering" in states["t00000"]["reason"]
    assert "license server unreachable" in states["t00001"]["reason"]

    assert sorted(jobs.retry(job)) == ["t00000", "t00001"]
    assert len(accsyn.jobs) == 2
    second = list(accsyn.jobs.values())[1]
    assert second.payload["range"] == "1-4" and "attempt 2" in second.payload["code"]
    for item in sorted(second.tasks):
        ran = _run_bucket(job, second.payload, item)
        assert ran.returncode == 0, ran.stderr + job.log_file("t00000").read_text()[-3000:]
        accsyn.set_task(second.job_id, item, "done")
    result = jobs.status(job)
    assert result.ok, result
    check_cube(tmp_path / "out" / "red", RED, [1, 2, 3, 4])
    log = job.log_file("t00001").read_text()
    assert "task t00001 (plan index 1)" in log

    # A bucket accsyn never got from orbitfarm fails loudly on the node.
    stray = _run_bucket(job, second.payload, "7-8")
    assert stray.returncode == 2 and "not a chunk of this job" in stray.stderr

    other = _submit(node_python, tmp_path / "second")
    assert jobs.cancel(other) == ["t00000", "t00001"]
    third = list(accsyn.jobs.values())[2]
    assert third.status == "aborted"
    seen = make_target(other.spec.target).poll(other, other.task_ids())
    assert all(s.state == Phase.ENDED and s.end == "cancelled" for s in seen.values()), seen
    assert jobs.status(other).tasks == {"cancelled": 2}

    for path in [*job.path.rglob("*"), *other.path.rglob("*")]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert all(e["session"] for e in accsyn.events)
    assert TaskState.DONE == job.read_states()["t00000"]["state"]
