"""A STAND-IN for the kubelet, for tests only: it is not Kubernetes' node agent and runs no containers.

The test control plane (kube-apiserver, kube-controller-manager with the Job controller and the
garbage collector, kube-scheduler: all real, v1.20.2 built from Debian's source) has no kubelet,
so this small agent plays one node:
- registers Node NAME with `--gpus` nvidia.com/gpu (and cpu/memory/pods) capacity, Ready, and
  renews its Lease and Ready heartbeat, so the real scheduler fits pods against that capacity
  and the node lifecycle controller keeps it;
- runs the (first) container's command of every pod the scheduler bound to it as a local
  process on this machine (image ignored; env values and spec.nodeName field refs honoured),
  in its own process group;
- reports phase Running, then Succeeded/Failed with the exit code (terminated reason
  Completed/Error; OOMKilled never happens here), and DeadlineExceeded when the pod's
  activeDeadlineSeconds passes (the process group is killed);
- on deletion (deletionTimestamp, or the pod gone) kills the process group and removes the pod.

    python node_agent.py --server http://127.0.0.1:PORT --node NAME --gpus 2 --cpus 4
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.rest import ApiException

POLL = 0.3
HEARTBEAT = 5.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Running:
    proc: subprocess.Popen
    started: float
    deadline: float | None


class Agent:
    def __init__(self, server: str, node: str, gpus: int, cpus: int) -> None:
        config = client.Configuration()
        config.host = server
        self.api = client.ApiClient(config)
        self.core = client.CoreV1Api(self.api)
        self.coord = client.CoordinationV1Api(self.api)
        self.node = node
        self.capacity = {"cpu": str(cpus), "memory": "16Gi", "pods": "110",
                         "nvidia.com/gpu": str(gpus)}
        self.running: dict[str, Running] = {}  # namespace/name -> process
        self.finished: set[str] = set()
        self.last_beat = 0.0

    # -- the node ----------------------------------------------------------------------------

    def _status(self) -> dict:
        now = _now().isoformat()
        return {"capacity": self.capacity, "allocatable": self.capacity,
                "conditions": [{"type": "Ready", "status": "True", "reason": "StandInReady",
                                "message": "orbitfarm test stand-in node agent (not a kubelet)",
                                "lastHeartbeatTime": now, "lastTransitionTime": now}],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                              {"type": "Hostname", "address": self.node}],
                "nodeInfo": {"kubeletVersion": "v1.20.2-stand-in", "machineID": "", "systemUUID": "",
                             "bootID": "", "kernelVersion": os.uname().release,
                             "osImage": "orbitfarm stand-in", "containerRuntimeVersion": "none://0",
                             "kubeProxyVersion": "", "operatingSystem": "linux",
                             "architecture": "amd64"}}

    def register(self) -> None:
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node, "labels": {"kubernetes.io/hostname": self.node,
                                                           "orbitfarm.io/stand-in": "true"}}}
        try:
            self.core.create_node(body)
        except ApiException as exc:
            if exc.status != 409:
                raise
        self.core.patch_node_status(self.node, {"status": self._status()})
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": self.node, "namespace": "kube-node-lease"},
                 "spec": {"holderIdentity": self.node, "leaseDurationSeconds": 40,
                          "renewTime": _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
        try:
            self.coord.create_namespaced_lease("kube-node-lease", lease)
        except ApiException as exc:
            if exc.status != 409:
                raise

    def heartbeat(self) -> None:
        if time.monotonic() - self.last_beat < HEARTBEAT:
            return
        self.last_beat = time.monotonic()
        self.core.patch_node_status(self.node, {"status": self._status()})
        self.coord.patch_namespaced_lease(
            self.node, "kube-node-lease",
            {"spec": {"renewTime": _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")}})

    # -- pods --------------------------------------------------------------------------------

    def _set_status(self, pod, phase: str, container: dict, reason: str = "",
                    message: str = "") -> None:
        c = pod.spec.containers[0]
        status = {"phase": phase, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
                  "containerStatuses": [{"name": c.name, "image": c.image, "imageID": "",
                                         "ready": phase == "Running", "restartCount": 0,
                                         "state": container}]}
        if phase == "Running":
            status["startTime"] = _now().isoformat()
        if reason:
            status["reason"] = reason
            status["message"] = message
        try:
            self.core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace,
                                                  {"status": status})
        except ApiException as exc:
            if exc.status != 404:
                raise

    def start(self, pod) -> None:
        c = pod.spec.containers[0]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": pod.metadata.name,
               "HOME": os.environ.get("HOME", "/root")}
        for var in c.env or []:
            if var.value is not None:
                env[var.name] = var.value
            elif var.value_from is not None and var.value_from.field_ref is not None:
                if var.value_from.field_ref.field_path == "spec.nodeName":
                    env[var.name] = self.node
        argv = list(c.command or []) + list(c.args or [])
        proc = subprocess.Popen(argv, env=env, start_new_session=True,
                                stdin=subprocess.DEVNULL)
        deadline = pod.spec.active_deadline_seconds
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        self.running[key] = Running(proc, time.monotonic(),
                                    time.monotonic() + deadline if deadline else None)
        self._set_status(pod, "Running", {"running": {"startedAt": _now().isoformat()}})

    def _kill(self, key: str) -> None:
        run = self.running.pop(key, None)
        if run is not None and run.proc.poll() is None:
            try:
                os.killpg(run.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            run.proc.wait()

    def step(self) -> None:
        pods = self.core.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={self.node}").items
        seen = set()
        for pod in pods:
            key = f"{pod.metadata.namespace}/{pod.metadata.name}"
            seen.add(key)
            if pod.metadata.deletion_timestamp is not None:
                self._kill(key)
                try:
                    self.core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                                    grace_period_seconds=0)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
                continue
            if key not in self.running and key not in self.finished \
                    and pod.status.phase == "Pending":
                self.start(pod)
                continue
            run = self.running.get(key)
            if run is None:
                continue
            code = run.proc.poll()
            if code is None and run.deadline is not None and time.monotonic() > run.deadline:
                self._kill(key)
                self.finished.add(key)
                self._set_status(pod, "Failed", {"terminated": {
                    "exitCode": 137, "reason": "Error", "finishedAt": _now().isoformat()}},
                    reason="DeadlineExceeded",
                    message="Pod was active on the node longer than the specified deadline")
            elif code is not None:
                del self.running[key]
                self.finished.add(key)
                exit_code = code if code >= 0 else 128 - code
                self._set_status(pod, "Succeeded" if code == 0 else "Failed", {"terminated": {
                    "exitCode": exit_code, "reason": "Completed" if code == 0 else "Error",
                    "finishedAt": _now().isoformat()}})
        for key in list(self.running):
            if key not in seen:  # deleted outright (grace period 0): stop its process
                self._kill(key)

    def run(self) -> None:
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        self.register()
        while not stop:
            self.heartbeat()
            self.step()
            time.sleep(POLL)
        for key in list(self.running):
            self._kill(key)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--node", default="orbitfarm-stand-in")
    parser.add_argument("--gpus", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=4)
    args = parser.parse_args(argv)
    Agent(args.server, args.node, args.gpus, args.cpus).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
