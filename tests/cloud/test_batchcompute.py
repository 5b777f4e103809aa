"""The batchcompute target through the official `batchcompute` SDK.

Alibaba Cloud BatchCompute cannot be reached from this machine (and the service is deprecated):
a stand-in on 127.0.0.1 (bcs_standin.py) answers as its documented API does and checks what the
SDK sends (path, method, the acs HMAC-SHA1 signature by the key the default credential chain
found, the API version, and the DAG job orbitfarm must send). Driven through orbitfarm's own
commands: submit -> status (pending, running, succeeded, failed with a reason, preempted) ->
retry -> cancel -> logs, and `submit --dry-run`.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bcs_standin import BcsStandIn  # noqa: E402
from cloud_jobs import (  # noqa: E402
    ALIBABA_ENV,
    FAKE_KEY_ID,
    FAKE_SECRET,
    finish_as_worker,
    isolate,
    make_scenes,
    run_cli,
    secrets_in,
    status,
    submit,
    task_states,
    within,
    write_config,
)
from standin import Request, StandIn  # noqa: E402

pytestmark = pytest.mark.cloud

CONFIG = """
targets:
  bcs:
    kind: batchcompute
    region: cn-hangzhou
    endpoint: "127.0.0.1:%(port)d"
    protocol: http
    image: localhost:5000/orbitfarm-blender
    registry_oss_path: oss://render-bucket/dockers/
    logs: oss://render-bucket/orbitfarm-logs/
    auto_cluster: {instance_type: ecs.gn5-c4g1.xlarge, ecs_image: img-ubuntu-docker}
    mounts: [{source: "oss://render-bucket/projects/", destination: /mnt/projects/}]
    path_map: [{local: %(root)s, remote: /mnt/projects}]
    retries: 2
    blender: /opt/blender/blender
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    isolate(tmp_path, monkeypatch, **ALIBABA_ENV)


def _line(body: dict) -> str:
    """The shell text inside the task's `sh -c '...'` command line."""
    command = body["DAG"]["Tasks"]["render"]["Parameters"]["Command"]["CommandLine"]
    argv = shlex.split(command)
    assert argv[:2] == ["sh", "-c"]
    return argv[2]


def lists(server: StandIn, bcs_job: str) -> list[Request]:
    """The ListInstances calls for this job (not GetInstance, whose path goes on)."""
    return [r for r in server.calls("GET")
            if r.path == f"/jobs/{bcs_job}/tasks/render/instances"]


def test_submit_status_retry_cancel_logs(tmp_path, capsys, standin, node_python):
    scenes = make_scenes(node_python, tmp_path)
    bcs = BcsStandIn(FAKE_KEY_ID)
    server = standin(bcs)
    config = write_config(tmp_path, CONFIG, port=server.port)
    job, _ = submit(scenes, tmp_path / "out", "bcs", config, capsys)
    t1, t2 = job.task_ids()
    assert server.errors == []
    (body,) = bcs.created
    task = body["DAG"]["Tasks"]["render"]
    assert task["InstanceCount"] == 2 and task["MaxRetryCount"] == 2
    assert task["AutoCluster"]["InstanceType"] == "ecs.gn5-c4g1.xlarge"
    assert task["Mounts"]["Entries"] == [{"Source": "oss://render-bucket/projects/",
                                          "Destination": "/mnt/projects/",
                                          "WriteSupport": True}]
    envs = task["Parameters"]["Command"]["EnvVars"]
    assert envs["BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH"] == "oss://render-bucket/dockers/"
    line = _line(body)
    assert "INDEX=$((0 + BATCH_COMPUTE_DAG_INSTANCE_ID))" in line
    assert f"JOB_DIR=/mnt/projects/out/.orbitfarm/jobs/{job.id}\n" in line
    saved = json.loads((job.path / "batchcompute" / "submission-1.json").read_text())
    assert within(saved, body)  # the description as sent, kept in the job dir
    assert secrets_in(job.path, FAKE_SECRET) == []
    (bcs_job,) = bcs.jobs

    # pending, running; one ListInstances for the whole job
    bcs.set(bcs_job, 1, "Running")
    before = len(lists(server, bcs_job))
    assert status(job, capsys)["tasks"] == {"queued": 2}
    assert len(lists(server, bcs_job)) == before + 1

    # succeeded; failed with the service's reason after its own retries
    finish_as_worker(job, t1)
    bcs.set(bcs_job, 0, "Finished")
    bcs.set(bcs_job, 1, "Failed", 1, "InstanceFailed", "worker exited 1", retries=2)
    assert status(job, capsys)["tasks"] == {"done": 1, "failed": 1}
    state, reason = task_states(job)[t2]
    assert state == "failed" and "after 2 retries" in reason and "worker exited 1" in reason

    # logs: where BatchCompute put the instance's stdout/stderr
    code, out, err = run_cli(["logs", str(job.path), t2], capsys)
    assert code == 0, err
    where = (job.path / "batchcompute" / f"{t2}.instance.log").read_text()
    assert "oss://render-bucket/orbitfarm-logs/" in where and "stdout/1" in where

    # retry: a new job of one instance running plan index 1
    code, out, err = run_cli(["retry", str(job.path)], capsys)
    assert code == 0, err
    assert len(bcs.created) == 2
    assert bcs.created[1]["DAG"]["Tasks"]["render"]["InstanceCount"] == 1
    assert "\nINDEX=1\n" in _line(bcs.created[1])
    second = job.target_record()["submissions"][1]["bcs_job"]

    # preempted (a spot instance taken back): killed, retryable
    bcs.set(second, 0, "Failed", -1, "SpotInstanceReleased", "the spot instance was "
            "released")
    status(job, capsys)
    state, reason = task_states(job)[t2]
    assert state == "failed" and "preempted" in reason

    # retry, then cancel: StopJob, the task reads cancelled
    run_cli(["retry", str(job.path)], capsys)
    third = job.target_record()["submissions"][2]["bcs_job"]
    bcs.set(third, 0, "Running")
    code, out, err = run_cli(["cancel", str(job.path)], capsys)
    assert code == 0, err
    # Only the waiting or running job is stopped (the service refuses the others).
    assert [r.path for r in server.calls("POST") if r.path.endswith("/stop")] == \
        [f"/jobs/{third}/stop"]
    assert bcs.jobs[third]["State"] == "Stopped"
    assert status(job, capsys)["tasks"] == {"done": 1, "cancelled": 1}
    assert server.errors == []


def test_dry_run_writes_the_job_and_sends_nothing(tmp_path, capsys, standin, node_python):
    scenes = make_scenes(node_python, tmp_path)
    server = standin(BcsStandIn(FAKE_KEY_ID))
    config = write_config(tmp_path, CONFIG, port=server.port)
    job, out = submit(scenes, tmp_path / "out", "bcs", config, capsys, "--dry-run")
    assert server.requests == []
    body = json.loads((job.path / "batchcompute" / "submission-1.json").read_text())
    assert body["Name"] == f"orbitfarm-{job.id}-s1"
    assert body["DAG"]["Tasks"]["render"]["InstanceCount"] == 2
    assert job.target_record() == {}


def test_profile_needs_a_cluster_and_oss_logs():
    from orbitfarm.submitter.targets import target_class
    from orbitfarm.submitter.targets.base import TargetError

    cls = target_class("batchcompute")
    with pytest.raises(TargetError, match="cluster"):
        cls.check_profile({"kind": "batchcompute", "image": "i", "logs": "oss://b/l/"})
    with pytest.raises(TargetError, match="oss://"):
        cls.check_profile({"kind": "batchcompute", "image": "i", "cluster": "cls-1",
                           "logs": "/tmp"})
