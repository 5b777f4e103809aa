"""The job's web page of real jobs, loaded in headless Chromium from a file path and via serve."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests: subjects.py
import subjects  # noqa: E402
from orbitfarm.submitter import jobs  # noqa: E402
from orbitfarm.submitter.files import layout  # noqa: E402
from orbitfarm.submitter.files.imageio import read_png  # noqa: E402
from orbitfarm.submitter.files.jobdir import JobDir  # noqa: E402
from orbitfarm.submitter.model.jobspec import JobSpec  # noqa: E402
from orbitfarm.submitter.model.plan import make_plan  # noqa: E402
from orbitfarm.submitter.model.settings import RenderSettings  # noqa: E402
from orbitfarm.submitter.model.task import Subject  # noqa: E402
from orbitfarm.submitter.report import keep_current, write_report  # noqa: E402
from orbitfarm.submitter.report.page import REFRESH_SECONDS  # noqa: E402

pytestmark = [pytest.mark.web]

TINY = dict(width=48, height=36, samples=2, frames=4)


@pytest.fixture(scope="module")
def finished_job(tmp_path_factory, bpy_python):
    """A real local job, rendered with bpy: a red cube that renders, a .blend that fails."""
    root = tmp_path_factory.mktemp("web job")  # a space: the commands must be quoted
    os.environ["ORBITFARM_HOME"] = str(root / "home")
    src = root / "src"
    subjects.make_subject(bpy_python, src / "cube.blend", "cube")
    subjects.write_corrupt_blend(src / "broken.blend")
    job = jobs.submit(jobs.SubmitRequest(files=[str(src)], out=str(root / "out"),
                                         settings=RenderSettings(**TINY)))
    st = jobs.wait(job, interval=0.3, timeout=240)
    assert st.finished, jobs.logs(job)
    # The runner writes the last page after its final status check; wait for it to settle.
    deadline = time.monotonic() + 60
    page = job.path / layout.REPORT_FILE
    while time.monotonic() < deadline and (not page.is_file() or b"refresh" in page.read_bytes()[
            :1024]):
        time.sleep(0.5)
    return job


def _open_everything(page) -> None:
    """Open every <details> page and scroll each image into view (they load lazily)."""
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    for img in page.query_selector_all("img"):
        img.scroll_into_view_if_needed()
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=10_000)


def _images(page) -> list[tuple[str, int]]:
    return page.evaluate("[...document.images].map(i => [i.src, i.naturalWidth])")


def _links(page) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")


def test_the_runner_leaves_a_finished_page_with_thumbnails(finished_job):
    html = (finished_job.path / layout.REPORT_FILE).read_text(encoding="utf-8")
    assert 'http-equiv="refresh"' not in html  # finished: it no longer reloads itself
    strip = read_png(finished_job.path / "report" / "thumbs" / "s00001.png")
    assert strip.width == 3 * 96 and strip.height == 2 * 72  # 3 frames, RGB above depth
    top = [strip.pixel(x, y)[:3] for y in range(72) for x in range(strip.width)]
    reds = sum(1 for r, g, b in top if r > 150 and g < 60 and b < 60)
    assert reds > 100, "the red cube shows in the RGB row"
    bottom = [strip.pixel(x, y)[:3] for y in range(72, 144) for x in range(strip.width)]
    black = sum(1 for p in bottom if p == (0, 0, 0))
    assert 0 < black < len(bottom), "depth: no-hit background black, the cube coloured"


def test_page_from_a_file_path(finished_job, page, shots):
    path = finished_job.path / layout.REPORT_FILE
    page.goto(path.as_uri())
    body = page.inner_text("body")
    assert finished_job.id in body and "finished with failures" in body
    assert "4/8 frames rendered, 4 skipped or failed" in page.inner_text("#progress")
    assert "1 failed" in body and "1 rendered" in body
    # the failed task: its reason, log tail and a link to the full log
    failed = page.inner_text("#failed-tasks") + page.inner_text("details.task")
    assert "t00000" in failed and "not a readable .blend" in failed
    assert "task done: 0 rendered, 0 skipped, 1 failed" in failed  # the log's last lines
    # commands, shell-quoted (the folder has a space)
    commands = page.inner_text("#commands")
    quoted = shlex.quote(str(finished_job.path))
    assert f"orbitfarm retry {quoted} --wait" in commands
    assert shlex.split(f"orbitfarm wait {quoted}")[2] == str(finished_job.path)
    assert "orbitfarm cancel" not in commands  # nothing left to cancel
    timings = page.inner_text("#timings")
    assert "seconds per frame (mean)" in timings and "4, of 1 subjects" in timings
    settings = page.inner_text("#settings")
    assert "width\t48" in settings and "kind\tlocal" in settings
    _open_everything(page)
    images = _images(page)
    assert images and all(width > 0 for _, width in images), images
    page.screenshot(path=str(shots / "finished-job-file.png"), full_page=True)
    links = [u for u in _links(page) if not urlsplit(u).fragment or urlsplit(u).path != urlsplit(
        page.url).path]
    assert any(u.endswith(".log") for u in links) and any("result.json" in u for u in links)
    for url in links:
        target = Path(unquote(urlsplit(url).path))
        assert target.is_file(), f"link {url} resolves to nothing"
    log_link = next(u for u in links if u.endswith("t00000.log"))
    page.goto(log_link)
    assert "not a readable .blend" in page.inner_text("body")
    assert not page.dialogs and not page.errors


def test_page_and_index_via_serve(finished_job, page, serve, shots):
    out = Path(finished_job.spec.out)
    base = serve(out)
    page.goto(base + "/")
    index = page.inner_text("#jobs")
    assert finished_job.id in index and "finished with failures" in index and "4/8" in index
    page.screenshot(path=str(shots / "serve-index.png"), full_page=True)
    page.click(f"text={finished_job.id}")
    page.wait_for_load_state()
    assert page.url.endswith("/report.html") and finished_job.id in page.inner_text("h1")
    _open_everything(page)
    images = _images(page)
    assert images and all(width > 0 for _, width in images), images
    for url in _links(page) + [src for src, _ in images]:
        if url.startswith(base):
            response = page.request.get(url)
            assert response.status == 200, url
    page.screenshot(path=str(shots / "finished-job-served.png"), full_page=True)
    assert not page.dialogs and not page.errors


def test_serve_never_leaves_its_folder(finished_job, serve, tmp_path):
    out = Path(finished_job.spec.out)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    (out / "escape").symlink_to(secret)
    base = serve(out)
    rel_job = os.path.relpath(finished_job.path, out)
    for path in ["/../secret.txt", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
                 "/escape", "//etc/passwd", f"/{rel_job}/job.yaml", "/cube/%00",
                 f"/{rel_job}/logs"]:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + path, timeout=10)
        assert err.value.code == 404, path
    request = urllib.request.Request(base + f"/{rel_job}/report.html", method="POST", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 501  # read-only: no method but GET and HEAD
    assert urllib.request.urlopen(base + f"/{rel_job}/report.html", timeout=10).status == 200


def _synthetic_job(root: Path, names: list[str]) -> JobDir:
    """A job directory (not rendered) with these subject names, all queued."""
    out = root / "out"
    settings = RenderSettings(**TINY)
    subs = [Subject(blend=str(root / f"{i}.blend"), out=str(out / f"s{i}"), name=name)
            for i, name in enumerate(names)]
    plan = make_plan("synthetic", settings, subs)
    spec = JobSpec(id="synthetic", settings=settings, out=str(out), created=time.time(),
                   target={"kind": "local", "name": "local",
                           "notify_token": "abc123", "webhook": "https://u:pw@example/x"})
    job = JobDir(root / "job")
    job.write_new(spec, plan)
    return job


def test_a_running_page_reloads_itself_until_the_job_has_finished(tmp_path, page, shots):
    job = _synthetic_job(tmp_path, ["one", "two"])
    first, second = job.task_ids()
    job.write_state(first, {"state": "running", "attempt": 1, "started": time.time(),
                            "heartbeat": time.time(),
                            "subjects": {"one": {"status": "", "frames_done": 2,
                                                 "frames_total": 4}}})
    path = write_report(job, refresh=False)
    page.goto(path.as_uri())
    assert page.inner_text("#job-state") == "running"
    assert f"reloads every {REFRESH_SECONDS} s" in page.inner_text("body")
    assert "2/8 frames rendered" in page.inner_text("#progress")
    assert "orbitfarm cancel" in page.inner_text("#commands")
    as_of = page.inner_text("#as-of")
    page.screenshot(path=str(shots / "running-job.png"), full_page=True)
    # The job finishes; keep_current sees the page still reloading and rewrites it at once.
    for task_id, name in ((first, "one"), (second, "two")):
        job.write_state(task_id, {"state": "done", "attempt": 1, "started": time.time() - 1,
                                  "ended": time.time(), "exit_code": 0,
                                  "subjects": {name: {"status": "rendered", "frames_done": 4,
                                                      "frames_total": 4}}})
    time.sleep(1.1)  # a new "as of" second
    assert keep_current(job, jobs.status(job, refresh=False)) is not None
    with page.expect_navigation(timeout=(REFRESH_SECONDS + 10) * 1000):
        pass  # the meta refresh reloads the page by itself
    assert page.inner_text("#job-state") == "finished"
    assert page.inner_text("#as-of") != as_of
    assert "8/8 frames rendered" in page.inner_text("#progress")
    assert keep_current(job, jobs.status(job, refresh=False)) is None  # final: left alone
    page.screenshot(path=str(shots / "running-job-finished.png"), full_page=True)


def test_hostile_names_are_text_and_secrets_are_hidden(tmp_path, page, shots):
    hostile = ["<script>alert(1)</script>", "a\"b'c<img src=x onerror=alert(2)>",
               "café ☃ 日本", "&amp; spaced name"]
    job = _synthetic_job(tmp_path, hostile)
    # A failed task whose log carries bytes that are not UTF-8, and markup in log and reason.
    task = job.task_ids()[1]
    job.logs_dir.mkdir(exist_ok=True)
    job.log_file(task).write_bytes(b"caf\xe9-latin1 </pre><script>alert(3)</script>\n")
    job.write_state(task, {"state": "failed", "attempt": 1, "exit_code": 1,
                           "reason": "bad </details><b>reason</b>"})
    path = write_report(job, refresh=False)
    raw = path.read_bytes()
    raw.decode("utf-8")  # valid UTF-8 whatever the names' bytes
    assert b"<script>" not in raw and b"abc123" not in raw and b"u:pw" not in raw
    page.goto(path.as_uri())
    body = page.inner_text("body")
    assert hostile[0] in body and hostile[1] in body and hostile[3] in body
    assert "caf\ufffd-latin1 </pre><script>alert(3)</script>" in body  # the log, as text
    assert "bad </details><b>reason</b>" in body
    assert not page.dialogs and not page.errors
    assert page.evaluate("document.scripts.length") == 0
    assert json.dumps(page.evaluate("[...document.images].map(i => i.src)")) == "[]"
    assert "(hidden)" in page.inner_text("#settings")
    page.screenshot(path=str(shots / "hostile-names.png"), full_page=True)


def test_many_subjects_are_grouped_and_paged(tmp_path, page):
    job = _synthetic_job(tmp_path, [f"subject{i}" for i in range(600)])
    path = write_report(job, refresh=False)
    page.goto(path.as_uri())
    summaries = page.evaluate("[...document.querySelectorAll('details > summary')]"
                              ".map(s => s.innerText)")
    assert summaries == ["queued 1-250", "queued 251-500", "queued 501-600"]
    assert page.evaluate("[...document.querySelectorAll('details')].filter(d => d.open)"
                         ".length") == 1
    assert page.evaluate("document.querySelectorAll('tr.queued').length") == 600
    assert urljoin(page.url, "#group-queued").endswith("#group-queued")
    assert page.inner_text("#group-queued") == "queued (600)"
