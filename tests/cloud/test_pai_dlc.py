"""The pai-dlc target through the official SDK (alibabacloud-pai-dlc20201203).

PAI-DLC cannot exist on this machine: a stand-in on 127.0.0.1 (dlc_standin.py) answers as the
documented API does and checks what the SDK sends (method, path, action and version headers,
the ACS3-HMAC-SHA256 signature by the key the default credential chain found, and the CreateJob
fields orbitfarm must set). Everything is driven through orbitfarm's own commands: submit ->
status (pending, running, succeeded, failed with a reason, preempted) -> retry -> cancel ->
logs, and `submit --dry-run`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
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
from dlc_standin import DlcStandIn  # noqa: E402

pytestmark = pytest.mark.cloud

CONFIG = """
targets:
  dlc:
    kind: pai-dlc
    region: cn-hangzhou
    endpoint: "127.0.0.1:%(port)d"
    protocol: http
    workspace: "12345"
    quota: quota-render
    cpus: 8
    memory: 32Gi
    gpus: 1
    image: registry.example.org/orbitfarm/blender:4.5
    data_sources: [{id: d-nasrender, mount: /mnt/data}]
    path_map: [{local: %(root)s, remote: /mnt/data}]
    env: {BLENDER_USER_RESOURCES: /tmp/blender}
    priority: 5
    blender: /opt/blender/blender
  dlc-workers:
    kind: pai-dlc
    endpoint: "127.0.0.1:%(port)d"
    protocol: http
    workspace: "12345"
    mode: workers
    ecs_spec: ecs.gn6i-c4g1.xlarge
    image: registry.example.org/orbitfarm/blender:4.5
    data_sources: [{id: d-nasrender, mount: /mnt/data}]
    path_map: [{local: %(root)s, remote: /mnt/data}]
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    isolate(tmp_path, monkeypatch, **ALIBABA_ENV)


def test_submit_status_retry_cancel_logs(tmp_path, capsys, standin, node_python):
    scenes = make_scenes(node_python, tmp_path)
    expect = {"WorkspaceId": "12345", "ResourceId": "quota-render", "JobType": "PyTorchJob",
              "DataSources": [{"DataSourceId": "d-nasrender", "MountPath": "/mnt/data"}],
              "Priority": 5, "Envs": {"BLENDER_USER_RESOURCES": "/tmp/blender"}}
    dlc = DlcStandIn(FAKE_KEY_ID, expect)
    server = standin(dlc)
    config = write_config(tmp_path, CONFIG, port=server.port)
    job, _ = submit(scenes, tmp_path / "out", "dlc", config, capsys)
    t1, t2 = job.task_ids()
    assert server.errors == []
    # One DLC job per task, each running its own plan index, the job dir as mounted.
    assert len(dlc.created) == 2
    for body, index in zip(dlc.created, (0, 1), strict=True):
        (spec,) = body["JobSpecs"]
        assert within({"Type": "Worker", "Image": "registry.example.org/orbitfarm/"
                        "blender:4.5", "PodCount": 1, "ResourceConfig": {
                            "CPU": "8", "Memory": "32Gi", "GPU": "1"}}, spec)
        command = body["UserCommand"]
        assert f"\nINDEX={index}\n" in command
        assert f"JOB_DIR=/mnt/data/out/.orbitfarm/jobs/{job.id}\n" in command
        assert "/opt/blender/blender -b --factory-startup" in command
    record = job.target_record()
    ids = [u["dlc_job"] for u in record["submissions"][0]["units"]]
    assert ids == sorted(dlc.jobs)
    saved = json.loads((job.path / "pai-dlc" / "submission-1.json").read_text())
    assert within(saved["CreateJob"], dlc.created)  # the payloads as sent, in the job dir
    assert secrets_in(job.path, FAKE_SECRET) == []

    # pending, running
    dlc.set_status(ids[0], "Queuing")
    dlc.set_status(ids[1], "Running")
    assert status(job, capsys)["tasks"] == {"queued": 2}
    assert task_states(job)[t1][0] == "queued"
    lists = [r for r in server.calls("GET") if r.path == "/api/v1/jobs"]  # not GetJob
    assert lists[-1].arg("JobIds") == ",".join(ids)  # one ListJobs for the whole job

    # succeeded (the worker wrote its state) and failed with DLC's reason
    finish_as_worker(job, t1)
    dlc.set_status(ids[0], "Succeeded")
    dlc.set_status(ids[1], "Failed", "JobFailed", "container exited with code 137")
    report = status(job, capsys)
    assert report["tasks"] == {"done": 1, "failed": 1}
    state, reason = task_states(job)[t2]
    assert state == "failed" and "JobFailed: container exited with code 137" in reason

    # retry: only the failed task goes again, as a new DLC job
    code, out, err = run_cli(["retry", str(job.path)], capsys)
    assert code == 0, err
    assert len(dlc.created) == 3 and "\nINDEX=1\n" in dlc.created[2]["UserCommand"]
    retried = job.target_record()["submissions"][1]["units"][0]["dlc_job"]
    assert task_states(job)[t2][0] == "queued"

    # preempted: killed, not the worker's fault, retryable
    dlc.set_status(retried, "Failed", "JobPreempted", "preempted by a job of priority 9")
    status(job, capsys)
    state, reason = task_states(job)[t2]
    assert state == "failed" and "preempted" in reason

    # the pod's own log
    code, out, err = run_cli(["logs", str(job.path), t2], capsys)
    assert code == 0, err
    assert f"log of {retried}-worker-0" in (job.path / "pai-dlc" / f"{t2}.pod.log").read_text()

    # retry again, then cancel: StopJob for the running one, the task reads cancelled
    run_cli(["retry", str(job.path)], capsys)
    third = job.target_record()["submissions"][2]["units"][0]["dlc_job"]
    dlc.set_status(third, "Running")
    code, out, err = run_cli(["cancel", str(job.path)], capsys)
    assert code == 0, err
    stops = [r.path for r in server.calls("POST") if r.path.endswith("/stop")]
    assert stops == [f"/api/v1/jobs/{third}/stop"]  # ended jobs are not stopped
    assert dlc.jobs[third]["Status"] == "Stopped"
    assert status(job, capsys)["tasks"] == {"done": 1, "cancelled": 1}
    assert server.errors == []
    assert secrets_in(job.path, FAKE_SECRET) == []


def test_workers_mode_one_job_rank_to_task(tmp_path, capsys, standin, node_python):
    """mode: workers -> one PyTorchJob of a master and N-1 workers; RANK picks the task."""
    scenes = make_scenes(node_python, tmp_path)
    dlc = DlcStandIn(FAKE_KEY_ID, {"WorkspaceId": "12345"})
    server = standin(dlc)
    config = write_config(tmp_path, CONFIG, port=server.port)
    job, _ = submit(scenes, tmp_path / "out", "dlc-workers", config, capsys)
    (body,) = dlc.created
    assert [(s["Type"], s["PodCount"], s["EcsSpec"]) for s in body["JobSpecs"]] == [
        ("Master", 1, "ecs.gn6i-c4g1.xlarge"), ("Worker", 1, "ecs.gn6i-c4g1.xlarge")]
    assert "INDEX=$((0 + RANK))" in body["UserCommand"]
    (dlc_job,) = dlc.jobs
    dlc.set_status(dlc_job, "Running")
    dlc.set_status(dlc_job, "Failed", pod=f"{dlc_job}-worker-0")  # RANK 1 -> task 2
    status(job, capsys)
    t1, t2 = job.task_ids()
    assert task_states(job)[t1][0] == "queued"
    assert task_states(job)[t2][0] == "failed"
    assert server.errors == []


def test_dry_run_writes_the_payloads_and_sends_nothing(tmp_path, capsys, standin,
                                                      node_python):
    """--dry-run, with submit options overriding the profile (--dlc-mode, --dlc-priority)."""
    scenes = make_scenes(node_python, tmp_path)
    server = standin(DlcStandIn(FAKE_KEY_ID, {}))
    config = write_config(tmp_path, CONFIG, port=server.port)
    job, out = submit(scenes, tmp_path / "out", "dlc", config, capsys, "--dry-run",
                      "--dlc-mode", "workers", "--dlc-priority", "7")
    assert server.requests == []
    (payload,) = json.loads((job.path / "pai-dlc" / "submission-1.json").read_text())["CreateJob"]
    assert payload["DisplayName"] == f"orbitfarm-{job.id}-s1-i0"
    assert payload["Priority"] == 7
    assert [s["Type"] for s in payload["JobSpecs"]] == ["Master", "Worker"]
    assert job.target_record() == {}
    assert f"wrote {job.path / 'pai-dlc' / 'submission-1.json'}" in out


def test_profile_refuses_keys_and_missing_resources():
    from orbitfarm.submitter.targets import target_class
    from orbitfarm.submitter.targets.base import TargetError

    cls = target_class("pai-dlc")
    with pytest.raises(TargetError, match="access_key_secret.*default chain"):
        cls.check_profile({"kind": "pai-dlc", "image": "x", "ecs_spec": "e",
                           "access_key_secret": "s"})
    with pytest.raises(TargetError, match="ecs_spec .* or quota"):
        cls.check_profile({"kind": "pai-dlc", "image": "x"})


def test_the_command_dlc_would_run_renders_the_task_of_each_rank(tmp_path, capsys, standin,
                                                                 node_python):
    """The workers-mode UserCommand, run here by sh as each pod would run it (RANK as DLC sets
    it, the job directory at the same path), renders both tasks with the real bpy."""
    import os
    import subprocess

    scenes = make_scenes(node_python, tmp_path)
    config = tmp_path / "here.yaml"
    config.write_text(f"""
targets:
  here:
    kind: pai-dlc
    endpoint: "127.0.0.1:%(port)d"
    protocol: http
    mode: workers
    ecs_spec: ecs.gn6i-c4g1.xlarge
    image: registry.example.org/orbitfarm/blender:4.5
    python: {node_python}
""")
    dlc = DlcStandIn(FAKE_KEY_ID, {})
    server = standin(dlc)
    config.write_text(config.read_text() % {"port": server.port})
    job, _ = submit(scenes, tmp_path / "out", "here", config, capsys,
                    "--resolution", "32x24", "--samples", "1")
    (body,) = dlc.created
    for rank in (0, 1):
        done = subprocess.run(["sh", "-c", body["UserCommand"]], env={**os.environ,
                              "RANK": str(rank)}, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    stray = subprocess.run(["sh", "-c", body["UserCommand"]], env={**os.environ, "RANK": "2"},
                           capture_output=True, text=True, timeout=60)
    assert stray.returncode == 2 and "copy 2 of 2: no task for it" in stray.stdout
    assert {t: s[0] for t, s in task_states(job).items()} == dict.fromkeys(job.task_ids(), "done")
    rgb = sorted(p.name for p in (tmp_path / "out" / "cube" / "rgb").iterdir())
    assert rgb == ["0001.png", "0002.png", "0003.png", "0004.png"]
    assert "plan index 1" in job.log_file(job.task_ids()[1]).read_text()


def test_the_stand_in_refuses_an_unsigned_request_in_dlc_s_error_shape(standin):
    """The stand-in's own check: what it refuses is answered as DLC answers errors and kept in
    `errors`, which fails the test that caused it (emptied here, where the refusal is wanted)."""
    import requests

    server = standin(DlcStandIn(FAKE_KEY_ID, {}))
    answer = requests.get(f"{server.url}/api/v1/jobs", timeout=10)
    assert answer.status_code == 400
    assert answer.json()["Code"] == "InvalidParameter" and "unsigned" in answer.json()["Message"]
    assert len(server.errors) == 1 and "unsigned request" in server.errors[0]
    server.errors.clear()
