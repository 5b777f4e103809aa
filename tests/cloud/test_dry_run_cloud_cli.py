"""`orbitfarm submit --dry-run` for the command, Deadline Cloud and accsyn kinds: the exact
request payloads are written into the job directory and nothing is contacted (the profiles
name no reachable endpoint, and the namespace has only loopback)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from orbitfarm.submitter import cli
from orbitfarm.submitter.files.jobdir import JobDir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import subjects  # noqa: E402  (tests/subjects.py)

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
    subjects.make_subject(node_python, tmp_path / "scenes" / "cube.blend", "cube")
    config = tmp_path / "targets.yaml"
    config.write_text(CONFIG)
    code = cli.main(["submit", str(tmp_path / "scenes"), "--out", str(tmp_path / "out"),
                     "--frames", "4", "--chunk", "2", "--target", target, "--config", str(config),
                     "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    directory = Path(next(line.split(" ", 1)[1] for line in out.splitlines()
                          if line.startswith("directory ")))
    job = JobDir(directory)
    written = [Path(line.split(" ", 1)[1]) for line in out.splitlines()
               if line.startswith("wrote ")]
    assert job.path / expect in written and all(p.is_file() for p in written)
    assert job.target_record() == {}  # nothing was submitted
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
