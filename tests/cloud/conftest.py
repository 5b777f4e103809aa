"""The cloud-service tests: stand-in servers on loopback, never the real services.

The services (AWS Deadline Cloud, accsyn, PAI-DLC, NGC, BatchCompute) cannot exist on this
machine, and nothing may leave it: `make test-cloud` runs these tests in a network namespace
that has only loopback (`unshare -rn`), with metadata look-ups and telemetry switched off and
fake keys. This conftest refuses to run them anywhere else: a test that would reach the real
service by mistake must fail, not succeed against the internet.

`standin` starts a StandIn (standin.py): a ThreadingHTTPServer on 127.0.0.1 in a thread that
records every request and answers through a handler function the test gives.
The SDK-specific fixtures (endpoints, env variables) live in each service's test module.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from standin import Handler, StandIn  # noqa: E402  (tests/cloud/standin.py)

# Off in the environment `make test-cloud` gives (checked, so a test run by hand cannot forget).
REQUIRED_ENV = {"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true", "AWS_EC2_METADATA_DISABLED": "true",
                "DEADLINE_CLOUD_TELEMETRY_OPT_OUT": "true"}


def pytest_ignore_collect(collection_path, config):
    # Outside the cloud venv (the dev venv's `-m "not cloud"`, the compat venvs) the SDKs are
    # missing and nothing here is selected: do not import the modules at all.
    return importlib.util.find_spec("openjd") is None


def network_interfaces() -> list[str]:
    """Names of this namespace's network interfaces (asked of the kernel: /sys/class/net shows
    the namespace sysfs was mounted in, not ours)."""
    return sorted(name for _, name in socket.if_nameindex())


def loopback_only_problem() -> str:
    """Why this process could reach another machine ('' when only an up loopback exists)."""
    names = network_interfaces()
    if names != ["lo"]:
        return (f"network interfaces {', '.join(names)} exist; the cloud tests run only in a "
                "loopback-only namespace (`make test-cloud` runs them under `unshare -rn`)")
    try:
        with socket.create_connection(("127.0.0.1", 9), timeout=1):
            pass
    except ConnectionRefusedError:
        pass  # loopback is up (nobody listens on port 9)
    except OSError as exc:
        return f"loopback is not up ({exc}); run `ip link set lo up` in the namespace"
    wrong = {k: os.environ.get(k) for k, v in REQUIRED_ENV.items() if os.environ.get(k) != v}
    if wrong:
        return f"environment variables must be set as `make test-cloud` does: {REQUIRED_ENV}"
    return ""


@pytest.hookimpl(trylast=True)  # after `-m` has deselected what will not run
def pytest_collection_modifyitems(session, config, items):
    if not any(item.get_closest_marker("cloud") for item in items):
        return
    problem = loopback_only_problem()
    if problem:
        pytest.exit(f"refusing to run the cloud tests: {problem}", returncode=3)


@pytest.fixture
def standin() -> Iterator[Callable[[Handler], StandIn]]:
    """Start stand-ins with `standin(handler)`; each is stopped when the test ends, and a
    handler that raised fails the test."""
    started: list[StandIn] = []

    def start(handler: Handler) -> StandIn:
        server = StandIn(handler)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
    errors = [e for s in started for e in s.errors]
    assert not errors, "stand-in handler errors:\n" + "\n".join(errors)


@pytest.fixture(autouse=True)
def _own_jobs_index(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "orbitfarm-home"))


@pytest.fixture(scope="session")
def node_python() -> str:
    """The Python with bpy the nodes run the worker with (the dev venv's; make test-cloud sets
    ORBITFARM_TEST_BPY_PYTHON), since the cloud venv has no bpy."""
    path = os.environ.get("ORBITFARM_TEST_BPY_PYTHON", "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("ORBITFARM_TEST_BPY_PYTHON must name a Python with bpy (make test-cloud "
                    "sets it to .venv/bin/python)")
    return path
