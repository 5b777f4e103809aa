"""The ray target's pure parts: state mapping, profile checks, dry run (no cluster)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.model.jobspec import JobSpec
from orbitfarm.submitter.model.plan import make_plan
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.states import Phase
from orbitfarm.submitter.model.task import Subject
from orbitfarm.submitter.targets import make_target
from orbitfarm.submitter.targets.base import TargetError
from orbitfarm.submitter.targets.ray.jobs_api import normalize_address
from orbitfarm.submitter.targets.ray.states import task_state, unstarted_state

PROFILE = {"kind": "ray", "name": "ray", "address": "http://head:8265", "python": "/opt/py",
           "mem": "1G", "escalate_mem": 1.5, "resources": {"ssd": 1}}


def test_task_states_from_the_state_api():
    pending = task_state({"task_id": "a", "state": "PENDING_NODE_ASSIGNMENT"},
                         {"num_gpus": 1, "num_cpus": 1, "memory": 2**30})
    assert pending.state == Phase.PENDING and "GPU 1" in pending.reason and "1024 MiB" in pending.reason
    assert task_state({"task_id": "a", "state": "RUNNING"}).state == Phase.RUNNING
    assert task_state({"task_id": "a", "state": "FINISHED"}).exit_code == 0
    failed = task_state({"task_id": "a", "state": "FAILED", "error_type": "TASK_EXECUTION_EXCEPTION",
                         "error_message": "User exception:\nRuntimeError: orbitfarm worker exit "
                                          "code 3\n\nSystem error: ..."})
    assert (failed.state, failed.exit_code, failed.reason) == (Phase.ENDED, 3, "worker exit code 3")
    killed = task_state({"task_id": "a", "state": "FAILED",
                         "error_message": "RuntimeError: orbitfarm worker killed by signal 9"})
    assert killed.exit_code == 137 and "signal 9" in killed.reason
    oom = task_state({"task_id": "a", "state": "FAILED", "error_type": "OUT_OF_MEMORY"})
    assert "out of memory" in oom.reason and oom.exit_code is None
    died = task_state({"task_id": "a", "state": "FAILED", "error_type": "WORKER_DIED"})
    assert "died" in died.reason


def test_states_of_tasks_not_handed_to_ray():
    assert unstarted_state(None, "s1").state == Phase.UNKNOWN
    assert unstarted_state({"status": "PENDING", "message": "setting up"}, "s1").state == Phase.PENDING
    assert "parallelism" in unstarted_state({"status": "RUNNING"}, "s1").reason
    stopped = unstarted_state({"status": "STOPPED"}, "s1")
    assert stopped.state == Phase.ENDED and "cancelled" in stopped.reason
    failed = unstarted_state({"status": "FAILED", "message": "No module named ray"}, "s1")
    assert "driver" in failed.reason and "No module named ray" in failed.reason


def test_profile_checks_and_addresses():
    for bad, words in (({"adress": "x"}, "unknown key(s) adress"),
                       ({"address": None}, "address"),
                       ({"gpus": "two"}, "gpus must be a number"),
                       ({"mem": "lots"}, "not a size"),
                       ({"resources": ["ssd"]}, "resources must map")):
        with pytest.raises(TargetError) as err:
            make_target(dict(PROFILE, **bad)).api  # noqa: B018
        assert words in str(err.value)
    assert normalize_address("head:8265/") == "http://head:8265"
    with pytest.raises(TargetError, match="Ray Client address"):
        normalize_address("ray://head:10001")


def test_dry_run_and_escalation(tmp_path: Path):
    settings = RenderSettings(frames=3)
    spec = JobSpec(id="j1", settings=settings, target=PROFILE, out=str(tmp_path / "out"))
    job = JobDir(tmp_path / "job")
    job.write_new(spec, make_plan("j1", settings, [Subject(blend=str(tmp_path / "a.blend"),
                                                           out=str(tmp_path / "out"))], chunk=1))
    target = make_target(PROFILE)
    paths = target.dry_run(job, dict.fromkeys(job.task_ids(), 1))
    submission = json.loads(paths[0].read_text())
    assert [t["task"] for t in submission["tasks"]] == job.task_ids()
    assert submission["tasks"][2]["argv"][-4:] == ["--index-env", "ORBITFARM_PLAN_INDEX",
                                                   "--index-offset", "0"]
    assert submission["tasks"][2]["env"] == {"ORBITFARM_PLAN_INDEX": "2"}
    assert submission["tasks"][0]["argv"][0] == "/opt/py"
    assert submission["resources"] == {"num_gpus": 1, "num_cpus": 1, "memory": 2**30,
                                       "resources": {"ssd": 1}}
    assert "driver.py" in paths[1].read_text()
    assert target._api is None  # nothing contacted
    assert target.resources(3)["memory"] == 2304 * 2**20  # 1G x 1.5^2
