"""The Kubernetes objects of one submission: pure functions from options and plan indices.

Two shapes, chosen by the server's version (or the profile's `mode`):
- Indexed Job (servers >= 1.24): one Job per batch of tasks, `completionMode: Indexed`,
  completion index i runs plan index offset + i (or the i-th of a listed set, for retries of
  scattered tasks). From 1.29 `backoffLimitPerIndex: 0` makes a failed index fail alone; before
  that `backoffLimit` is the batch size so one bad task cannot fail the rest (the Job controller
  reruns a failed index itself there). From 1.26 a pod failure policy ignores disruptions
  (preemption, eviction): Kubernetes reruns such pods instead of counting them.
- One Pod per task (servers < 1.24, which have no Indexed Jobs: 1.20 silently drops
  completionMode and would run every pod as index 0), owned by a ConfigMap per batch so that
  deleting it lets the garbage collector remove the pods (the owner's uid is only known once it
  is created, so --dry-run's pods carry no ownerReference).
Both run the same shell line, which turns JOB_COMPLETION_INDEX into the plan index, exports it
as ORBITFARM_PLAN_INDEX (the worker reads its task from it) and execs the worker with its
output in the task's log in the job directory; until then (job directory
not mounted, say) messages go to the pod's log, which `orbitfarm logs` reads as a fallback.
Quantities are always strings (see quantities.py). Nothing here talks to a cluster.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

import yaml

from ...files.layout import LOG_DIR
from ...launch.runtime import Runtime, plan_worker_argv
from ...model.frames import format_frame_list
from .options import KubeOptions, Volume
from .quantities import quantity_text

JOB_LABEL = "orbitfarm.io/job"
SUBMISSION_LABEL = "orbitfarm.io/submission"
INDEX_LABEL = "orbitfarm.io/index"
MANAGED_BY = {"app.kubernetes.io/managed-by": "orbitfarm"}
CONTAINER = "worker"
INDEX_VARIABLE = "ORBITFARM_PLAN_INDEX"  # the plan index, exported by the container's line
VOLUME_NAME = "orbitfarm-jobs"
SPARSE_MAX = 10_000  # listed indices travel in an env var: keep it small
_NAME_CHARS = re.compile(r"[^a-z0-9-]+")


@dataclass
class Batch:
    """Plan indices that one Kubernetes object (a Job, or a set of pods) runs."""

    indices: list[int]

    @property
    def offset(self) -> int:
        return self.indices[0]

    @property
    def contiguous(self) -> bool:
        return self.indices == list(range(self.offset, self.offset + len(self.indices)))


def split_batches(indices: list[int], max_completions: int) -> list[Batch]:
    """Sorted plan indices in batches of at most max_completions (SPARSE_MAX when scattered)."""
    ordered = sorted(set(indices))
    batches: list[Batch] = []
    start = 0
    while start < len(ordered):
        run = ordered[start:start + max_completions]
        batch = Batch(run)
        if not batch.contiguous and len(run) > SPARSE_MAX:
            batch = Batch(run[:SPARSE_MAX])
        batches.append(batch)
        start += len(batch.indices)
    return batches


def object_name(job_id: str, number: int) -> str:
    """A DNS-1123 name for submission `number` of a job (also a valid label value)."""
    base = _NAME_CHARS.sub("-", f"orbitfarm-{job_id}".lower()).strip("-")
    suffix = f"-{number}"
    return base[:63 - len(suffix) - 6].rstrip("-") + suffix  # room for a pod's "-NNNNN"


def use_indexed(options: KubeOptions, server: tuple[int, int]) -> bool:
    """Indexed Jobs where the server has them (1.24: GA), unless the profile says otherwise."""
    if options.mode != "auto":
        return options.mode == "indexed"
    return server >= (1, 24)


def container_script(*, job_dir: str, plan_file: str, code_dir: str, runtime: Runtime,
                     id_width: int, setup: list[str]) -> str:
    """The container's `sh -c` line: completion index -> plan index -> worker."""
    q = shlex.quote
    worker = shlex.join(plan_worker_argv(runtime, code_dir, plan_file, INDEX_VARIABLE, 0))
    lines = [
        "set -u",
        'if [ -n "${ORBITFARM_PLAN_INDICES:-}" ]; then',
        '  set -- $ORBITFARM_PLAN_INDICES; shift "$JOB_COMPLETION_INDEX"; INDEX=$1',
        "else",
        "  INDEX=$((ORBITFARM_PLAN_OFFSET + JOB_COMPLETION_INDEX))",
        "fi",
        f"TASK=$(printf 't%0{id_width}d' \"$INDEX\")",
        f"JOB_DIR={q(job_dir)}",
        'echo "orbitfarm: task $TASK (plan index $INDEX) in pod ${HOSTNAME:-?}"',
        'cd "$JOB_DIR" || { echo "orbitfarm: job directory $JOB_DIR is not mounted"; exit 2; }',
        f'exec >>"$JOB_DIR/{LOG_DIR}/$TASK.log" 2>&1',
        'echo "orbitfarm: task $TASK (plan index $INDEX) in pod ${HOSTNAME:-?} on node '
        '${NODE_NAME:-?}"',
        *setup,
        f"export PYTHONUNBUFFERED=1 PYTHONIOENCODING=utf-8 {INDEX_VARIABLE}=$INDEX",
        f"exec {worker}",
    ]
    return "\n".join(lines) + "\n"


def _volume(volume: Volume) -> dict[str, Any]:
    if volume.kind == "claim":
        source: dict[str, Any] = {"persistentVolumeClaim": {"claimName": volume.source,
                                                            "readOnly": volume.read_only}}
    elif volume.kind == "nfs":
        server, _, path = volume.source.partition(":")
        source = {"nfs": {"server": server, "path": path, "readOnly": volume.read_only}}
    else:
        source = {"hostPath": {"path": volume.source, "type": "Directory"}}
    return {"name": VOLUME_NAME, **source}


def resources(options: KubeOptions, mem: str | None = None) -> dict[str, dict[str, str]]:
    """requests/limits of the worker container (mem: an escalated memory for retries)."""
    mem = mem or options.mem
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if options.cpus is not None:
        requests["cpu"] = quantity_text(options.cpus)
    if options.cpus_limit is not None:
        limits["cpu"] = quantity_text(options.cpus_limit)
    if mem is not None:
        requests["memory"] = quantity_text(mem)
    if options.mem_limit is not None or mem is not None:
        limits["memory"] = quantity_text(options.mem_limit or mem or "")
    if str(options.gpus) not in ("0", ""):
        limits[options.gpu_resource] = quantity_text(options.gpus)
    found: dict[str, dict[str, str]] = {}
    if requests:
        found["requests"] = requests
    if limits:
        found["limits"] = limits
    return found


def pod_spec(options: KubeOptions, script: str, env: dict[str, str],
             mem: str | None = None) -> dict[str, Any]:
    """The pod template's spec: one worker container, restartPolicy Never."""
    container: dict[str, Any] = {
        "name": CONTAINER, "image": options.image, "command": ["/bin/sh", "-c", script],
        "env": [{"name": k, "value": v} for k, v in env.items()]
        + [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
    }
    res = resources(options, mem)
    if res:
        container["resources"] = res
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    if options.volume is not None:
        container["volumeMounts"] = [{"name": VOLUME_NAME, "mountPath": options.volume.path,
                                      "readOnly": options.volume.read_only}]
        spec["volumes"] = [_volume(options.volume)]
    if options.time_seconds is not None:
        spec["activeDeadlineSeconds"] = options.time_seconds
    if options.node_selector:
        spec["nodeSelector"] = {str(k): str(v) for k, v in options.node_selector.items()}
    if options.tolerations:
        spec["tolerations"] = [dict(t) for t in options.tolerations]
    if options.priority_class:
        spec["priorityClassName"] = options.priority_class
    if options.service_account:
        spec["serviceAccountName"] = options.service_account
    if options.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in options.image_pull_secrets]
    return spec


def _labels(options: KubeOptions, job_id: str, number: int) -> dict[str, str]:
    return {**{str(k): str(v) for k, v in options.labels.items()}, **MANAGED_BY,
            JOB_LABEL: job_id, SUBMISSION_LABEL: str(number)}


def _index_env(batch: Batch) -> dict[str, str]:
    if batch.contiguous:
        return {"ORBITFARM_PLAN_OFFSET": str(batch.offset)}
    return {"ORBITFARM_PLAN_INDICES": " ".join(str(i) for i in batch.indices),
            "ORBITFARM_PLAN_OFFSET": "0"}


def indexed_job(options: KubeOptions, *, name: str, job_id: str, number: int, attempt: int,
                batch: Batch, script: str, server: tuple[int, int],
                mem: str | None = None) -> dict[str, Any]:
    """One Indexed Job running the batch's tasks."""
    labels = _labels(options, job_id, number)
    count = len(batch.indices)
    spec: dict[str, Any] = {
        "completionMode": "Indexed",
        "completions": count,
        "parallelism": min(options.parallelism or count, count),
        "template": {"metadata": {"labels": dict(labels)},
                     "spec": pod_spec(options, script, _index_env(batch), mem)},
    }
    if server >= (1, 29):
        spec["backoffLimitPerIndex"] = 0
    else:
        spec["backoffLimit"] = count
    if server >= (1, 26):
        spec["podFailurePolicy"] = {"rules": [
            {"action": "Ignore",
             "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": options.namespace, "labels": labels,
                     "annotations": {"orbitfarm.io/plan-indices": format_frame_list(batch.indices),
                                     "orbitfarm.io/attempt": str(attempt)}},
        "spec": spec,
    }


def task_pods(options: KubeOptions, *, name: str, job_id: str, number: int, attempt: int,
              batch: Batch, script: str, mem: str | None = None) -> list[dict[str, Any]]:
    """One bare Pod per task (servers without Indexed Jobs)."""
    pods = []
    for index in batch.indices:
        labels = {**_labels(options, job_id, number), INDEX_LABEL: str(index)}
        env = {"ORBITFARM_PLAN_OFFSET": str(index), "JOB_COMPLETION_INDEX": "0"}
        pods.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{name}-{index}", "namespace": options.namespace,
                         "labels": labels, "annotations": {"orbitfarm.io/attempt": str(attempt)}},
            "spec": pod_spec(options, script, env, mem),
        })
    return pods


def owner_config_map(options: KubeOptions, *, name: str, job_id: str, number: int,
                     batch: Batch) -> dict[str, Any]:
    """The parent of a batch's bare pods: deleting it (background propagation) lets the
    garbage collector delete them, as a Job's pods follow their Job. It also records the batch."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": options.namespace,
                         "labels": _labels(options, job_id, number)},
            "data": {"plan-indices": format_frame_list(batch.indices)}}


def owned_by(pod: dict[str, Any], owner: dict[str, Any], uid: str) -> dict[str, Any]:
    """`pod` with an ownerReference to the created `owner` (whose uid the server assigned)."""
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
           "name": owner["metadata"]["name"], "uid": uid}
    return {**pod, "metadata": {**pod["metadata"], "ownerReferences": [ref]}}


def to_yaml(manifests: list[dict[str, Any]]) -> str:
    """Manifests as one multi-document YAML text (what --dry-run writes)."""
    return yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False, width=100)
