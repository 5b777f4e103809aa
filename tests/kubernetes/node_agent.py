"""A STAND-IN Kubernetes node for the tests' real v1.20 control plane: not a kubelet.

There is no kubelet (nor container runtime) on this machine, so this agent plays the node's part
just far enough for orbitfarm's Kubernetes target to be tested against a real API server, real
scheduler, Job controller and garbage collector:
- registers a Node with cpu/memory/pods and `nvidia.com/gpu` capacity (the real scheduler fits
  pods against it) and keeps it Ready (node status heartbeat + its Lease in kube-node-lease);
- runs each pod bound to it as a LOCAL PROCESS: the first container's command + args with the
  container's env (value and fieldRef spec.nodeName / metadata.name / metadata.namespace);
  images, volumes, limits and every other container feature are ignored;
- reports phase, container state, exit code and reason (Completed / Error; DeadlineExceeded for
  activeDeadlineSeconds), as the kubelet would;
- kills a pod's process group when the pod is deleted, then finalizes the deletion;
- serves /containerLogs over HTTPS like the kubelet, so `read_namespaced_pod_log` works.

Run by tests/kubernetes/controlplane.sh; stops (killing what it runs) on SIGTERM.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

NODE = "orbitfarm-standin"
LEASE_NAMESPACE = "kube-node-lease"
GRACE_SECONDS = 5


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Running:
    """One pod's local process."""

    uid: str
    namespace: str
    name: str
    container: str
    proc: subprocess.Popen[bytes]
    log: Path
    started: str
    started_at: float
    deadline: float | None
    killed_for: str = ""  # "deleted" | "deadline"
    reported: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Agent:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        api = config.new_client_from_config(config_file=args.kubeconfig)
        self.core = client.CoreV1Api(api)
        self.coord = client.CoordinationV1Api(api)
        self.state = Path(args.state)
        (self.state / "logs").mkdir(parents=True, exist_ok=True)
        self.running: dict[str, Running] = {}  # pod uid -> process
        self.done: set[str] = set()  # uids whose end was reported
        self.stopping = threading.Event()
        self.last_heartbeat = 0.0

    # -- the node ----------------------------------------------------------------------------

    def node_status(self) -> dict[str, Any]:
        capacity = {"cpu": str(self.args.cpus), "memory": self.args.memory, "pods": "110",
                    "nvidia.com/gpu": str(self.args.gpus)}
        stamp = now()
        return {
            "capacity": capacity, "allocatable": capacity,
            "conditions": [{"type": "Ready", "status": "True", "reason": "StandInReady",
                            "message": "orbitfarm test stand-in node agent (not a kubelet)",
                            "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": NODE}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.args.port}},
            "nodeInfo": {"kubeletVersion": "v1.20.2-orbitfarm-standin", "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": "amd64",
                         "containerRuntimeVersion": "standin://local-processes",
                         "osImage": "stand-in", "kernelVersion": os.uname().release,
                         "machineID": "", "systemUUID": "", "bootID": ""},
        }

    def register(self) -> None:
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE,
                                                      "kubernetes.io/os": "linux",
                                                      "orbitfarm.io/stand-in": "true"}}}
        try:
            self.core.create_node(body)
        except ApiException as exc:
            if exc.status != 409:
                raise
        self.heartbeat()

    def heartbeat(self) -> None:
        self.core.patch_node_status(NODE, {"status": self.node_status()})
        node = self.core.read_node(NODE)
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": NODE, "namespace": LEASE_NAMESPACE,
                              "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                                   "name": NODE, "uid": node.metadata.uid}]},
                 "spec": {"holderIdentity": NODE, "leaseDurationSeconds": 40,
                          "renewTime": now_micro()}}
        try:
            self.coord.patch_namespaced_lease(NODE, LEASE_NAMESPACE,
                                              {"spec": {"renewTime": now_micro()}})
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.coord.create_namespaced_lease(LEASE_NAMESPACE, lease)
        self.last_heartbeat = time.monotonic()

    def heartbeat_due(self) -> None:
        if time.monotonic() - self.last_heartbeat > 10:
            self.heartbeat()

    # -- pods --------------------------------------------------------------------------------

    def env_of(self, pod: Any, container: Any) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": pod.metadata.name,
               "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
        fields = {"spec.nodeName": NODE, "metadata.name": pod.metadata.name,
                  "metadata.namespace": pod.metadata.namespace}
        for var in container.env or []:
            if var.value is not None:
                env[var.name] = var.value
            elif var.value_from is not None and var.value_from.field_ref is not None:
                env[var.name] = fields.get(var.value_from.field_ref.field_path, "")
        return env

    def start_pod(self, pod: Any) -> None:
        container = pod.spec.containers[0]
        argv = list(container.command or []) + list(container.args or [])
        log = self.state / "logs" / f"{pod.metadata.namespace}_{pod.metadata.name}.log"
        started = now()
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, env=self.env_of(pod, container), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=container.working_dir or str(self.state),
                                    start_new_session=True)
        deadline = pod.spec.active_deadline_seconds
        run = Running(pod.metadata.uid, pod.metadata.namespace, pod.metadata.name,
                      container.name, proc, log, started, time.monotonic(),
                      time.monotonic() + deadline if deadline else None)
        self.running[run.uid] = run
        self.patch_status(run, {"phase": "Running", "startTime": started,
                                "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
                                "conditions": self.conditions(True),
                                "containerStatuses": [self.container_status(
                                    run, {"running": {"startedAt": started}}, ready=True)]})

    @staticmethod
    def conditions(ready: bool) -> list[dict[str, Any]]:
        stamp = now()
        value = "True" if ready else "False"
        return [{"type": t, "status": value if t in ("Ready", "ContainersReady") else "True",
                 "lastTransitionTime": stamp}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]

    @staticmethod
    def container_status(run: Running, state: dict[str, Any], ready: bool) -> dict[str, Any]:
        return {"name": run.container, "state": state, "ready": ready, "restartCount": 0,
                "image": "stand-in", "imageID": "", "started": ready}

    def patch_status(self, run: Running, status: dict[str, Any]) -> None:
        try:
            self.core.patch_namespaced_pod_status(run.name, run.namespace, {"status": status})
        except ApiException as exc:
            if exc.status != 404:
                print(f"status of {run.name}: {exc.status} {exc.reason}", flush=True)

    def kill(self, run: Running, why: str) -> None:
        if run.proc.poll() is not None or run.killed_for:
            return
        run.killed_for = why
        with _quiet():
            os.killpg(run.proc.pid, signal.SIGTERM)
        run.extra["term_at"] = time.monotonic()

    def finish(self, run: Running) -> None:
        """Report the end of a process (once)."""
        code = run.proc.returncode
        signal_no = -code if code < 0 else None
        exit_code = 128 + signal_no if signal_no else code
        terminated: dict[str, Any] = {"exitCode": exit_code, "startedAt": run.started,
                                      "finishedAt": now(),
                                      "reason": "Completed" if exit_code == 0 else "Error"}
        if signal_no:
            terminated["signal"] = signal_no
        status: dict[str, Any] = {"phase": "Succeeded" if exit_code == 0 else "Failed",
                                  "conditions": self.conditions(False),
                                  "containerStatuses": [self.container_status(
                                      run, {"terminated": terminated}, ready=False)]}
        if run.killed_for == "deadline":
            status.update(phase="Failed", reason="DeadlineExceeded",
                          message="Pod was active on the node longer than the specified deadline")
        if run.killed_for != "deleted":
            self.patch_status(run, status)
        run.reported = True

    def sync(self) -> None:
        pods = self.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE}").items
        seen = set()
        for pod in pods:
            uid = pod.metadata.uid
            seen.add(uid)
            run = self.running.get(uid)
            if pod.metadata.deletion_timestamp is not None:
                if run is not None and run.proc.poll() is None:
                    self.kill(run, "deleted")
                    continue
                # Nothing runs (any more): the kubelet's last step of a graceful delete.
                with _quiet():
                    self.core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                                    grace_period_seconds=0)
                continue
            if run is None and uid not in self.done and pod.status.phase == "Pending":
                try:
                    self.start_pod(pod)
                except OSError as exc:
                    self.fail_to_start(pod, str(exc))
        for uid, run in list(self.running.items()):
            if uid not in seen:  # deleted at once (grace period 0): stop it
                self.kill(run, "deleted")
            if run.proc.poll() is None:
                if run.deadline is not None and time.monotonic() > run.deadline:
                    self.kill(run, "deadline")
                if run.killed_for and time.monotonic() - run.extra["term_at"] > GRACE_SECONDS:
                    with _quiet():
                        os.killpg(run.proc.pid, signal.SIGKILL)
                continue
            if not run.reported:
                self.finish(run)
            self.done.add(uid)
            del self.running[uid]

    def fail_to_start(self, pod: Any, message: str) -> None:
        self.done.add(pod.metadata.uid)
        name = pod.spec.containers[0].name
        with _quiet():
            self.core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace, {
                "status": {"phase": "Failed", "reason": "StartError", "message": message,
                           "containerStatuses": [{
                               "name": name, "ready": False, "restartCount": 0,
                               "image": "stand-in", "imageID": "",
                               "state": {"terminated": {"exitCode": 128, "reason": "StartError",
                                                        "message": message}}}]}})

    def log_path(self, namespace: str, name: str) -> Path:
        return self.state / "logs" / f"{namespace}_{name}.log"

    # -- main loop ---------------------------------------------------------------------------

    def run(self) -> None:
        self.register()
        serve_logs(self)
        print(f"stand-in node {NODE} registered ({self.args.gpus} nvidia.com/gpu)", flush=True)
        while not self.stopping.is_set():
            for step in (self.heartbeat_due, self.sync):
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 (keep the node alive; say why)
                    print(f"{step.__name__}: {type(exc).__name__}: {exc}", flush=True)
            self.stopping.wait(self.args.interval)
        for run in self.running.values():
            with _quiet():
                os.killpg(run.proc.pid, signal.SIGKILL)
                run.proc.wait(5)


class _quiet:
    """Ignore the errors of a best-effort step (a process or pod already gone)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


def serve_logs(agent: Agent) -> None:
    """The kubelet's /containerLogs/NS/POD/CONTAINER endpoint, over HTTPS (the API server does
    not verify the node's serving certificate unless told to)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if len(parts) != 4 or parts[0] != "containerLogs":
                self.send_error(404)
                return
            path = agent.log_path(parts[1], parts[2])
            if not path.is_file():
                self.send_error(404, "no log")
                return
            lines = path.read_bytes().splitlines(keepends=True)
            tail = urllib.parse.parse_qs(url.query).get("tailLines")
            if tail:
                lines = lines[-int(tail[0]):]
            body = b"".join(lines)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", agent.args.port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(agent.args.tls_cert, agent.args.tls_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--state", required=True, help="folder for the pods' logs")
    parser.add_argument("--gpus", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=8)
    parser.add_argument("--memory", default="16Gi")
    parser.add_argument("--port", type=int, default=0, help="log server port (0: any free)")
    parser.add_argument("--tls-cert", required=True)
    parser.add_argument("--tls-key", required=True)
    parser.add_argument("--interval", type=float, default=0.3)
    args = parser.parse_args()
    if not args.port:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            args.port = sock.getsockname()[1]
    agent = Agent(args)
    signal.signal(signal.SIGTERM, lambda *_: agent.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: agent.stopping.set())
    agent.run()


if __name__ == "__main__":
    main()
