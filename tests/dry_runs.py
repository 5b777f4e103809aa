"""`orbitfarm submit --dry-run` as the dry-run tests drive it, for every target kind: one cube
subject, the test's targets file, the CLI; what it printed is read back into the job directory
and the files it says it wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
import subjects
from orbitfarm.submitter import cli
from orbitfarm.submitter.files.jobdir import JobDir


def dry_run(python: str, root: Path, target: str, config_text: str,
            capsys: pytest.CaptureFixture[str]) -> tuple[JobDir, list[Path]]:
    """Submit a cube (built with `python`, a Python with bpy) to `target` with --dry-run; the
    job directory and the files written, each checked to exist, with nothing submitted."""
    subjects.make_subject(python, root / "scenes" / "cube.blend", "cube")
    config = root / "targets.yaml"
    config.write_text(config_text)
    code = cli.main(["submit", str(root / "scenes"), "--out", str(root / "out"),
                     "--frames", "4", "--chunk", "2", "--target", target, "--config", str(config),
                     "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    directory = Path(next(line.split(" ", 1)[1] for line in out.splitlines()
                          if line.startswith("directory ")))
    job = JobDir(directory)
    written = [Path(line.split(" ", 1)[1]) for line in out.splitlines()
               if line.startswith("wrote ")]
    assert all(p.is_file() for p in written)
    assert job.target_record() == {}  # nothing was submitted
    return job, written
