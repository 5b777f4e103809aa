"""The AWS Deadline Cloud target. The service cannot exist on this machine: submission, status
and cancel go through the official `deadline` library (and its boto3 client) to a stand-in on
127.0.0.1 (deadline_standin.py), which checks the SigV4 signature, the farm and queue, and that
CreateJob's template parses with OpenJD. What IS real: the job bundle, checked with `openjd
check` and run with `openjd run` (the OpenJD reference runtime), which renders real frames with
the real bpy worker; orbitfarm's status then reads what those tasks wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from deadline_standin import FARM, QUEUE, DeadlineStandIn, created_templates
from orbitfarm.submitter import jobs
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.states import Phase, TaskState
from orbitfarm.submitter.targets import make_target

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import subjects  # noqa: E402  (tests/subjects.py)
from render_checks import check_cube  # noqa: E402

pytestmark = pytest.mark.cloud

OPENJD = str(Path(sys.executable).with_name("openjd"))
HOSTILE = "we ird $(touch PWNED) 'q' ü"
RED = (0.8, 0.0, 0.0)


@pytest.fixture
def deadline(standin, monkeypatch, tmp_path):
    """The stand-in, with the deadline library pointed at it (and at a config of its own)."""
    service = DeadlineStandIn(os.environ["AWS_ACCESS_KEY_ID"])
    server = standin(service.handle)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DEADLINE", server.url)
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    monkeypatch.setenv("DEADLINE_CONFIG_FILE_PATH", str(tmp_path / "deadline-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # ~/.deadline, ~/.aws: none
    service.server = server  # type: ignore[attr-defined]
    return service


def _job(python: str, root: Path, frames: int, chunk: int, dry: bool = False, **extra):
    subjects.make_subject(python, root / "scenes" / "red.blend", "cube", color=RED)
    settings = RenderSettings(frames=frames, width=48, height=36, samples=2, device="cpu")
    profile = {"kind": "deadline-cloud", "farm_id": FARM, "queue_id": QUEUE, "python": python,
               **extra}
    request = jobs.SubmitRequest(files=[str(root / "scenes")], out=str(root / "out"),
                                 settings=settings, target="deadline-cloud", chunk=chunk,
                                 target_options=profile)
    return jobs.dry_run(request)[0] if dry else jobs.submit(request)


def _openjd_run(bundle: Path, *extra: str) -> subprocess.CompletedProcess:
    values = yaml.safe_load((bundle / "parameter_values.yaml").read_text())["parameterValues"]
    params = {v["name"]: v["value"] for v in values}
    return subprocess.run([OPENJD, "run", str(bundle / "template.yaml"), "--job-param",
                           json.dumps(params), *extra], capture_output=True, text=True,
                          timeout=600)


def test_bundle_passes_openjd_check_and_openjd_run_renders_it(node_python, tmp_path):
    """REAL: `--dry-run` writes the bundle; `openjd check` accepts it and `openjd run` (the
    OpenJD runtime, on this machine) runs its tasks, which render; orbitfarm's status reads
    them. `--task-param Index=N` runs one task alone, as a Deadline worker would."""
    root = tmp_path / HOSTILE
    job = _job(node_python, root, frames=4, chunk=2, dry=True,
               env={"common": {"STUDIO": "acme co"}, "windows": {"STUDIO": "no"}},
               setup=['echo "studio: $STUDIO"'])
    bundle = job.path / "deadline-cloud" / "bundle-dry-run"
    template = yaml.safe_load((bundle / "template.yaml").read_text())
    assert template["steps"][0]["parameterSpace"]["taskParameterDefinitions"] == [
        {"name": "Index", "type": "INT", "range": "0-1"}]
    refs = yaml.safe_load((bundle / "asset_references.yaml").read_text())["assetReferences"]
    assert refs["outputs"]["directories"] == [str(root / "out" / "red")]
    check = subprocess.run([OPENJD, "check", str(bundle / "template.yaml")],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "passes validation" in check.stdout, check
    assert jobs.status(job).tasks == {"queued": 2}

    one = _openjd_run(bundle, "--task-param", "Index=1")
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-2000:]
    states = job.read_states()
    assert states["t00001"]["state"] == TaskState.DONE and "t00000" not in states
    every = _openjd_run(bundle)  # t00001's frames exist: it renders nothing again
    assert every.returncode == 0, every.stdout[-3000:] + every.stderr[-2000:]
    result = jobs.status(job)
    assert result.finished and result.ok and result.tasks == {"done": 2}, result
    check_cube(root / "out" / "red", RED, [1, 2, 3, 4])
    assert "studio: acme co" in job.log_file("t00000").read_text()
    assert not list(tmp_path.rglob("PWNED*")), "a path reached the shell unquoted"


def test_submit_status_retry_cancel_through_the_deadline_library(deadline, node_python,
                                                                 tmp_path):
    """STAND-IN service: pending, running, failed with the session's reason, preempted
    (INTERRUPTED), retry as a new job whose tasks `openjd run` renders for real, cancel."""
    job = _job(node_python, tmp_path, frames=2, chunk=1, priority=70)
    server = deadline.server
    created = created_templates(server)
    assert len(created) == 1
    body = created[0]
    assert body["priority"] == 70 and body["maxRetriesPerTask"] == 0
    assert body["parameters"]["JobDir"] == {"path": str(job.path)}
    assert '"Index"' in json.dumps(body) or "Index" in body["template"]
    first = job.target_record()["jobs"][0]
    assert first["indices"] == "0-1" and first["attempt"] == 1
    host = server.requests[0].headers["host"]
    assert host.startswith("127.0.0.1:"), host  # no management. host prefix

    target = make_target(job.spec.target)
    seen = target.poll(job, job.task_ids())
    assert [s.state for s in seen.values()] == [Phase.PENDING, Phase.PENDING], seen
    deadline.set_task(first["job"], 0, "RUNNING")
    deadline.set_task(first["job"], 1, "FAILED", "FAILED", 3, "Blender crashed: out of memory")
    seen = target.poll(job, job.task_ids())
    assert seen["t00000"].state == Phase.RUNNING
    assert seen["t00001"].state == Phase.ENDED and seen["t00001"].exit_code == 3
    deadline.set_task(first["job"], 0, "FAILED", "INTERRUPTED", None, "spot instance reclaimed")
    result = jobs.status(job)
    assert result.finished and sorted(result.retryable) == ["t00000", "t00001"]
    states = job.read_states()
    assert "preempted" in states["t00000"]["reason"]
    assert "spot instance reclaimed" in states["t00000"]["reason"]
    assert "out of memory" in states["t00001"]["reason"]
    assert "exit code 3" in states["t00001"]["reason"]

    assert sorted(jobs.retry(job)) == ["t00000", "t00001"]
    second = job.target_record()["jobs"][1]
    assert second["attempt"] == 2 and second["indices"] == "0-1"
    bundle = job.path / "deadline-cloud" / second["bundle"]
    ran = _openjd_run(bundle)  # what the fleet would run: real renders
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    for index in (0, 1):
        deadline.set_task(second["job"], index, "SUCCEEDED", "SUCCEEDED", 0)
    result = jobs.status(job)
    assert result.ok, result
    check_cube(tmp_path / "out" / "red", RED, [1, 2])

    other = _job(node_python, tmp_path / "second", frames=2, chunk=1)
    assert jobs.cancel(other) == ["t00000", "t00001"]
    patches = server.calls("PATCH")
    assert patches and json.loads(patches[-1].body) == {"targetTaskRunStatus": "CANCELED"}
    seen = make_target(other.spec.target).poll(other, other.task_ids())
    assert all(s.state == Phase.ENDED and s.end == "cancelled" for s in seen.values()), seen
    assert jobs.status(other).tasks == {"cancelled": 2}

    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    for path in [*job.path.rglob("*"), *other.path.rglob("*")]:
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert all(r.headers["authorization"].startswith("AWS4-HMAC-SHA256") for r in
               server.requests)
