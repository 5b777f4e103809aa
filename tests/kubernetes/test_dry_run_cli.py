"""`orbitfarm submit --dry-run` for every target kind: the job is planned and packed, what the
target would submit is written into the job directory, and nothing is submitted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dry_runs import dry_run  # noqa: E402  (tests/dry_runs.py)

CONFIG = """
targets:
  k8s:
    kind: kubernetes
    context: my-cluster
    namespace: render
    image: registry.example.org/blender:4.5
    gpus: 1
    mem: 8Gi
    cpus: 4
    volume: {claim: shared-renders, path: /shared}
    path_map: [{local: %(root)s, remote: /shared}]
    parallelism: 50
  k8s-old:
    kind: kubernetes
    image: registry.example.org/blender:4.5
    server_version: "1.20"
  ray:
    kind: ray
    address: http://127.0.0.1:9   # nothing listens here: a dry run must not ask
  slurm:
    kind: slurm
    partition: gpu
    ssh: login.invalid
"""


@pytest.fixture(autouse=True)
def _own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("target, expect", [
    ("k8s", "kubernetes/submission-1.yaml"), ("k8s-old", "kubernetes/submission-1.yaml"),
    ("ray", "ray/submission-1.json"), ("slurm", "slurm/array-1.sh"),
    ("local", "dry-run/local.json")])
def test_dry_run_writes_what_would_be_submitted(target, expect, tmp_path, bpy_python, capsys):
    job, written = dry_run(bpy_python, tmp_path, target, CONFIG % {"root": tmp_path}, capsys)
    assert job.path / expect in written
    assert len(job.task_ids()) == 2
    if target.startswith("k8s"):
        # Built for the newest server unless the profile names one (k8s-old: 1.20 -> pods).
        version = "1.27.0" if target == "k8s-old" else kubernetes_validate.latest_version()
        for manifest in yaml.safe_load_all((job.path / expect).read_text()):
            kubernetes_validate.validate(manifest, version, strict=True)
        if target == "k8s":
            (manifest,) = list(yaml.safe_load_all((job.path / expect).read_text()))
            assert manifest["spec"]["completions"] == 2
            assert f"/shared/out/.orbitfarm/jobs/{job.id}" in manifest["spec"]["template"][
                "spec"]["containers"][0]["command"][2]
    if target == "ray":
        assert [t["task"] for t in json.loads((job.path / expect).read_text())["tasks"]] == \
            job.task_ids()
    if target == "slurm":
        assert "#SBATCH --array=0-1" in (job.path / expect).read_text()
