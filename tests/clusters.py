"""What the real-cluster fixtures (tests/{sge,htcondor,kubernetes}/conftest.py) and their tests
share: free loopback ports for a session's daemons, bringing a cluster script up (skipping
loudly only when the machine cannot run it at all, failing on anything else), setting
os.environ for the session and restoring it, and coloured cube subjects."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import subjects

COLORS = {"red": (0.8, 0.0, 0.0), "green": (0.0, 0.8, 0.0), "blue": (0.0, 0.0, 0.8)}


def ports_free(base: int, count: int = 1) -> bool:
    """Whether 127.0.0.1 ports base .. base+count-1 can all be bound now."""
    for port in range(base, base + count):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port_base(start: int, stop: int, count: int = 1, step: int = 1) -> int:
    """The first base of `count` free ports, `step` apart, from a per-process offset above
    `start`, so two sessions started together do not race for the same ports."""
    for base in range(start + os.getpid() % 400 * step, stop, step):
        if ports_free(base, count):
            return base
    raise RuntimeError(f"no {count} free ports between {start} and {stop}")


def bring_up(script: Path, env: Mapping[str, str], state: Path, *, label: str, what: str,
             timeout: int) -> None:
    """`bash script up`. Exit 3 means this machine cannot run the `what` at all: skip, loudly
    (`label` TESTS SKIPPED). Any other failure brings it down, removes `state` and fails."""
    proc = subprocess.run(["bash", str(script), "up"], env=dict(env), capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode == 3:
        shutil.rmtree(state, ignore_errors=True)
        pytest.skip(f"{label} TESTS SKIPPED: this machine cannot run the {what}: "
                    f"{proc.stderr.strip().splitlines()[-1]}")
    if proc.returncode != 0:
        subprocess.run(["bash", str(script), "down"], env=dict(env), capture_output=True)
        shutil.rmtree(state, ignore_errors=True)
        pytest.fail(f"the test {what} did not come up:\n{proc.stderr[-3000:]}")


def bring_down(script: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script), "down"], env=dict(env), capture_output=True,
                          text=True, timeout=120)


@contextmanager
def environ(values: Mapping[str, str], also_unset: tuple[str, ...] = ()) -> Iterator[None]:
    """os.environ with `values` set (the clients the targets start inherit them), restored
    afterwards, `also_unset` included."""
    previous = {name: os.environ.get(name) for name in (*values, *also_unset)}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cubes(python: str, folder: Path, names: list[str]) -> Path:
    """A cube subject per name in COLORS, built with `python` (a Python with bpy)."""
    for name in names:
        subjects.make_subject(python, folder / f"{name}.blend", "cube", color=COLORS[name])
    return folder
