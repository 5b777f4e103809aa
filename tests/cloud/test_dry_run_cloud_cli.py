"""`orbitfarm submit --dry-run` for the command, Deadline Cloud and accsyn kinds: the exact
request payloads are written into the job directory and nothing is contacted (the profiles
name no reachable endpoint, and the namespace has only loopback)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import subjects  # noqa: E402  (tests/subjects.py)
from dry_runs import dry_run  # noqa: E402  (tests/dry_runs.py)

pytestmark = pytest.mark.cloud

CONFIG = """
targets:
  farm:
    kind: command
    submit: "farm submit --name {job_name} {script}"
    status: "farm status {native_ids}"
  aws:
    kind: deadline-cloud
    farm_id: farm-0123456789abcdef0123456789abcdef
    queue_id: queue-0123456789abcdef0123456789abcdef
    host_requirements: {amounts: [{name: amount.worker.gpu, min: 1}]}
  studio:
    kind: accsyn
    hostname: accsyn.invalid
    filters: "ram:>32g"
"""


@pytest.mark.parametrize("target, expect", [
    ("farm", "dry-run/command.json"), ("aws", "deadline-cloud/bundle-dry-run/template.yaml"),
    ("studio", "accsyn/group-0.a1.json")])
def test_dry_run_writes_the_payloads(target, expect, tmp_path, node_python, capsys):
    job, written = dry_run(node_python, tmp_path, target, CONFIG, capsys)
    assert job.path / expect in written
    if target == "farm":
        lines = json.loads((job.path / expect).read_text())["submit"]
        assert [x["task"] for x in lines] == ["t00000", "t00001"]
        assert lines[0]["command"] == (f"farm submit --name orbitfarm-{job.id} "
                                       f"{job.path}/command/t00000.a1.sh")
    if target == "aws":
        template = yaml.safe_load((job.path / expect).read_text())
        step = template["steps"][0]
        assert step["hostRequirements"] == {"amounts": [{"name": "amount.worker.gpu",
                                                         "min": 1}]}
        assert step["parameterSpace"]["taskParameterDefinitions"][0]["range"] == "0-1"
    if target == "studio":
        payload = json.loads((job.path / expect).read_text())
        assert payload["range"] == "1-4" and payload["settings"]["task_bucketsize"] == "2"
        assert payload["filters"] == "ram:>32g"


def test_accsyn_one_compute_job_per_group(tmp_path, node_python):
    """Two subjects (one per task group): two compute jobs, each depending on its own .blend
    only, with the frames as accsyn items and the chunk as the bucket size."""
    from orbitfarm.submitter import jobs
    from orbitfarm.submitter.model.settings import RenderSettings

    for name in ("a", "b"):
        subjects.make_subject(node_python, tmp_path / "scenes" / f"{name}.blend", "cube")
    request = jobs.SubmitRequest(
        files=[str(tmp_path / "scenes")], out=str(tmp_path / "out"),
        settings=RenderSettings(frames=12, frame_range="1-12x3", width=48, height=36,
                                samples=2, device="cpu"),
        target="accsyn", chunk=3, target_options={"kind": "accsyn", "app": "orbitfarm"})
    job, written = jobs.dry_run(request)
    payloads = [json.loads(p.read_text()) for p in written if p.suffix == ".json"]
    assert [p["range"] for p in payloads] == ["1-10x3", "1-10x3"]
    assert all(p["settings"]["task_bucketsize"] == "3" for p in payloads)
    blends = [job.plan.subject(i).blend for i in range(2)]
    for payload, own, other in ((payloads[0], blends[0], blends[1]),
                                (payloads[1], blends[1], blends[0])):
        assert own in payload["dependencies"] and other not in payload["dependencies"]
    scripts = [p for p in written if p.suffix == ".sh"]
    assert "PLAN_INDEX_BY_FIRST_FRAME=([1]=2 [10]=3)" in scripts[1].read_text()
