"""Kubernetes manifests, the container's index line and status mapping; no cluster involved.

Every manifest built here is validated with kubernetes-validate --strict (unknown fields are
errors) against Kubernetes 1.27, the oldest supported server, and the newest schema it knows.
The container's shell line is run by a real /bin/sh with a stand-in worker.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.launch.runtime import Runtime
from orbitfarm.submitter.model.jobspec import JobSpec
from orbitfarm.submitter.model.plan import make_plan
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.states import Phase
from orbitfarm.submitter.model.task import Subject
from orbitfarm.submitter.targets import make_target
from orbitfarm.submitter.targets.base import TargetError
from orbitfarm.submitter.targets.kubernetes.manifests import (
    Batch,
    container_script,
    indexed_job,
    object_name,
    owned_by,
    split_batches,
)
from orbitfarm.submitter.targets.kubernetes.options import KubeOptions
from orbitfarm.submitter.targets.kubernetes.quantities import scale_memory
from orbitfarm.submitter.targets.kubernetes.status import Unit, pod_state, unit_states

pytestmark = pytest.mark.kubernetes

OLDEST = "1.27.0"
NEWEST = kubernetes_validate.latest_version()
SERVERS = [(1, 27), tuple(int(x) for x in NEWEST.split(".")[:2])]

# The issue's profile, verbatim.
ISSUE_PROFILE = yaml.safe_load("""
kind: kubernetes
context: my-cluster            # kubeconfig context (default: current)
namespace: render
image: registry.example.org/blender:4.5
gpus: 1                        # nvidia.com/gpu limit; or gpu_resource: amd.com/gpu
mem: 8Gi
cpus: 4
volume: {claim: shared-renders, path: /shared}
path_map: [{local: /mnt/projects, remote: /shared}]
parallelism: 50
""")


def _validate(manifest: dict, versions: list[str]) -> None:
    for version in versions:
        kubernetes_validate.validate(manifest, version, strict=True)


def _job(root: Path, tasks: int) -> JobDir:
    settings = RenderSettings(frames=tasks)
    subs = [Subject(blend=str(root / "in.blend"), out=str(root / "out"), name="s0")]
    spec = JobSpec(id="20261203-141500-ab12", settings=settings,
                   target=dict(ISSUE_PROFILE, name="k8s"), out=str(root / "out"))
    job = JobDir(root / "job")
    job.write_new(spec, make_plan(spec.id, settings, subs, chunk=1))
    return job


def test_issue_profile_builds_valid_indexed_jobs(tmp_path):
    """The issue's profile: an Indexed Job per server generation, strict-valid, paths mapped."""
    root = Path("/mnt/projects/demo")
    job = _job(tmp_path, 3)
    target = make_target(dict(ISSUE_PROFILE, name="k8s"))
    for server in SERVERS:
        # The job directory lives under path_map's local side on a real machine; here it
        # lives in tmp_path, so map that too.
        target.profile["path_map"] = [{"local": str(tmp_path), "remote": "/shared/demo"}]
        manifests, units = target.build(job, job.task_ids(), 1, 1, server)
        assert len(manifests) == 1 and units[0]["kind"] == "job"
        (manifest,) = manifests
        _validate(manifest, [OLDEST, NEWEST] if server == (1, 27) else [NEWEST])
        spec = manifest["spec"]
        assert spec["completionMode"] == "Indexed" and spec["completions"] == 3
        assert spec["parallelism"] == 3  # min(parallelism 50, tasks)
        assert manifest["metadata"]["namespace"] == "render"
        pod = spec["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == "registry.example.org/blender:4.5"
        assert container["resources"] == {"requests": {"cpu": "4", "memory": "8Gi"},
                                          "limits": {"memory": "8Gi", "nvidia.com/gpu": "1"}}
        assert pod["volumes"] == [{"name": "orbitfarm-jobs", "persistentVolumeClaim": {
            "claimName": "shared-renders", "readOnly": False}}]
        assert container["volumeMounts"][0]["mountPath"] == "/shared"
        script = container["command"][2]
        assert "JOB_DIR=/shared/demo/job" in script and str(tmp_path) not in script
        if server >= (1, 29):
            assert spec["backoffLimitPerIndex"] == 0 and "backoffLimit" not in spec
        else:
            assert spec["backoffLimit"] == 3 and "backoffLimitPerIndex" not in spec
        assert spec["podFailurePolicy"]["rules"][0]["action"] == "Ignore"
    assert root  # (the issue's path_map itself is exercised in the next test)


def test_every_option_and_volume_kind_is_strict_valid(tmp_path):
    profile = dict(ISSUE_PROFILE, name="k8s", gpus=2, gpu_resource="amd.com/gpu",
                   cpus="500m", cpus_limit=2, mem_limit="10Gi", time="0:30:00",
                   node_selector={"gpu.example.org/model": "a100"},
                   tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                   priority_class="batch-low", service_account="renderer",
                   image_pull_secrets=["regcred"], labels={"team": "vision"},
                   setup=["nvidia-smi || true"], python="/opt/venv/bin/python")
    job = _job(tmp_path, 2)
    for volume in ({"nfs": "nfs.example.org:/export/renders", "path": "/shared"},
                   {"host_path": "/data/renders", "path": "/shared", "read_only": False},
                   {"claim": "shared-renders", "path": "/shared", "read_only": True}):
        target = make_target(dict(profile, volume=volume))
        for server in SERVERS:
            (manifest,), _ = target.build(job, job.task_ids(), 1, 1, server)
            _validate(manifest, [OLDEST, NEWEST] if server == (1, 27) else [NEWEST])
            pod = manifest["spec"]["template"]["spec"]
            assert pod["nodeSelector"] == {"gpu.example.org/model": "a100"}
            assert pod["priorityClassName"] == "batch-low"
            assert pod["serviceAccountName"] == "renderer"
            assert pod["imagePullSecrets"] == [{"name": "regcred"}]
            assert pod["activeDeadlineSeconds"] == 1800
            assert pod["containers"][0]["resources"] == {
                "requests": {"cpu": "500m", "memory": "8Gi"},
                "limits": {"cpu": "2", "memory": "10Gi", "amd.com/gpu": "2"}}
            assert manifest["metadata"]["labels"]["team"] == "vision"
            assert "nvidia-smi || true" in pod["containers"][0]["command"][2]
            assert "/opt/venv/bin/python" in pod["containers"][0]["command"][2]
    nfs = make_target(dict(profile, volume={"nfs": "srv:/x", "path": "/s"}))
    (manifest,), _ = nfs.build(job, job.task_ids(), 1, 1, SERVERS[0])
    assert manifest["spec"]["template"]["spec"]["volumes"][0]["nfs"] == {
        "server": "srv", "path": "/x", "readOnly": False}


def test_old_servers_get_one_pod_per_task(tmp_path):
    """1.20 has no Indexed Jobs (it drops completionMode): bare pods, one per task."""
    job = _job(tmp_path, 3)
    target = make_target(dict(ISSUE_PROFILE, name="k8s"))
    manifests, units = target.build(job, ["t00000", "t00002"], 2, 2, (1, 20))
    assert [m["kind"] for m in manifests] == ["ConfigMap", "Pod", "Pod"]
    assert units[0]["kind"] == "pods"
    for manifest in manifests:
        _validate(manifest, [OLDEST, NEWEST])
    owner, manifests = manifests[0], manifests[1:]
    assert owner["data"] == {"plan-indices": "0,2"}
    _validate(owned_by(manifests[0], owner, "0b6f-uid"), [OLDEST, NEWEST])
    env = [{e["name"]: e.get("value") for e in m["spec"]["containers"][0]["env"]}
           for m in manifests]
    assert [e["ORBITFARM_PLAN_OFFSET"] for e in env] == ["0", "2"]
    assert {m["metadata"]["labels"]["orbitfarm.io/submission"] for m in manifests} == {"2"}
    assert [m["metadata"]["name"] for m in manifests] == [
        "orbitfarm-20261203-141500-ab12-2-0", "orbitfarm-20261203-141500-ab12-2-2"]
    forced = make_target(dict(ISSUE_PROFILE, name="k8s", mode="pods"))
    assert forced.build(job, ["t00001"], 1, 1, (1, 37))[0][1]["kind"] == "Pod"


def test_split_at_the_completion_limit_and_scattered_retries():
    assert [b.indices for b in split_batches([4, 0, 1, 2, 3], 2)] == [[0, 1], [2, 3], [4]]
    batches = split_batches([3, 7, 1200], 100_000)
    assert len(batches) == 1 and not batches[0].contiguous
    options = KubeOptions.from_profile(dict(ISSUE_PROFILE))
    manifest = indexed_job(options, name=object_name("j", 2), job_id="j", number=2, attempt=2,
                           batch=batches[0], script="true", server=(1, 30))
    env = {e["name"]: e.get("value") for e in
           manifest["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ORBITFARM_PLAN_INDICES"] == "3 7 1200" and manifest["spec"]["completions"] == 3
    assert manifest["metadata"]["annotations"]["orbitfarm.io/plan-indices"] == "3,7,1200"
    _validate(manifest, [NEWEST])
    assert len(object_name("x" * 200, 12345)) <= 57


@pytest.mark.parametrize("env, expected", [
    ({"JOB_COMPLETION_INDEX": "1", "ORBITFARM_PLAN_OFFSET": "4"}, 5),
    ({"JOB_COMPLETION_INDEX": "2", "ORBITFARM_PLAN_INDICES": "3 7 12",
      "ORBITFARM_PLAN_OFFSET": "0"}, 12),
    ({"JOB_COMPLETION_INDEX": "0", "ORBITFARM_PLAN_OFFSET": "9"}, 9),  # one pod per task
])
def test_container_line_turns_the_completion_index_into_the_plan_index(tmp_path, env, expected):
    """The container's sh line, run by a real /bin/sh: right index, log in the job dir."""
    job_dir = tmp_path / "job dir $(x)"
    (job_dir / "logs").mkdir(parents=True)
    worker = tmp_path / "stand-in-python"
    worker.write_text('#!/bin/sh\necho "worker argv: $*"\necho "index env: $ORBITFARM_PLAN_INDEX"'
                      '\nexit 7\n')
    worker.chmod(0o755)
    script = container_script(job_dir=str(job_dir), plan_file=str(job_dir / "plan.json"),
                              code_dir=str(job_dir / "code"),
                              runtime=Runtime("python", str(worker)), id_width=5,
                              setup=["echo setup ran"])
    proc = subprocess.run(["/bin/sh", "-c", script], env=dict(os.environ, HOSTNAME="pod-x", **env),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 7, proc.stderr  # the worker's own exit code reaches Kubernetes
    assert f"task t{expected:05d} (plan index {expected}) in pod pod-x" in proc.stdout
    log = (job_dir / "logs" / f"t{expected:05d}.log").read_text()
    assert "setup ran" in log and log.rstrip().endswith(f"index env: {expected}")
    assert "--index-env ORBITFARM_PLAN_INDEX --index-offset 0" in log  # the worker reads it
    assert f"--plan {job_dir}/plan.json" in log


def test_container_line_says_when_the_job_directory_is_not_mounted(tmp_path):
    script = container_script(job_dir="/nonexistent/job", plan_file="/p", code_dir="/c",
                              runtime=Runtime("python", "python3"), id_width=5, setup=[])
    proc = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, JOB_COMPLETION_INDEX="0",
                                   ORBITFARM_PLAN_OFFSET="0"), timeout=30)
    assert proc.returncode == 2 and "is not mounted" in proc.stdout


def test_dry_run_writes_manifests_and_contacts_nothing(tmp_path):
    job = _job(tmp_path, 4)
    target = make_target(dict(ISSUE_PROFILE, name="k8s", server_version="1.27"))
    (path,) = target.dry_run(job, dict.fromkeys(job.task_ids(), 1))
    assert path == job.path / "kubernetes" / "submission-1.yaml"
    (manifest,) = list(yaml.safe_load_all(path.read_text()))
    _validate(manifest, [OLDEST, NEWEST])
    assert manifest["spec"]["completions"] == 4 and "backoffLimitPerIndex" not in manifest["spec"]
    assert target._client is None  # no kubeconfig read, no cluster contacted
    old = make_target(dict(ISSUE_PROFILE, name="k8s", server_version="v1.20.2"))
    (path,) = old.dry_run(job, dict.fromkeys(job.task_ids(), 1))
    assert [m["kind"] for m in yaml.safe_load_all(path.read_text())] == ["ConfigMap"] + ["Pod"] * 4


def test_profile_errors_are_one_clear_line():
    for bad, words in (({"imag": "x"}, "unknown key(s) imag"),
                       ({"gpus": "lots"}, "not a Kubernetes quantity"),
                       ({"volume": {"claim": "a", "nfs": "b:/c", "path": "/s"}}, "exactly one"),
                       ({"volume": {"nfs": "server-only", "path": "/s"}}, "SERVER:/export"),
                       ({"mode": "magic"}, "mode must be one of"),
                       ({"node_selector": {"bad key!": "x"}}, "not a valid label"),
                       ({"image": ""}, "image is required")):
        with pytest.raises(TargetError) as err:
            KubeOptions.from_profile(dict(ISSUE_PROFILE, name="k8s", **bad))
        assert words in str(err.value) and "\n" not in str(err.value)


def test_memory_escalation():
    assert scale_memory("8Gi", 1.5) == "12Gi"
    assert scale_memory("1000Mi", 1.5) == "1500Mi"
    target_cls = type(make_target(dict(ISSUE_PROFILE, name="k8s")))
    profile = dict(ISSUE_PROFILE, escalate_mem=2)
    assert target_cls.escalated(profile, 3)["mem"] == "32Gi"
    assert target_cls.escalated(profile, 1)["mem"] == "8Gi"


# -- status ------------------------------------------------------------------------------------

def _pod(name: str, phase: str, index: int | None = None, created: str = "2026-12-03T14:00:00Z",
         **status) -> dict:
    meta = {"name": name, "creationTimestamp": created, "labels": {}, "annotations": {}}
    if index is not None:
        meta["annotations"]["batch.kubernetes.io/job-completion-index"] = str(index)
    return {"metadata": meta, "spec": {"containers": [{"name": "worker", "image": "img:1"}]},
            "status": {"phase": phase, **status}}


def _terminated(code: int, reason: str = "Error") -> dict:
    return {"containerStatuses": [{"image": "img:1", "state": {
        "terminated": {"exitCode": code, "reason": reason}}}]}


def test_pod_states_carry_the_reasons_the_issue_lists():
    unsched = pod_state(_pod("p", "Pending", conditions=[{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."}]))
    assert unsched.state == Phase.PENDING and "Insufficient nvidia.com/gpu" in unsched.reason
    pull = pod_state(_pod("p", "Pending", containerStatuses=[{"image": "reg/blender:9", "state": {
        "waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]))
    assert pull.state == Phase.PENDING and "reg/blender:9" in pull.reason and "ImagePullBackOff" in pull.reason
    invalid = pod_state(_pod("p", "Pending", containerStatuses=[{"image": "BAD IMG", "state": {
        "waiting": {"reason": "InvalidImageName"}}}]))
    assert invalid.state == Phase.ENDED and "BAD IMG" in invalid.reason
    assert pod_state(_pod("p", "Running")).state == Phase.RUNNING
    done = pod_state(_pod("p", "Succeeded", **_terminated(0, "Completed")))
    assert (done.state, done.exit_code) == (Phase.ENDED, 0)
    failed = pod_state(_pod("p", "Failed", **_terminated(3)))
    assert (failed.exit_code, failed.reason) == (3, "exit code 3")
    oom = pod_state(_pod("p", "Failed", **_terminated(137, "OOMKilled")))
    assert oom.exit_code == 137 and oom.reason.startswith("OOMKilled")
    evicted = pod_state(_pod("p", "Failed", reason="Evicted",
                             message="The node was low on resource: memory."))
    assert evicted.reason == "evicted: The node was low on resource: memory."
    deadline = pod_state(_pod("p", "Failed", reason="DeadlineExceeded",
                              message="Pod was active on the node longer than the specified "
                                      "deadline"))
    assert deadline.reason.startswith("DeadlineExceeded")
    preempted = pod_state(_pod("p", "Failed", conditions=[{
        "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
        "message": "Preempted in order to admit critical pod"}], **_terminated(137)))
    assert "PreemptionByScheduler" in preempted.reason


def test_unit_states_combine_the_job_and_its_pods():
    unit = Unit("orbitfarm-j-2", "job", [3, 7, 12, 20])
    job = {"metadata": {"name": unit.name}, "status": {"completedIndexes": "1"}}
    pods = [_pod("orbitfarm-j-2-0-a", "Failed", 0, created="2026-12-03T14:00:00Z",
                 **_terminated(1)),
            _pod("orbitfarm-j-2-0-b", "Running", 0, created="2026-12-03T14:05:00Z"),
            _pod("orbitfarm-j-2-2-a", "Failed", 2, **_terminated(4))]
    states = unit_states(unit, job, pods)
    assert states[3].state == Phase.RUNNING and states[3].native_id == "orbitfarm-j-2-0-b"  # newest pod
    assert (states[7].state, states[7].exit_code) == (Phase.ENDED, 0)  # pod gone, index completed
    assert states[12].exit_code == 4
    assert states[20].state == Phase.PENDING and "parallelism" in states[20].reason
    failed_job = {"metadata": {"name": unit.name}, "status": {"conditions": [
        {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
         "message": "Job was active longer than specified deadline"}]}}
    assert "DeadlineExceeded" in unit_states(unit, failed_job, [])[20].reason
    assert unit_states(unit, None, [])[20].state == Phase.UNKNOWN
    cancelled = Unit(unit.name, "job", unit.indices, cancelled=True)
    assert "cancelled" in unit_states(cancelled, None, [])[3].reason
    pods_unit = Unit("orbitfarm-j-1", "pods", [0, 5])
    pod = _pod("orbitfarm-j-1-5", "Succeeded", **_terminated(0, "Completed"))
    pod["metadata"]["labels"]["orbitfarm.io/index"] = "5"
    states = unit_states(pods_unit, None, [pod])
    assert states[5].exit_code == 0 and states[0].state == Phase.UNKNOWN


def test_batch_offsets():
    assert Batch([4, 5, 6]).contiguous and Batch([4, 5, 6]).offset == 4
    assert not Batch([4, 6]).contiguous
