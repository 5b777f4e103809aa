"""Issue 16's reliability holes, one test each: retry refused or racing, retry after a crash,
unsafe values, secrets, and the small ones (empty files, foreign index lines, disk full)."""

from __future__ import annotations

import ast
import http.server
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from orbitfarm.submitter import jobs
from orbitfarm.submitter.files import atomic
from orbitfarm.submitter.files.jobdir import JobDir
from orbitfarm.submitter.jobs import control
from orbitfarm.submitter.jobs.index import remember
from orbitfarm.submitter.model.jobspec import JobSpec
from orbitfarm.submitter.model.plan import make_plan
from orbitfarm.submitter.model.settings import RenderSettings, SettingsError
from orbitfarm.submitter.model.states import Phase
from orbitfarm.submitter.model.task import Subject
from orbitfarm.submitter.targets import profiles
from orbitfarm.submitter.targets.base import SchedulerState, TargetError
from orbitfarm.submitter.targets.local.runner import record_file
from orbitfarm.submitter.targets.local.target import LocalTarget

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # subjects.py builds real .blend files


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)


def _job(root: Path, subjects: int = 1, target: dict | None = None,
         max_attempts: int = 3) -> JobDir:
    settings = RenderSettings(frames=4)
    subs = [Subject(blend=str(root / "src" / f"s{i}.blend"), out=str(root / "out" / f"s{i}"),
                    name=f"s{i}") for i in range(subjects)]
    spec = JobSpec(id="job-r", settings=settings,
                   target=target or {"kind": "local", "name": "local"},
                   out=str(root / "out"), max_attempts=max_attempts)
    job = JobDir(root / "job")
    job.write_new(spec, make_plan("job-r", settings, subs))
    return job


def _failed(job: JobDir, task_id: str, attempt: int = 1, reason: str = "real reason") -> None:
    job.write_state(task_id, {"task": task_id, "state": "failed", "attempt": attempt,
                              "reason": reason, "exit_code": 1})


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orbitfarm.submitter.cli", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


# -- item 2: a retry the target refuses changes no task state and says why ---------------------


def test_a_refused_retry_changes_no_task_state_and_says_why(tmp_path):
    # A SLURM profile on a machine without sbatch: the target is unreachable for real.
    job = _job(tmp_path, target={"kind": "slurm", "name": "gpu"})
    (task_id,) = job.task_ids()
    _failed(job, task_id)
    job.save_target_record({"kind": "slurm", "arrays": []})
    before = job.state_file(task_id).read_bytes()
    markers = sorted(os.listdir(job.markers_dir))
    for _ in range(2):  # twice: the "two refused retries" left the task failed for good
        run = _cli("retry", str(job.path), env={"PATH": str(tmp_path / "nothing")})
        assert run.returncode == 2, run.stderr
        assert "refused the retry" in run.stderr and "no task state was changed" in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert job.state_file(task_id).read_bytes() == before
        assert sorted(os.listdir(job.markers_dir)) == markers
    st = jobs.status(JobDir(job.path), refresh=False)
    assert st.retryable == [task_id] and st.subjects[0].reason == "real reason"


class _RefusingTarget(LocalTarget):
    """The local target, except that its scheduler refuses the submission itself."""

    def check(self) -> None:
        pass

    def submit(self, job, attempts):
        raise TargetError("sbatch: error: Batch job submission failed: Invalid account")


def test_a_submission_refused_after_reopening_restores_every_state(tmp_path, monkeypatch):
    job = _job(tmp_path, subjects=2)
    a, b = job.task_ids()
    _failed(job, a)
    job.write_state(b, {"task": b, "state": "cancelled", "attempt": 1, "reason": "by user"})
    job.save_target_record({"kind": "local", "runs": []})
    files = {t: job.state_file(t).read_bytes() for t in (a, b)}
    markers = sorted(os.listdir(job.markers_dir))
    monkeypatch.setattr(control, "make_target", lambda profile: _RefusingTarget(profile))
    with pytest.raises(jobs.JobError, match="Invalid account.*no task state was changed"):
        jobs.retry(JobDir(job.path))
    assert {t: job.state_file(t).read_bytes() for t in (a, b)} == files
    assert sorted(os.listdir(job.markers_dir)) == markers
    st = jobs.status(JobDir(job.path), refresh=False)
    assert sorted(st.retryable) == [a, b] and st.tasks == {"failed": 1, "cancelled": 1}


# -- items 3 and 4: retry right after a crash; two retries at once ------------------------------


class _RecordingLocal(LocalTarget):
    """The real local target's poll (pids, runner records); submissions are recorded instead of
    starting renders (test_local_render covers those)."""

    submitted: list[dict[str, int]] = []

    def check(self) -> None:
        pass

    def submit(self, job, attempts):
        time.sleep(0.3)  # a real submit takes a moment: the window two retries raced in
        self.submitted.append(dict(attempts))
        record = job.target_record()
        record["runs"].append({"run": len(record["runs"]) + 1, "runner_pid": os.getpid(),
                               "host": socket.gethostname(), "tasks": "local/none.json"})
        job.save_target_record(record)


def _crashed_local_job(tmp_path: Path) -> tuple[JobDir, str]:
    """A local job whose runner and worker were just killed -9 mid-render (fresh heartbeat)."""
    job = _job(tmp_path)
    (task_id,) = job.task_ids()
    runner, worker = _dead_pid(), _dead_pid()
    runs = job.path / "local" / "run-1.json"
    runs.parent.mkdir()
    runs.write_text(json.dumps({"run": 1, "tasks": [task_id]}))
    job.save_target_record({"kind": "local", "runs": [
        {"run": 1, "runner_pid": runner, "host": socket.gethostname(),
         "tasks": "local/run-1.json"}]})
    record = record_file(job.path, task_id)
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"run": 1, "pid": worker, "started": time.time()}))
    now = time.time()
    job.write_state(task_id, {"task": task_id, "state": "running", "attempt": 1, "pid": worker,
                              "host": socket.gethostname(), "started": now, "heartbeat": now})
    return job, task_id


def test_retry_right_after_a_crash_finds_the_lost_tasks(tmp_path, monkeypatch):
    job, task_id = _crashed_local_job(tmp_path)
    _RecordingLocal.submitted = []
    monkeypatch.setattr(control, "make_target", lambda profile: _RecordingLocal(profile))
    assert jobs.retry(JobDir(job.path)) == [task_id]  # no `status` first, no 30 s wait
    assert _RecordingLocal.submitted == [{task_id: 2}]


def test_two_retries_at_once_submit_each_task_once(tmp_path, monkeypatch):
    job = _job(tmp_path, max_attempts=2)
    (task_id,) = job.task_ids()
    _failed(job, task_id)
    job.save_target_record({"kind": "local", "runs": []})
    _RecordingLocal.submitted = []
    monkeypatch.setattr(control, "make_target", lambda profile: _RecordingLocal(profile))
    pending = lambda self, job, ids: {t: SchedulerState(Phase.PENDING) for t in ids}  # noqa: E731
    monkeypatch.setattr(_RecordingLocal, "poll", pending)
    from orbitfarm.submitter.jobs import job_status

    monkeypatch.setattr(job_status, "make_target", lambda profile: _RecordingLocal(profile))
    real_status = control.status

    def slow_status(job, refresh=True):  # both look before either acts: the race
        found = real_status(job, refresh)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(control, "status", slow_status)
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(jobs.retry(JobDir(job.path))))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [task_id]]
    assert _RecordingLocal.submitted == [{task_id: 2}]
    assert (job.path / "job.lock").is_file()


# -- item 5: values with limits, keys checked, YAML bombs refused, strict JSON -----------------


@pytest.mark.parametrize("field, value, says", [
    ("radius", float("inf"), "--radius must be a finite number from 1e-06 to 1e+06"),
    ("radius", 1e30, "--radius must be a finite number"),
    ("radius", float("nan"), "--radius"),
    ("frames", 10**9, "--frames must be a whole number from 1 to 100000"),
    ("margin", float("inf"), "margin"),
    ("elevation", float("nan"), "--elevation"),
    ("samples", 2.5, "--samples"),
    ("rgb", "yes", "rgb must be true or false"),
])
def test_unsafe_render_values_are_refused_saying_what_is_allowed(field, value, says):
    with pytest.raises(SettingsError, match=re.escape(says)):
        RenderSettings(**{field: value}).validate()


def test_radius_inf_and_a_billion_frames_are_one_line_on_the_cli(tmp_path):
    (tmp_path / "a.blend").write_bytes(b"BLENDER")
    for option in (["--radius", "inf"], ["--radius", "1e30"], ["--frames", "1000000000"]):
        started = time.monotonic()
        run = _cli("submit", str(tmp_path / "a.blend"), "--out", str(tmp_path / "o"), *option)
        assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert "must be a" in run.stderr and time.monotonic() - started < 30
    assert not (tmp_path / "o").exists()


_BOMB = """targets:
  fast:
    kind: local
    workers: 2
    description: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
""" + "".join(f"    x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10))


def test_a_yaml_alias_bomb_in_a_profile_is_refused_quickly(tmp_path):
    (tmp_path / "orbitfarm.yaml").write_text(_BOMB)
    started = time.monotonic()
    with pytest.raises(TargetError, match="alias bomb"):
        profiles.load_profiles()
    run = _cli("targets", "--json")
    assert run.returncode == 2 and "alias bomb" in run.stderr, run.stderr
    assert time.monotonic() - started < 30
    # Anchors and aliases within reason still work (profiles share settings with them).
    (tmp_path / "orbitfarm.yaml").write_text(
        "targets:\n  a: &base {kind: local, workers: 2}\n  b: *base\n")
    assert profiles.load_profiles()["b"]["workers"] == 2


def test_misspelt_and_mistyped_profile_keys_are_refused_with_a_suggestion(tmp_path):
    (tmp_path / "orbitfarm.yaml").write_text(
        "targets:\n  fast: {kind: local, wrokers: 2}\n  three: {kind: local, workers: three}\n")
    run = _cli("targets")
    assert run.returncode == 0, run.stderr
    lines = {line.split()[0]: line for line in run.stdout.splitlines() if "unavailable" in line}
    assert "'wrokers' (did you mean 'workers'?)" in lines["fast"]
    assert "--workers must be a whole number from 1 to 1024" in lines["three"]
    (tmp_path / "a.blend").write_bytes(b"BLENDER")
    run = _cli("submit", str(tmp_path / "a.blend"), "--out", str(tmp_path / "o"),
               "--target", "fast")
    assert run.returncode == 2 and "did you mean 'workers'" in run.stderr, run.stderr


def test_every_json_we_write_is_strict():
    with pytest.raises(ValueError):
        atomic.atomic_write_json(Path(os.devnull + "-never-written"), {"radius": float("inf")})
    # Every json.dump/json.dumps call in the package refuses NaN and Infinity.
    missing = []
    for path in REPO.rglob("*.py"):
        if any(part.startswith(".") or part in ("tests", "bench", "tools")
               for part in path.relative_to(REPO).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("dump", "dumps")
                    and getattr(node.func.value, "id", "") == "json"
                    and not any(k.arg == "allow_nan" for k in node.keywords)):
                missing.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not missing, f"json.dump(s) without allow_nan=False: {missing}"


# -- item 6: secrets by reference, private copies, redacted logs --------------------------------


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.path, json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _planned(tmp_path: Path, notify: str | None) -> JobDir:
    (tmp_path / "src").mkdir(parents=True, exist_ok=True)
    (tmp_path / "src" / "a.blend").write_bytes(b"BLENDER")
    job, _ = jobs.dry_run(jobs.SubmitRequest(
        files=[str(tmp_path / "src")], out=str(tmp_path / "out"), settings=RenderSettings(),
        pack=False, notify=notify or None))
    return job


def _files_holding(root: Path, secret: str) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and secret.encode() in p.read_bytes())


def test_a_literal_notify_url_is_kept_private_and_redacted_in_logs(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://bot:s3cret@127.0.0.1:{server.server_port}/hook/TOKEN123"
    try:
        job = _planned(tmp_path, url)
        assert job.spec.notify == "file:notify.secret"
        assert job.spec.target["notify"] == "file:notify.secret"
        for secret in ("s3cret", "TOKEN123"):
            assert _files_holding(job.path, secret) == ["notify.secret"]
            assert _files_holding(Path(os.environ["ORBITFARM_HOME"]), secret) == []
        assert stat.S_IMODE((job.path / "notify.secret").stat().st_mode) == 0o600
        (task_id,) = job.task_ids()
        job.write_state(task_id, {"state": "done", "attempt": 1})
        assert jobs.status(job).finished
        assert [(p, m["event"]) for p, m in _Hook.received] == [("/hook/TOKEN123",
                                                                  "job_finished")]
    finally:
        server.shutdown()
        server.server_close()
    # The hook is gone now: the failure is logged with the host only.
    job.write_state(task_id, {"state": "failed", "attempt": 3, "reason": "x"})  # for good
    jobs.status(JobDir(job.path))
    log = (job.path / "notify.log").read_text()
    assert "127.0.0.1" in log and "s3cret" not in log and "TOKEN123" not in log


def test_notify_by_environment_variable_or_private_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_TEST_HOOK", "https://hooks.example.org/T0K3N")
    job = _planned(tmp_path / "env", "env:ORBITFARM_TEST_HOOK")
    assert job.spec.notify == "env:ORBITFARM_TEST_HOOK"
    assert _files_holding(job.path, "T0K3N") == [] and not (job.path / "notify.secret").exists()
    hook = tmp_path / "hook.url"
    hook.write_text("https://hooks.example.org/T0K3N\n")
    hook.chmod(0o644)
    with pytest.raises(jobs.JobError, match="can be read by others; `chmod 600"):
        _planned(tmp_path / "file", f"file:{hook}")
    hook.chmod(0o600)
    job = _planned(tmp_path / "file", f"file:{hook}")
    assert job.spec.notify == f"file:{hook}" and _files_holding(job.path, "T0K3N") == []
    monkeypatch.delenv("ORBITFARM_TEST_HOOK")
    with pytest.raises(jobs.JobError, match="ORBITFARM_TEST_HOOK is not set"):
        _planned(tmp_path / "unset", "env:ORBITFARM_TEST_HOOK")


# -- item 10: the small ones -------------------------------------------------------------------


def test_a_non_utf8_line_in_the_jobs_index_hides_nothing_else(tmp_path):
    job = _job(tmp_path)
    remember(job, 1, 1)
    index = Path(os.environ["ORBITFARM_HOME"]) / "jobs.jsonl"
    with open(index, "ab") as fh:
        fh.write(b'{"id": "caf\xe9", "path": "/x", "created": 1}\n\xff\xfe garbage\n')
        fh.write(b'{"id": "bad-created", "path": "/x", "created": "yesterday", "subjects": 1, '
                 b'"tasks": 1, "target": "local"}\n')
    assert [j.id for j in jobs.recent_jobs()] == ["job-r"]
    assert jobs.open_job("job-r").path == job.path
    run = _cli("jobs")
    assert run.returncode == 0 and "job-r" in run.stdout, run.stderr


def test_two_jobs_on_one_out_are_told_and_share_the_work(tmp_path):
    first = _planned(tmp_path, "")
    first.save_target_record({"kind": "local", "runs": []})  # submitted, nothing finished
    second = _planned(tmp_path, "")
    assert any(f"job {first.id} is still rendering 1 of the same subject" in w
               for w in second.spec.warnings), second.spec.warnings
    (task_id,) = first.task_ids()
    first.write_state(task_id, {"state": "done", "attempt": 1})
    third = _planned(tmp_path, "")
    assert not any("still rendering" in w for w in third.spec.warnings)


def _can_mount_tmpfs() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare (user + mount namespaces)")
def test_disk_full_during_submit_is_one_line_and_leaves_nothing(tmp_path):
    # A real full disk: a 512 KiB tmpfs as --out, in a private mount namespace (no root needed).
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.blend").write_bytes(b"BLENDER")
    out = tmp_path / "full"
    out.mkdir()
    command = (f"mount -t tmpfs -o size=512k tmpfs {out} || exit 99; {sys.executable} -m "
               f"orbitfarm.submitter.cli submit {tmp_path / 'src'} --out {out} --no-pack "
               f"--dry-run; rc=$?; find {out} -type f; exit $rc")
    run = subprocess.run(["unshare", "-rm", "sh", "-c", command],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""  # the half-written job directory is gone
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], run.stderr
    assert "nothing was submitted" in lines[0] and "Traceback" not in run.stderr


# -- item 7: thousands of small subjects ---------------------------------------------------------

_PREFLIGHT_BOTH_WAYS = r"""
import json, sys
from orbitfarm.submitter.jobs import dna_cache, preflight
files = json.loads(sys.argv[1])
assert preflight._helpers(len(files)) >= 2 or preflight._helpers(len(files)) == 0
parallel = preflight.check(files)
preflight.PARALLEL_FROM = 10 ** 9
dna_cache.uninstall()
serial = preflight.check(files)  # in this process, the DNA decoded per file once more
print(json.dumps([(r.to_dict(), r.dependencies) for r in (parallel, serial)]))
"""


def test_preflight_of_many_files_in_helpers_with_shared_dna_reports_the_same(tmp_path,
                                                                            bpy_python):
    import subjects

    cube = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")["path"]
    textured = subjects.make_subject(bpy_python, tmp_path / "tex" / "t.blend", "textured")
    files = []
    for i in range(60):
        os.link(cube, tmp_path / f"s{i:02d}.blend")
        files.append(str(tmp_path / f"s{i:02d}.blend"))
    files.insert(30, textured["path"])
    (tmp_path / "broken.blend").write_bytes(b"BLENDER-v404" + b"\0" * 64)
    files.insert(7, str(tmp_path / "broken.blend"))
    for texture in (tmp_path / "tex").glob("*.png"):
        texture.unlink()  # a missing dependency among 62 files
    run = subprocess.run([sys.executable, "-c", _PREFLIGHT_BOTH_WAYS, json.dumps(files)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    parallel, serial = json.loads(run.stdout)
    assert parallel == serial
    problems = parallel[0]["problems"]
    assert [p["subject"] for p in problems] == [str(tmp_path / "broken.blend"), textured["path"]]
    assert problems[1]["severity"] == "error" and "missing dependency" in problems[1]["message"]
    assert len(parallel[1]) == 62
