"""Job directories made by the previous version (before the reshape) still work.

The fixture is a real job made by that version (`orbitfarm submit monkey.blend --target local
--frames 2 --resolution 32x24 --wait`), without its packed .blend and code copy: job.yaml still
carries the render settings, the runner's records have no typed end reason.
"""

import json
import shutil
from pathlib import Path

from orbitfarm.submitter import jobs
from orbitfarm.submitter.files.jobdir import JobDir

FIXTURE = Path(__file__).with_name("fixtures") / "job-before-reshape"


def _copy(tmp_path: Path) -> JobDir:
    path = tmp_path / "job"
    shutil.copytree(FIXTURE, path)
    return jobs.open_job(str(path))


def test_status_and_logs_read_a_job_of_the_previous_version(tmp_path):
    job = _copy(tmp_path)
    assert job.spec.settings is not None and job.spec.settings.width == 32  # old job.yaml
    assert job.plan.settings.to_dict() == job.spec.settings.to_dict()
    st = jobs.status(job)
    assert st.finished and st.ok and st.tasks == {"done": 1}
    assert [(r.name, r.state, r.frames_done, r.frames_total) for r in st.subjects] == [
        ("monkey", "rendered", 2, 2)]
    text = jobs.logs(job, "t00000")
    assert "orbitfarm local runner: task t00000 started" in text
    assert "t00000" in jobs.logs(job)  # no failed task: every log


def test_an_old_runner_record_still_reconciles(tmp_path):
    """A task left `running` whose worker is gone: the old runner record (text reason only,
    no typed end) still ends it as failed, with the recorded exit."""
    job = _copy(tmp_path)
    for marker in (job.path / "tasks" / "markers").iterdir():
        marker.unlink()
    state = json.loads(job.state_file("t00000").read_text())
    state.update(state="running", heartbeat=0, ended=None)
    job.state_file("t00000").write_text(json.dumps(state))
    st = jobs.status(jobs.open_job(str(job.path)))
    assert st.tasks == {"failed": 1} and st.retryable == ["t00000"]
    assert job.read_state("t00000")["reason"] == "exited normally without writing a final state"
