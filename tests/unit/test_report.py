"""The job's web page without a browser: escaping, links, secrets, throttling, thumbnails, serve."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from orbitfarm.submitter.files import layout
from orbitfarm.submitter.files.imageio import read_png
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.formats.png16 import encode_rgb8
from orbitfarm.submitter.jobs import status
from orbitfarm.submitter.model.jobspec import JobSpec
from orbitfarm.submitter.model.plan import make_plan
from orbitfarm.submitter.model.settings import RenderSettings
from orbitfarm.submitter.model.task import Subject
from orbitfarm.submitter.report import is_due, keep_current, write_report
from orbitfarm.submitter.report.facts import commands, redacted
from orbitfarm.submitter.report.page import href, text
from orbitfarm.submitter.report.serve import find_jobs, make_server, resolve
from orbitfarm.submitter.report.thumbs import make_strip


def _job(root: Path, names: list[str]) -> JobDir:
    settings = RenderSettings(frames=4, width=8, height=6)
    subs = [Subject(blend=str(root / f"{i}.blend"), out=str(root / "out" / n), name=n)
            for i, n in enumerate(names)]
    spec = JobSpec(id="unit", settings=settings, target={"kind": "local", "name": "local"},
                   out=str(root / "out"), created=time.time())
    job = JobDir(root / "out" / ".orbitfarm" / "jobs" / "unit")
    job.write_new(spec, make_plan("unit", settings, subs))
    return job


def test_text_and_links_are_escaped():
    assert text('<b a="1">\'&') == "&lt;b a=&quot;1&quot;&gt;&#x27;&amp;"
    assert href('../x y/"<a>.json') == "../x%20y/%22%3Ca%3E.json"
    assert href(os.fsdecode(b"caf\xe9/r.json")) == "caf%E9/r.json"  # the file's own bytes


def test_secrets_in_the_target_are_hidden():
    shown = redacted({"kind": "slurm", "api_token": "t0k", "password": "pw", "partition": "gpu",
                      "notify": "https://user:pw@hooks.example/x", "hook": "https://h/?key=1",
                      "nested": {"secret_key": "s"}, "workers": 3})
    assert shown == {"kind": "slurm", "api_token": "(hidden)", "password": "(hidden)",
                     "partition": "gpu", "notify": "https://(hidden)", "hook": "https://(hidden)",
                     "nested": {"secret_key": "(hidden)"}, "workers": 3}


def test_commands_are_shell_quoted():
    found = dict(commands(Path("/jobs/it's here"), finished=False, retryable=True))
    assert found["stop the unfinished tasks"] == "orbitfarm cancel '/jobs/it'\"'\"'s here'"
    assert "stop the unfinished tasks" not in dict(commands(Path("/j"), True, False))


def test_page_is_rewritten_at_most_every_few_seconds_and_once_when_finished(tmp_path):
    job = _job(tmp_path, ["a"])
    st = status(job, refresh=False)
    assert is_due(job, st) and keep_current(job, st) is not None
    assert keep_current(job, st) is None  # just written: throttled
    old = time.time() - 60
    os.utime(job.path / layout.REPORT_FILE, (old, old))
    assert keep_current(job, st) is not None
    task = job.task_ids()[0]
    job.write_state(task, {"state": "done", "attempt": 1, "exit_code": 0})
    done = status(job, refresh=False)
    assert done.finished and is_due(job, done)  # the page still reloads itself: rewrite now
    keep_current(job, done)
    assert b"http-equiv" not in (job.path / layout.REPORT_FILE).read_bytes()
    assert not is_due(job, done)


def test_page_of_a_read_only_job_directory_is_skipped_not_raised(tmp_path):
    job = _job(tmp_path, ["a"])
    st = status(job, refresh=False)
    (job.path / layout.REPORT_FILE).mkdir()  # cannot be replaced by a file
    assert keep_current(job, st) is None


def test_strip_holds_rgb_above_colour_mapped_depth(tmp_path):
    subject = tmp_path / "s"
    (subject / layout.RGB_DIR).mkdir(parents=True)
    w, h = 20, 10
    red_left = [bytes([255, 0, 0] * (w // 2) + [0, 0, 255] * (w // 2)) for _ in range(h)]
    for k in (1, 2):
        layout.rgb_path(subject, k).write_bytes(encode_rgb8(red_left, w, h))
    strip = tmp_path / "strip.png"
    assert make_strip(subject, strip, cell=10) and read_png(strip).height == 5  # no depth row
    img = read_png(strip)
    assert img.width == 20 and img.pixel(1, 2)[:3] == (255, 0, 0)
    assert img.pixel(8, 2)[:3] == (0, 0, 255) and img.pixel(11, 2)[:3] == (255, 0, 0)
    assert not make_strip(tmp_path / "nothing", tmp_path / "none.png")


def test_big_job_page_is_grouped_and_small(tmp_path):
    job = _job(tmp_path, [f"s{i}" for i in range(2000)])
    path = write_report(job, refresh=False)
    html = path.read_text(encoding="utf-8")
    assert html.count("<details") == 8 and html.count("<tr class=") == 2000
    assert path.stat().st_size < 2000 * 400


def test_serve_resolves_only_files_inside_its_folder(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "f.txt").write_text("x")
    (root / "a" / layout.JOB_FILE).write_text("notify: secret")
    (tmp_path / "outside.txt").write_text("no")
    (root / "link").symlink_to(tmp_path / "outside.txt")
    assert resolve(root, "/a/f.txt") == (root / "a" / "f.txt").resolve()
    assert resolve(root, "/a/f%2Etxt?x=1") == (root / "a" / "f.txt").resolve()
    for bad in ("/../outside.txt", "/a/../../outside.txt", "/%2e%2e/outside.txt", "/link",
                "/a", f"/a/{layout.JOB_FILE}", "/a/f.txt%00", "//etc/passwd"):
        assert resolve(root, bad) is None, bad


def test_serve_lists_jobs_live_and_binds_loopback(tmp_path):
    import threading

    job = _job(tmp_path, ["<i>x</i>"])
    assert find_jobs(tmp_path / "out") == [job.path]
    server = make_server(tmp_path / "out", port=0)
    assert server.server_address[0] == "127.0.0.1"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        index = urllib.request.urlopen(base + "/", timeout=10).read().decode()
        assert "unit" in index and "0/4" in index and "no page yet" in index
        write_report(job, refresh=False)
        index = urllib.request.urlopen(base + "/", timeout=10).read().decode()
        assert 'href=".orbitfarm/jobs/unit/report.html"' in index
        answer = urllib.request.urlopen(base + "/.orbitfarm/jobs/unit/report.html", timeout=10)
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert "&lt;i&gt;x&lt;/i&gt;" in answer.read().decode()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(base + "/.orbitfarm/jobs/unit/job.yaml", timeout=10)
    finally:
        server.shutdown()
        server.server_close()


def test_eta_comes_from_rendered_frames_only():
    from orbitfarm.submitter.jobs import JobStatus
    from orbitfarm.submitter.report.facts import JobTimes, eta

    def st(done: int, settled: int) -> JobStatus:
        return JobStatus("j", "/j", "local", [], {}, done, 100, settled, False, 0)

    times = JobTimes(created=1000.0, first_start=1010.0)
    assert eta(st(0, 40), times, 1020.0) is None  # only failed frames settled: speed unknown
    assert eta(st(10, 20), times, 1020.0) == pytest.approx(80.0)  # 1 frame/s, 80 to go


def test_report_command_writes_the_page_or_says_why_not(tmp_path, capsys):
    from orbitfarm.submitter.cli import main

    job = _job(tmp_path, ["a"])
    assert main(["report", str(job.path), "--no-refresh"]) == 0
    assert capsys.readouterr().out.strip() == str(job.path / layout.REPORT_FILE)
    (job.path / layout.REPORT_FILE).unlink()
    (job.path / layout.REPORT_FILE).mkdir()  # cannot be replaced by a file
    assert main(["report", str(job.path), "--no-refresh"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orbitfarm report: error: cannot write the page into") and "\n" == err[-1]
