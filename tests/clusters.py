"""What the real-cluster fixtures (tests/{sge,htcondor,kubernetes,slurm,ray}/conftest.py) and
their tests share: free loopback ports for a session's daemons, bringing a cluster script up
(skipping loudly only when the machine cannot run it at all, failing on anything else), setting
os.environ for the session and restoring it, coloured cube subjects and their tiny renders
submitted. The cluster scripts share their process helpers likewise (cluster_procs.sh)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import subjects
from orbitfarm.submitter import jobs
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.model.settings import RenderSettings

COLORS = {"red": (0.8, 0.0, 0.0), "green": (0.0, 0.8, 0.0), "blue": (0.0, 0.0, 0.8)}


def ports_free(ports: Iterable[int]) -> bool:
    """Whether these 127.0.0.1 ports can all be bound now."""
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port_base(start: int, stop: int, step: int, offsets: Iterable[int] = (0,)) -> int:
    """The first base, `step` apart, whose ports base+offset are all free, from a per-process
    place in start..stop so two sessions started together do not race for the same ports."""
    offsets = tuple(offsets)
    for base in range(start + os.getpid() % ((stop - start) // step // 2) * step, stop, step):
        if ports_free(base + offset for offset in offsets):
            return base
    raise RuntimeError(f"no free ports for a test cluster between {start} and {stop}")


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


def submit_tiny(kind: str, scenes: Path, out: Path, frames: int, **options: Any) -> JobDir:
    """`frames` tiny renders (48x36, 2 samples, CPU: the scheduler plumbing is what is tested)
    of `scenes`, submitted to a `kind` target with these target options (`chunk` goes to the
    request)."""
    settings = RenderSettings(frames=frames, width=48, height=36, samples=2, device="cpu")
    request = jobs.SubmitRequest(files=[str(scenes)], out=str(out), settings=settings,
                                 target=kind, chunk=options.pop("chunk", None),
                                 target_options={"kind": kind, **options})
    return jobs.submit(request)
