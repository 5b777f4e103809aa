"""The Kubernetes target: Indexed Jobs (or one pod per task on old servers) through the official client.

Manifests come from manifests.py (pure), are written to JOBDIR/kubernetes/submission-N.yaml
before anything is created (the same files `--dry-run` leaves for review or GitOps), and every
submission is recorded in JOBDIR/target.json: its objects and the plan indices each runs. A
poll is two list calls whatever the job's size: the job's Jobs and its pods, by label.
Quantities are sent as strings; deletes pass their options as query parameters, never as a
DeleteOptions body (with a body the server ignores the query parameters). Profile keys: see
options.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.atomic import atomic_write_text
from ...files.layout import KUBERNETES_DIR as K8S_DIR
from ...launch.runtime import Runtime
from ...model.frames import format_frame_list
from ...model.states import Phase
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cluster_plan import cluster_plan_file
from .manifests import (
    CONTAINER,
    INDEX_VARIABLE,
    JOB_LABEL,
    container_script,
    indexed_job,
    object_name,
    owned_by,
    owner_config_map,
    split_batches,
    task_pods,
    to_yaml,
    use_indexed,
)
from .options import KubeOptions, parse_server_version, path_map
from .quantities import QuantityError, scale_memory
from .status import Unit, unit_states

if TYPE_CHECKING:
    from ...files.jobdir import JobDir


class KubernetesTarget(Target):
    """Tasks as completion indexes of Indexed Jobs (or bare pods) on a Kubernetes cluster."""

    kind = "kubernetes"
    index_variable = INDEX_VARIABLE
    _client: Any = None

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        return [
            TargetOption(("--k8s-context",), "context", "kubeconfig context (default: current)",
                         metavar="NAME"),
            TargetOption(("--k8s-namespace",), "namespace", "namespace (default: default)",
                         metavar="NAME"),
            TargetOption(("--k8s-image",), "image", "the Blender or Python+bpy image",
                         metavar="IMAGE"),
            TargetOption(("--k8s-gpus",), "gpus", "GPUs per task (default 1; 0 for none)",
                         metavar="N"),
            TargetOption(("--k8s-parallelism",), "parallelism", "at most N tasks at once",
                         type=int, metavar="N"),
        ]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        KubeOptions.from_profile(profile)

    @property
    def options(self) -> KubeOptions:
        return KubeOptions.from_profile(self.profile)

    @classmethod
    def escalated(cls, profile: dict[str, Any], attempt: int) -> dict[str, Any]:
        """The profile for retry `attempt` (2, 3, ...): memory times escalate_mem per retry."""
        factor = float(profile.get("escalate_mem") or 1)
        if attempt < 2 or factor == 1 or not profile.get("mem"):
            return profile
        try:
            return dict(profile, mem=scale_memory(profile["mem"], factor ** (attempt - 1)))
        except QuantityError as exc:
            raise TargetError(f"escalate_mem: {exc}") from None

    def runtime(self) -> Runtime:
        opts = self.options
        if opts.python:
            return Runtime("python", opts.python)
        return Runtime("blender", opts.blender or "blender")

    def describe(self) -> str:
        opts = self.options
        where = self.profile.get("context") or "current context"
        gpus = f"{opts.gpus} {opts.gpu_resource}" if str(opts.gpus) != "0" else "no GPU"
        return f"kubernetes: {where}, namespace {opts.namespace}, {opts.image}, {gpus}"

    # -- the cluster ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """(CoreV1Api, BatchV1Api, VersionApi) for the profile's kubeconfig context."""
        if self._client is None:
            try:
                from kubernetes import client, config
            except ImportError:
                raise TargetError("the kubernetes target needs the official client: "
                                  "pip install kubernetes") from None
            try:
                api = config.new_client_from_config(context=self.profile.get("context"))
            except Exception as exc:  # noqa: BLE001 (config errors come in many types)
                try:
                    config.load_incluster_config()
                    api = client.ApiClient()
                except Exception:  # noqa: BLE001
                    raise TargetError(f"no usable kubeconfig (context "
                                      f"{self.profile.get('context') or 'current'}): {exc}"
                                      ) from None
            self._client = (client.CoreV1Api(api), client.BatchV1Api(api), client.VersionApi(api))
        return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 (ApiException, urllib3 errors)
            status = getattr(exc, "status", None)
            if status == 404:
                return None
            body = str(getattr(exc, "body", "") or exc)[:400]
            raise TargetError(f"Kubernetes {what} failed: {body}") from None

    def server_version(self) -> tuple[int, int]:
        info = self._call("version", self.client[2].get_code)
        minor = "".join(c for c in str(info.minor) if c.isdigit())
        return int("".join(c for c in str(info.major) if c.isdigit())), int(minor)

    def check(self) -> None:
        self.options  # noqa: B018 (validates the profile)
        self.server_version()

    # -- manifests -------------------------------------------------------------------------------

    def build(self, job: JobDir, task_ids: list[str], number: int, attempt: int,
              server: tuple[int, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(manifests, unit records) of submission `number` for a server of that version."""
        profile = self.escalated(self.profile, attempt)
        opts = KubeOptions.from_profile(profile)
        mapping = path_map(self.profile)
        script = container_script(job_dir=mapping.to_remote(job.path),
                                  plan_file=cluster_plan_file(job, mapping),
                                  code_dir=mapping.to_remote(job.code_dir),
                                  runtime=self.runtime(), id_width=job.plan.task_id_digits,
                                  setup=opts.setup)
        indexed = use_indexed(opts, server)
        manifests: list[dict[str, Any]] = []
        units: list[dict[str, Any]] = []
        batches = split_batches([job.index_of(t) for t in task_ids], opts.max_completions)
        for part, batch in enumerate(batches, start=1):
            name = object_name(job.id, number if len(batches) == 1 else number * 1000 + part)
            if indexed:
                manifests.append(indexed_job(opts, name=name, job_id=job.id, number=number,
                                             attempt=attempt, batch=batch, script=script,
                                             server=server, mem=opts.mem))
            else:
                manifests.append(owner_config_map(opts, name=name, job_id=job.id,
                                                  number=number, batch=batch))
                manifests.extend(task_pods(opts, name=name, job_id=job.id, number=number,
                                           attempt=attempt, batch=batch, script=script,
                                           mem=opts.mem))
            units.append({"name": name, "kind": "job" if indexed else "pods",
                          "indices": format_frame_list(batch.indices)})
        return manifests, units

    def write_manifests(self, job: JobDir, number: int,
                        manifests: list[dict[str, Any]]) -> Path:
        folder = job.path / K8S_DIR
        folder.mkdir(exist_ok=True)
        path = folder / f"submission-{number}.yaml"
        atomic_write_text(path, to_yaml(manifests))
        return path

    def dry_run(self, job: JobDir, attempts: dict[str, int]) -> list[Path]:
        """Write the manifests a submission would create; contact no cluster."""
        server = parse_server_version(self.profile.get("server_version"))
        number = len(self._record(job)["submissions"]) + 1
        manifests, _ = self.build(job, list(attempts), number, max(attempts.values()), server)
        return [self.write_manifests(job, number, manifests)]

    # -- submission --------------------------------------------------------------------------

    def _record(self, job: JobDir) -> dict[str, Any]:
        record = job.target_record()
        if record.get("kind") not in (None, self.kind):
            raise TargetError(f"job {job.path} was submitted to a {record['kind']!r} target, "
                              "not Kubernetes")
        record.setdefault("kind", self.kind)
        record.setdefault("submissions", [])
        return record

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        if not attempts:
            return
        record = self._record(job)
        opts = self.options
        server = self.server_version()
        record.update(namespace=opts.namespace, context=self.profile.get("context"),
                      server=f"{server[0]}.{server[1]}")
        by_attempt: dict[int, list[str]] = {}
        for t, attempt in attempts.items():
            by_attempt.setdefault(max(1, attempt), []).append(t)
        job.logs_dir.mkdir(exist_ok=True)
        core, batch, _ = self.client
        try:
            for attempt, ids in sorted(by_attempt.items()):
                number = len(record["submissions"]) + 1
                manifests, units = self.build(job, ids, number, attempt, server)
                self.write_manifests(job, number, manifests)
                sub = {"number": number, "attempt": attempt, "tasks": ids, "units": units,
                       "submitted": time.time(),
                       "mem": self.escalated(self.profile, attempt).get("mem")}
                record["submissions"].append(sub)
                owner: tuple[dict[str, Any], str] | None = None
                for manifest in manifests:
                    kind = manifest["kind"]
                    create = {"Job": batch.create_namespaced_job,
                              "ConfigMap": core.create_namespaced_config_map,
                              "Pod": core.create_namespaced_pod}[kind]
                    if kind == "Pod" and owner is not None:
                        manifest = owned_by(manifest, owner[0], owner[1])
                    created = self._call(f"create {kind} {manifest['metadata']['name']}",
                                         create, opts.namespace, manifest)
                    if kind == "ConfigMap":
                        owner = (manifest, created.metadata.uid)
        finally:
            job.save_target_record(record)

    # -- tracking ----------------------------------------------------------------------------

    def _list(self, job: JobDir) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        """Jobs by name and pods of this orbitfarm job: the two list calls of a poll."""
        core, batch, _ = self.client
        selector = f"{JOB_LABEL}={job.id}"
        namespace = self._record(job).get("namespace") or self.options.namespace
        raw_jobs = self._call("list jobs", batch.list_namespaced_job, namespace,
                              label_selector=selector, _preload_content=False)
        raw_pods = self._call("list pods", core.list_namespaced_pod, namespace,
                              label_selector=selector, _preload_content=False)
        jobs = json.loads(raw_jobs.data)["items"] if raw_jobs is not None else []
        pods = json.loads(raw_pods.data)["items"] if raw_pods is not None else []
        return {j["metadata"]["name"]: j for j in jobs}, pods

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        record = self._record(job)
        latest: dict[str, int] = {}
        for sub in record["submissions"]:
            for t in sub["tasks"]:
                latest[t] = sub["number"]
        wanted = {latest[t] for t in task_ids if t in latest}
        states: dict[int, SchedulerState] = {}
        if wanted:
            jobs, pods = self._list(job)
            for sub in record["submissions"]:
                if sub["number"] not in wanted:
                    continue
                mine = [p for p in pods if (p["metadata"].get("labels") or {})
                        .get("orbitfarm.io/submission") == str(sub["number"])]
                for unit in sub["units"]:
                    u = Unit(unit["name"], unit["kind"], _expand(unit["indices"]),
                             cancelled=bool(sub.get("cancelled")),
                             cancelled_indices=frozenset(sub.get("cancelled_indices", [])))
                    owned = [p for p in mine if p["metadata"]["name"].startswith(u.name + "-")]
                    for index, state in unit_states(u, jobs.get(u.name), owned).items():
                        if latest.get(job.plan.task_id(index)) == sub["number"]:
                            states[index] = state
        result: dict[str, SchedulerState] = {}
        for t in task_ids:
            found = states.get(job.index_of(t))
            result[t] = found or SchedulerState(Phase.UNKNOWN, reason="never submitted to Kubernetes")
        return result

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """The pod's own log (kubectl logs) of the task's latest pod, saved in the job dir."""
        state = self.poll(job, [task_id])[task_id]
        if not state.native_id:
            return []
        core, _, _ = self.client
        namespace = self._record(job).get("namespace") or self.options.namespace
        text = self._call("read pod log", core.read_namespaced_pod_log, state.native_id,
                          namespace, container=CONTAINER, tail_lines=500)
        if not text:
            return []
        path = job.path / K8S_DIR / f"{task_id}.pod.log"
        atomic_write_text(path, str(text))
        return [path]

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        """Delete the job's objects (background propagation: the pods follow their Job)."""
        record = self._record(job)
        core, batch, _ = self.client
        namespace = record.get("namespace") or self.options.namespace
        if task_ids is None:
            for sub in record["submissions"]:
                sub["cancelled"] = time.time()
            job.save_target_record(record)
            selector = f"{JOB_LABEL}={job.id}"
            # The owners go; the garbage collector deletes their pods (background propagation).
            self._call("delete jobs", batch.delete_collection_namespaced_job, namespace,
                       label_selector=selector, propagation_policy="Background")
            self._call("delete pod owners", core.delete_collection_namespaced_config_map,
                       namespace, label_selector=selector, propagation_policy="Background")
            return
        # Single tasks: delete their pods (an Indexed Job with backoffLimitPerIndex 0 counts
        # the index failed and does not re-run it); the job directory already says cancelled.
        # Before 1.29 (backoffLimit) the Job controller may start the index again.
        units = {u["name"] for sub in record["submissions"] for u in sub["units"]}
        states = self.poll(job, task_ids)
        latest = {t: sub for sub in record["submissions"] for t in sub["tasks"]}
        for t in task_ids:
            if t in latest:
                latest[t].setdefault("cancelled_indices", []).append(job.index_of(t))
        job.save_target_record(record)
        for state in states.values():
            if state.native_id and state.native_id not in units:  # a pod, not a whole Job
                self._call("delete pod", core.delete_namespaced_pod, state.native_id, namespace)


def _expand(spec: str) -> list[int]:
    out: list[int] = []
    for part in str(spec).split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out
