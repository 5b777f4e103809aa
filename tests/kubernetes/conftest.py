"""The compat venvs (bpy 4.2 / 5.0 / 5.3, run with `-m compat`) have no kubernetes-validate: none
of the tests here is a compat test, so they are not collected there; in the main venv a missing
package fails loudly instead.

k8s_plane: a real Kubernetes v1.20 control plane with a STAND-IN node agent (tests marked
kubernetes_cluster; see controlplane.sh and node_agent.py)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clusters import bring_down, bring_up, environ, free_port_base  # noqa: E402


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


@pytest.fixture(scope="session")
def k8s_plane() -> Iterator[ControlPlane]:
    """Build (once, cached) and start etcd + kube-apiserver/controller-manager/scheduler v1.20
    and the STAND-IN node agent (not a kubelet: pods run as local processes); KUBECONFIG points
    the official client at it. Stopped by PID at the end of the session."""
    state = Path(tempfile.mkdtemp(prefix="orbitfarm-k8s-test-"))
    base = free_port_base(52000, 60000, step=4, offsets=(0, 1, 2))
    gpus = 2
    env = dict(os.environ, ORBITFARM_K8S_DIR=str(state), ORBITFARM_K8S_PORT=str(base),
               ORBITFARM_K8S_GPUS=str(gpus), ORBITFARM_K8S_PYTHON=sys.executable)
    started = time.monotonic()
    bring_up(CONTROLPLANE_SH, env, state, label="KUBERNETES CLUSTER", what="control plane",
             timeout=3600)
    kubeconfig = str(state / "kubeconfig")
    print(f"\ntest Kubernetes v1.20 control plane up in {time.monotonic() - started:.1f} s")
    try:
        with environ({"KUBECONFIG": kubeconfig}):
            yield ControlPlane(state=state, kubeconfig=kubeconfig, gpus=gpus)
    finally:
        bring_down(CONTROLPLANE_SH, env)
        shutil.rmtree(state, ignore_errors=True)
