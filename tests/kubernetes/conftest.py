"""The compat venvs (bpy 4.2 / 5.0 / 5.3, run with `-m compat`) have no kubernetes-validate: none
of the tests here is a compat test, so they are not collected there; in the main venv a missing
package fails loudly instead.

k8s_plane: a real Kubernetes v1.20 control plane with a STAND-IN node agent (tests marked
kubernetes_cluster; see controlplane.sh and node_agent.py)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def pytest_ignore_collect(collection_path, config):
    return ("compat" in (config.option.markexpr or "")
            and importlib.util.find_spec("kubernetes_validate") is None)


# -- a real control plane (tests marked kubernetes_cluster) -------------------------------------


CONTROLPLANE_SH = Path(__file__).resolve().parent / "controlplane.sh"


@dataclass
class ControlPlane:
    """A running v1.20 control plane with the stand-in node (tests/kubernetes/controlplane.sh)."""

    state: Path
    kubeconfig: str
    gpus: int


def _ports_free(base: int, count: int = 3) -> bool:
    for port in range(base, base + count):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@pytest.fixture(scope="session")
def k8s_plane() -> Iterator[ControlPlane]:
    """Build (once, cached) and start etcd + kube-apiserver/controller-manager/scheduler v1.20
    and the STAND-IN node agent (not a kubelet: pods run as local processes); KUBECONFIG points
    the official client at it. Stopped by PID at the end of the session."""
    state = Path(tempfile.mkdtemp(prefix="orbitfarm-k8s-test-"))
    base = next(p for p in range(52000 + os.getpid() % 400 * 4, 60000, 4) if _ports_free(p))
    gpus = 2
    env = dict(os.environ, ORBITFARM_K8S_DIR=str(state), ORBITFARM_K8S_PORT=str(base),
               ORBITFARM_K8S_GPUS=str(gpus), ORBITFARM_K8S_PYTHON=sys.executable)
    started = time.monotonic()
    proc = subprocess.run(["bash", str(CONTROLPLANE_SH), "up"], env=env, capture_output=True,
                          text=True, timeout=3600)
    if proc.returncode == 3:
        shutil.rmtree(state, ignore_errors=True)
        pytest.skip(f"KUBERNETES CLUSTER TESTS SKIPPED: no control plane here: "
                    f"{proc.stderr.strip().splitlines()[-1]}")
    if proc.returncode != 0:
        subprocess.run(["bash", str(CONTROLPLANE_SH), "down"], env=env, capture_output=True)
        shutil.rmtree(state, ignore_errors=True)
        pytest.fail(f"the test control plane did not come up:\n{proc.stderr[-3000:]}")
    kubeconfig = str(state / "kubeconfig")
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = kubeconfig
    print(f"\ntest Kubernetes v1.20 control plane up in {time.monotonic() - started:.1f} s")
    try:
        yield ControlPlane(state=state, kubeconfig=kubeconfig, gpus=gpus)
    finally:
        subprocess.run(["bash", str(CONTROLPLANE_SH), "down"], env=env, capture_output=True,
                       text=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
