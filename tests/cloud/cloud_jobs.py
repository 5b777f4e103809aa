"""What the cloud target tests share: a real packed job submitted through `orbitfarm submit`,
its status through `orbitfarm status --json`, and a task finishing as the worker in the
service's container would finish it (the container cannot run here)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from orbitfarm.submitter import cli
from orbitfarm.submitter.files.jobdir import JobDir

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
import subjects  # noqa: E402  (tests/subjects.py)

FAKE_KEY_ID = "LTAIstandinkey0000000000"  # fake: the stand-ins check requests are signed by it
FAKE_SECRET = "standin-secret-never-in-the-job-dir"


def make_scenes(python: str, root: Path, names: tuple[str, ...] = ("cube",)) -> Path:
    """Cube subjects built with `python` (a Python with bpy: conftest's node_python)."""
    scenes = root / "scenes"
    for name in names:
        subjects.make_subject(python, scenes / f"{name}.blend", "cube")
    return scenes


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def submit(scenes: Path, out: Path, target: str, config: Path,
           capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[JobDir, str]:
    code, stdout, err = run_cli(["submit", str(scenes), "--out", str(out), "--frames", "4",
                                 "--chunk", "2", "--target", target, "--config", str(config),
                                 *extra], capsys)
    assert code == 0, err + stdout
    directory = next(line.split(" ", 1)[1] for line in stdout.splitlines()
                     if line.startswith("directory "))
    return JobDir(Path(directory)), stdout


def status(job: JobDir, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = run_cli(["status", str(job.path), "--json"], capsys)
    assert code in (0, 1), err
    return json.loads(out)


def task_states(job: JobDir) -> dict[str, tuple[str, str]]:
    """Task id -> (state, reason) as the job directory records them."""
    return {t: (str(s.get("state")), str(s.get("reason") or ""))
            for t in job.task_ids() for s in [job.read_state(t)]}


def finish_as_worker(job: JobDir, task_id: str) -> None:
    """What the worker in the container writes when its task succeeded."""
    state = job.read_state(task_id)
    attempt = int(state.get("attempt") or 0) + 1
    job.write_state(task_id, {"task": task_id, "state": "done", "attempt": attempt,
                              "started": time.time() - 5, "ended": time.time()})


def secrets_in(folder: Path, secret: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def within(saved: object, sent: object) -> bool:
    """Whether everything in `saved` (what orbitfarm wrote to the job dir) arrived unchanged in
    `sent` (what the SDK sent): the SDK may only add fields of its own (defaults, empty lists)."""
    if isinstance(saved, dict):
        return isinstance(sent, dict) and all(k in sent and within(v, sent[k])
                                              for k, v in saved.items())
    if isinstance(saved, list):
        return isinstance(sent, list) and len(saved) == len(sent) and all(
            within(a, b) for a, b in zip(saved, sent, strict=True))
    return saved == sent


def write_config(root: Path, text: str, **values: object) -> Path:
    """The test's targets file: `text` with %(root)s (the test's folder, as path_map's local
    side) and `values` filled in."""
    path = root / "targets.yaml"
    path.write_text(text % {"root": root, **values})
    return path


def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """A home of the test's own (no real user's config or keys; conftest gives the jobs index
    its own ORBITFARM_HOME) and these variables."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)


# Fake keys through the default credential chain's first link (the environment), and no
# look-ups of the cloud metadata service (100.100.100.200) when a link fails.
ALIBABA_ENV = {"ALIBABA_CLOUD_ACCESS_KEY_ID": FAKE_KEY_ID,
               "ALIBABA_CLOUD_ACCESS_KEY_SECRET": FAKE_SECRET,
               "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}
