"""Plain helpers of the UI code that need no registered extension (bpy imported, not used)."""

from __future__ import annotations

import numpy as np
from orbitfarm.operators import contact_sheet


def test_depth_colormap_near_warm_far_cool_no_hit_black():
    depth = np.array([[2.0, 4.0], [3.0, 1e10]], dtype=np.float32)
    rgb = contact_sheet.colormap_depth(depth)
    assert np.allclose(rgb[0, 0], contact_sheet._RAMP[-1])  # nearest hit: warm end
    assert np.allclose(rgb[0, 1], contact_sheet._RAMP[0])  # farthest hit: cool end
    assert np.all(rgb[1, 1] == 0.0)  # no hit
    assert not np.allclose(rgb[1, 0], rgb[0, 0]) and not np.allclose(rgb[1, 0], rgb[0, 1])
    assert np.all(contact_sheet.colormap_depth(np.full((2, 2), 1e10)) == 0.0)


def test_finished_frames_spread_over_what_exists(tmp_path):
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    for k in range(1, 21):
        (rgb / f"{k:04d}.png").write_bytes(b"")
    (rgb / ".0021.png.tmp").write_bytes(b"")  # a frame being written is not finished
    (rgb / "notes.txt").write_bytes(b"")
    frames = contact_sheet.finished_frames(tmp_path, limit=4)
    assert frames == [1, 6, 11, 16]
    assert contact_sheet.finished_frames(tmp_path / "missing") == []



def test_the_panels_poll_keeps_the_jobs_web_page_current(tmp_path):
    import time

    from orbitfarm.operators import monitor
    from orbitfarm.submitter.files import layout
    from orbitfarm.submitter.files.jobdir import JobDir
    from orbitfarm.submitter.model.jobspec import JobSpec
    from orbitfarm.submitter.model.plan import make_plan
    from orbitfarm.submitter.model.settings import RenderSettings
    from orbitfarm.submitter.model.task import Subject

    settings = RenderSettings(frames=4, width=8, height=6)
    plan = make_plan("panel", settings, [Subject(blend=str(tmp_path / "a.blend"),
                                                 out=str(tmp_path / "out" / "a"), name="a")])
    job = JobDir(tmp_path / "job")
    job.write_new(JobSpec(id="panel", settings=settings, target={"kind": "local", "name": "l"},
                          out=str(tmp_path / "out"), created=time.time()), plan)
    row = monitor.summarize(str(job.path))
    assert row["frames_total"] == 4
    page = (job.path / layout.REPORT_FILE).read_text(encoding="utf-8")
    assert "orbitfarm job <span id=\"job-id\">panel</span>" in page and "0/4" in page
