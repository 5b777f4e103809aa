"""The ngc target through NVIDIA's ngcsdk 3.169.4.

NGC cannot be reached from this machine: a stand-in on 127.0.0.1 (ngc_standin.py) answers as
NGC's API does, including the token exchange and the org, team, ACE and image checks the SDK
makes before it submits, and checks what the SDK sends (bearer token of the test's API key, the
job fields orbitfarm must set). The SDK reads its URLs once, at import, so one stand-in serves
every test of this module. Driven through orbitfarm's own commands: submit -> status (pending,
running, succeeded, failed with a reason, preempted) -> logs -> `wait --retry` (the next
instance type of the ladder) -> cancel, and `submit --dry-run`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cloud_jobs import (  # noqa: E402
    finish_as_worker,
    isolate,
    make_scenes,
    run_cli,
    secrets_in,
    status,
    submit,
    task_states,
    write_config,
)
from ngc_standin import NgcStandIn  # noqa: E402
from standin import Request, StandIn  # noqa: E402

pytestmark = pytest.mark.cloud

API_KEY = "standin-ngc-key-never-in-the-job-dir"  # not nvapi-: a legacy key, no SAK lookup
LADDER = ["dgx1v.16g.1.norm", "dgx1v.32g.1.norm"]
CONFIG = """
targets:
  ngc:
    kind: ngc
    org: myorg
    team: vis
    ace: nv-ace
    image: myorg/vis/blender:4.5
    instances: [dgx1v.16g.1.norm, dgx1v.32g.1.norm]
    workspaces: [{id: renders-ws, mount: /mnt/ws}]
    path_map: [{local: %(root)s, remote: /mnt/ws}]
    priority: HIGH
    env: {OMP_NUM_THREADS: "8"}
    api_url: %(url)s
    auth_url: %(url)s
    python: /opt/venv/bin/python
"""


@pytest.fixture(scope="module")
def ngc_server():
    """One stand-in for the module: the SDK reads its URLs once, at import."""
    with StandIn(NgcStandIn(API_KEY, "myorg", "vis", "nv-ace", LADDER, "myorg/vis/blender",
                            "4.5")) as server:
        yield server
    assert not server.errors, "stand-in errors:\n" + "\n".join(server.errors)


@pytest.fixture
def ngc(ngc_server) -> NgcStandIn:
    return ngc_server.handler


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    isolate(tmp_path, monkeypatch, NGC_CLI_API_KEY=API_KEY)


def _mine(ngc: NgcStandIn, job_id: str) -> list[dict]:
    return [b for b in ngc.created if b["name"].startswith(f"orbitfarm-{job_id}-")]


def _lists(server: StandIn) -> list[Request]:
    """The job listings (by label), not the gets of one job."""
    return [r for r in server.calls("GET") if r.path == "/v2/org/myorg/team/vis/jobs"]


def test_submit_status_wait_retry_ladder_cancel(tmp_path, capsys, ngc, ngc_server, node_python):
    scenes = make_scenes(node_python, tmp_path)
    config = write_config(tmp_path, CONFIG, url=ngc_server.url)
    job, _ = submit(scenes, tmp_path / "out", "ngc", config, capsys)
    t1, t2 = job.task_ids()
    assert ngc_server.errors == []
    first = _mine(ngc, job.id)
    assert [(b["name"], b["aceInstance"]) for b in first] == [
        (f"orbitfarm-{job.id}-{t1}-a1", LADDER[0]), (f"orbitfarm-{job.id}-{t2}-a1", LADDER[0])]
    for body, index in zip(first, (0, 1), strict=True):
        assert body["workspaceMounts"] == [{"id": "renders-ws", "containerMountPoint": "/mnt/ws",
                                            "mountMode": "RW"}]
        assert body["jobPriority"] == "HIGH" and body["resultContainerMountPoint"] == "/results"
        assert {"name": "OMP_NUM_THREADS", "value": "8"} in body["envs"]
        assert f"\nINDEX={index}\n" in body["command"]
        assert f"JOB_DIR=/mnt/ws/out/.orbitfarm/jobs/{job.id}\n" in body["command"]
        assert "/opt/venv/bin/python -c" in body["command"]
    saved = json.loads((job.path / "ngc" / "submission-1.json").read_text())["jobs.run"]
    assert [r["commandline"] for r in saved] == [b["command"] for b in first]
    assert secrets_in(job.path, API_KEY) == []
    j1, j2 = (u["ngc_job"] for u in job.target_record()["submissions"][0]["units"])

    # pending, running: one list call by the job's label for both
    ngc.set_status(j1, "QUEUED")
    ngc.set_status(j2, "RUNNING")
    lists = len(_lists(ngc_server))
    assert status(job, capsys)["tasks"] == {"queued": 2}
    assert len(_lists(ngc_server)) == lists + 1

    # succeeded; failed with NGC's reason (out of GPU memory on the 16 GB instance)
    finish_as_worker(job, t1)
    ngc.set_status(j1, "FINISHED_SUCCESS")
    ngc.set_status(j2, "FAILED", "Exit code 137: CUDA out of memory")
    status(job, capsys)
    state, reason = task_states(job)[t2]
    assert state == "failed" and "CUDA out of memory" in reason and LADDER[0] in reason

    # the NGC job's own log (its result set's joblog.log)
    ngc.logs[j2] = ["orbitfarm: task t1 (plan index 1)", "RuntimeError: CUDA out of memory"]
    code, out, err = run_cli(["logs", str(job.path), t2], capsys)
    assert code == 0, err
    assert "CUDA out of memory" in (job.path / "ngc" / f"{t2}.job.log").read_text()

    # NGC forgets old jobs (seed 001 read a 7-day history and relaunched finished work): the
    # job directory says t1 is done, so it is never asked about nor relaunched.
    del ngc.jobs[j1]

    # wait --retry: t2 goes again, on the next instance type of the ladder
    code, out, err = run_cli(["wait", str(job.path), "--retry", "1", "--interval", "0.2",
                              "--timeout", "2"], capsys)
    assert code != 0  # still running when the timeout came
    second = _mine(ngc, job.id)[2:]
    assert [(b["name"], b["aceInstance"]) for b in second] == [
        (f"orbitfarm-{job.id}-{t2}-a2", LADDER[1])]
    assert task_states(job)[t1][0] == "done"
    j3 = job.target_record()["submissions"][1]["units"][0]["ngc_job"]

    # preempted: killed, retryable; the next attempt stays on the last rung
    ngc.set_status(j3, "PREEMPTED", "preempted by a higher priority job")
    status(job, capsys)
    state, reason = task_states(job)[t2]
    assert state == "failed" and "PREEMPTED" in reason
    run_cli(["retry", str(job.path)], capsys)
    third = _mine(ngc, job.id)[3:]
    assert [b["aceInstance"] for b in third] == [LADDER[1]]
    j4 = job.target_record()["submissions"][2]["units"][0]["ngc_job"]

    # cancel: only the running job is killed
    ngc.set_status(j4, "RUNNING")
    deletes = len(ngc_server.calls("DELETE"))
    code, out, err = run_cli(["cancel", str(job.path)], capsys)
    assert code == 0, err
    assert [r.path for r in ngc_server.calls("DELETE")[deletes:]] == [f"/v2/org/myorg/jobs/{j4}"]
    assert ngc.jobs[j4]["jobStatus"]["status"] == "KILLED_BY_USER"
    assert status(job, capsys)["tasks"] == {"done": 1, "cancelled": 1}
    assert ngc_server.errors == []


def test_dry_run_writes_the_requests_and_sends_nothing(tmp_path, capsys, ngc_server, node_python):
    scenes = make_scenes(node_python, tmp_path)
    config = write_config(tmp_path, CONFIG, url=ngc_server.url)
    before = len(ngc_server.requests)
    job, _ = submit(scenes, tmp_path / "out", "ngc", config, capsys, "--dry-run")
    assert len(ngc_server.requests) == before
    saved = json.loads((job.path / "ngc" / "submission-1.json").read_text())["jobs.run"]
    assert [(r["instance"], r["label"]) for r in saved] == [
        (LADDER[0], [f"orbitfarm_{job.id.replace('-', '_')}"])] * 2
    assert job.target_record() == {}


def test_profile_needs_a_ladder_and_no_key():
    from orbitfarm.submitter.targets import target_class
    from orbitfarm.submitter.targets.base import TargetError

    cls = target_class("ngc")
    base = {"kind": "ngc", "org": "o", "ace": "a", "image": "o/i:1"}
    with pytest.raises(TargetError, match="instances is required"):
        cls.check_profile(base)
    with pytest.raises(TargetError, match="api_key.*NGC_CLI_API_KEY"):
        cls.check_profile(dict(base, instances=["x"], api_key="k"))
