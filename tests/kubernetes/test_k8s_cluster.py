"""The Kubernetes target against a real v1.20 control plane (tests/kubernetes/controlplane.sh).

Real: etcd, kube-apiserver, the scheduler (GPU fitting), the Job controller and the garbage
collector, all v1.20.2. NOT real: the node. There is no kubelet here; a STAND-IN node agent
(tests/kubernetes/node_agent.py) registers a node with 2 nvidia.com/gpu and runs each bound pod's
command as a local process, reporting phase, exit code and reason as a kubelet would. v1.20 has
no Indexed Jobs, so the target picks its one-pod-per-task mode from the server's version.
Tiny renders (48x36, 2 samples) with the real bpy wheel prove the pods ran the right tasks.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from orbitfarm.submitter import jobs
from orbitfarm.submitter.files.imageio import read_png
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.model.states import EndReason, Phase
from orbitfarm.submitter.targets import make_target

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clusters import COLORS, cubes, submit_tiny  # noqa: E402  (tests/clusters.py)

pytestmark = pytest.mark.kubernetes_cluster

JOB_LABEL = "orbitfarm.io/job"


@pytest.fixture(autouse=True)
def _own_jobs_index(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "orbitfarm-home"))


def _submit(python: str, scenes: Path, out: Path, frames: int = 2, **options) -> JobDir:
    return submit_tiny("kubernetes", scenes, out, frames, **{
        "python": python, "image": "stand-in/none:1", "gpus": 1, **options})


def _until(what: str, check, timeout: float = 120, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(interval)


def _pods(job: JobDir) -> list:
    from kubernetes import client, config

    core = client.CoreV1Api(config.new_client_from_config())
    return core.list_namespaced_pod("default", label_selector=f"{JOB_LABEL}={job.id}").items


def _check_cube(out: Path, color: tuple[float, float, float], frames: list[int]) -> None:
    channel = max(range(3), key=lambda c: color[c])
    for frame in frames:
        centre = read_png(out / "rgb" / f"{frame:04d}.png").pixel(24, 18)
        assert centre[channel] > 200 and sum(centre) - centre[channel] < 20, (frame, centre)
    assert len(json.loads((out / "transforms.json").read_text())["frames"]) == len(frames)


def test_renders_one_pod_per_task_on_a_1_20_server(k8s_plane, bpy_python, tmp_path):
    """Auto mode on v1.20: ConfigMap-owned pods, one per task; the pods really render; the
    pod log is readable through the API server (the stand-in serves /containerLogs)."""
    scenes = cubes(bpy_python, tmp_path / "scenes", ["red", "green"])
    job = _submit(bpy_python, scenes, tmp_path / "out")
    record = job.target_record()
    assert record["server"] == "1.20"
    assert [u["kind"] for s in record["submissions"] for u in s["units"]] == ["pods"]
    manifests = (job.path / "kubernetes" / "submission-1.yaml").read_text()
    assert "kind: ConfigMap" in manifests and "completionMode" not in manifests
    result = jobs.wait(job, interval=0.5, timeout=300)
    assert result.finished and result.ok, (result.tasks, jobs.logs(job, tail=30))
    _check_cube(tmp_path / "out" / "red", COLORS["red"], [1, 2])
    _check_cube(tmp_path / "out" / "green", COLORS["green"], [1, 2])
    # The worker's state is written just before its process ends: the pods follow.
    def succeeded():
        found = _pods(job)
        return found if {p.status.phase for p in found} == {"Succeeded"} else None

    pods = _until("pods succeeded", succeeded)
    assert len(pods) == 2
    assert all(p.spec.node_name == "orbitfarm-standin" for p in pods)
    assert all(p.metadata.owner_references[0].kind == "ConfigMap" for p in pods)
    target = make_target(job.spec.target)
    logs = target.extra_logs(job, job.task_ids()[0])
    assert logs and "orbitfarm: task t0" in logs[0].read_text()


def test_gpu_fit_pending_then_cancel_with_garbage_collection(k8s_plane, bpy_python, tmp_path):
    """3 GPUs on a 2-GPU node: the real scheduler's reason is reported; a 1-GPU task runs;
    cancel deletes the owners (background propagation) and the garbage collector the pods,
    whose local processes the stand-in kills."""
    scenes = cubes(bpy_python, tmp_path / "scenes", ["red"])
    big = _submit(bpy_python, scenes, tmp_path / "big", gpus=3)
    small = _submit(bpy_python, scenes, tmp_path / "small", setup=["sleep 600"])
    target = make_target(big.spec.target)
    pending = _until("scheduler's reason", lambda: (
        s if (s := target.poll(big, big.task_ids())[big.task_ids()[0]]).reason
        and "Insufficient nvidia.com/gpu" in s.reason else None))
    assert pending.state == Phase.PENDING, pending
    running = _until("running", lambda: (
        s if (s := target.poll(small, small.task_ids())[small.task_ids()[0]]).state
        == Phase.RUNNING else None))
    assert running.native_id
    for job in (big, small):
        assert sorted(jobs.cancel(job)) == job.task_ids()
        _until("pods garbage-collected", lambda j=job: not _pods(j), timeout=90)
        status = jobs.status(job)
        assert status.finished and status.tasks == {"cancelled": 1}, status.tasks
    # The sleeping worker's local process is gone too (the stand-in killed it on deletion).
    logs = Path(k8s_plane.state, "agent", "logs")
    assert any(running.native_id in p.name for p in logs.iterdir())


def test_failure_exit_code_and_retry_of_failed_tasks_only(k8s_plane, bpy_python, tmp_path):
    """t1 exits 3 on its first try: status reads `exit code 3`; `wait --retry` resubmits t1
    alone (a new pod, a new submission) and the job finishes with every frame right."""
    scenes = cubes(bpy_python, tmp_path / "scenes", ["green"])
    first_try = ('[ -e "$JOB_DIR/tried.$INDEX" ] || { touch "$JOB_DIR/tried.$INDEX"; '
                 '[ "$INDEX" = 1 ] && exit 3; }; true')
    job = _submit(bpy_python, scenes, tmp_path / "out", frames=3, chunk=1, setup=[first_try],
                  mem="256Mi", escalate_mem=2)
    target = make_target(job.spec.target)

    def all_ended():
        seen = target.poll(job, job.task_ids())
        return seen if all(s.state == Phase.ENDED for s in seen.values()) else None

    seen = _until("first attempt ends", all_ended, timeout=300)
    failed = seen["t00001"]
    assert (failed.exit_code, failed.end) == (3, EndReason.EXITED), failed
    assert failed.reason.startswith("exit code 3"), failed
    assert seen["t00000"].exit_code == 0 and seen["t00002"].exit_code == 0
    assert jobs.status(job).retryable == ["t00001"]
    result = jobs.wait(job, interval=0.5, timeout=300, retries=1)
    assert result.ok, jobs.logs(job, tail=30)
    retry = job.target_record()["submissions"][1]
    assert (retry["tasks"], retry["attempt"], retry["mem"]) == (["t00001"], 2, "512Mi")
    assert sum(1 for p in _pods(job) if p.metadata.labels["orbitfarm.io/index"] == "1") == 2
    _check_cube(tmp_path / "out" / "green", COLORS["green"], [1, 2, 3])


def test_time_limit_reads_as_deadline_exceeded(k8s_plane, bpy_python, tmp_path):
    """`time:` becomes the pod's activeDeadlineSeconds; a task still running then is killed
    and reads as a timeout (the stand-in enforces the deadline as the kubelet does)."""
    scenes = cubes(bpy_python, tmp_path / "scenes", ["red"])
    job = _submit(bpy_python, scenes, tmp_path / "out", setup=["sleep 600"], time="00:00:03")
    target = make_target(job.spec.target)
    state = _until("timed out", lambda: (
        s if (s := target.poll(job, job.task_ids())[job.task_ids()[0]]).state == Phase.ENDED
        else None), timeout=90)
    assert state.end == EndReason.TIMEOUT and state.reason.startswith("DeadlineExceeded"), state
    status = jobs.status(job)
    assert status.finished and status.tasks == {"failed": 1}, status.tasks
