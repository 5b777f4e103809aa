"""Jobs on the local target with the real worker and bpy (tiny renders)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/jobs: scenes.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests: subjects.py
import scenes  # noqa: E402
import subjects  # noqa: E402
from orbitfarm.submitter import jobs  # noqa: E402
from orbitfarm.submitter.files.imageio import read_exr, read_png  # noqa: E402
from orbitfarm.submitter.files.jobdir import JobDir  # noqa: E402
from orbitfarm.submitter.model.settings import RenderSettings  # noqa: E402

pytestmark = pytest.mark.render

TINY = dict(width=48, height=36, samples=2, frames=4)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBITFARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def _finish(job: JobDir, timeout: float = 240) -> jobs.JobStatus:
    st = jobs.wait(job, interval=0.3, timeout=timeout)
    assert st.finished, f"job did not finish in {timeout} s: {st.to_dict()}\n{jobs.logs(job)}"
    return st


def _colour_counts(png: Path) -> dict[str, int]:
    img = read_png(png)
    counts = {"red": 0, "green": 0, "blue": 0, "magenta": 0}
    for y in range(img.height):
        for x in range(img.width):
            r, g, b = img.pixel(x, y)[:3]
            if r > 230 and b > 230 and g < 30:
                counts["magenta"] += 1  # Blender's missing-texture pink (1, 0, 1)
            elif r > g + 100 and r > b + 100:
                counts["red"] += 1
            elif g > r + 100 and g > b + 100:
                counts["green"] += 1
            elif b > r + 100 and b > g + 100:
                counts["blue"] += 1
    return counts


def test_packed_job_renders_textures_after_moving_and_deleting_the_originals(
        tmp_path, bpy_python):
    src = tmp_path / "src"
    scene = scenes.make_linked_scene(bpy_python, src)
    request = jobs.SubmitRequest(
        files=[scene["path"]], out=str(tmp_path / "out"), job_dir=str(tmp_path / "made" / "job"),
        settings=RenderSettings(width=120, height=90, samples=2, frames=4, depth=False),
    )
    job = jobs.create(request)  # packaged and planned, not started
    moved = tmp_path / "mounted elsewhere ü" / "job"
    moved.parent.mkdir()
    shutil.move(str(job.path), moved)
    shutil.rmtree(src)  # the .blend, its linked library and both textures are gone
    job = jobs.open_job(str(moved))
    jobs.start(job)
    st = _finish(job)
    assert st.ok, st.to_dict()
    front = tmp_path / "out" / "main" / "rgb" / "0004.png"  # frame N = azimuth 0, front view
    counts = _colour_counts(front)
    assert counts["magenta"] == 0, counts  # no missing texture anywhere
    assert counts["green"] > 20, counts  # the main file's own external texture
    assert counts["red"] > 5 and counts["blue"] > 5, counts  # the linked library's checker


def test_batch_gives_each_subject_its_own_state_and_reason(tmp_path, bpy_python):
    src = tmp_path / "batch"
    subjects.make_subject(bpy_python, src / "good.blend", "cube")
    subjects.make_subject(bpy_python, src / "moving.blend", "animated")
    subjects.write_corrupt_blend(src / "broken.blend")
    job = jobs.submit(jobs.SubmitRequest(files=[str(src)], out=str(tmp_path / "out"),
                                         settings=RenderSettings(**TINY)))
    st = _finish(job)
    rows = {r.name: r for r in st.subjects}
    assert rows["good"].state == "rendered" and rows["good"].frames_done == 4
    assert rows["moving"].state == "skipped" and "animat" in rows["moving"].reason
    assert rows["broken"].state == "failed" and "not a readable .blend" in rows["broken"].reason
    assert st.failed_tasks == 1 and not st.ok
    assert any("broken.blend" in w and "cannot read" in w for w in st.warnings)
    for frame in range(1, 5):
        assert _colour_counts(tmp_path / "out" / "good" / "rgb" / f"{frame:04d}.png")["red"] > 20
    assert "broken" in jobs.logs(job)  # the failed task's log tail


def test_a_file_the_packer_cannot_handle_renders_in_place_and_the_rest_is_packed(
        tmp_path, bpy_python):
    src = tmp_path / "batch"
    subjects.make_subject(bpy_python, src / "good.blend", "textured")
    odd = scenes.make_external_multires(bpy_python, src / "sculpt.blend")
    job = jobs.submit(jobs.SubmitRequest(files=[str(src)], out=str(tmp_path / "out"),
                                         settings=RenderSettings(**TINY)))
    notes = [w for w in job.spec.warnings if "cannot be packed" in w]
    assert len(notes) == 1 and "sculpt.blend" in notes[0], job.spec.warnings
    assert "Traceback" not in notes[0] and "\n" not in notes[0] and len(notes[0]) < 500
    st = _finish(job)
    rows = {r.name: r for r in st.subjects}
    assert rows["good"].state == "rendered" and rows["sculpt"].state == "rendered", st.to_dict()
    packed = {Path(s.blend).name: s.blend for s in job.plan.subjects}
    assert Path(packed["sculpt.blend"]) == Path(odd["path"])  # rendered in place
    assert Path(job.path) in (job.path / Path(packed["good.blend"])).resolve().parents


def test_status_rows_are_one_line_and_show_warnings_wait_counts_right(tmp_path, bpy_python,
                                                                       capsys):
    from orbitfarm.submitter import cli

    src = tmp_path / "batch"
    tex = subjects.make_subject(bpy_python, src / "pinkish.blend", "textured")
    subjects.write_corrupt_blend(src / "broken.blend")
    job = jobs.submit(jobs.SubmitRequest(files=[str(src)], out=str(tmp_path / "out"),
                                         settings=RenderSettings(**TINY), allow_missing=True,
                                         pack=False))
    os.unlink(tex["texture"])  # gone before the worker loads the file: it renders pink
    capsys.readouterr()
    assert cli.main(["wait", str(job.path)]) == 1
    err = capsys.readouterr().err
    assert "4/8 frames rendered, 4 skipped or failed" in err, err
    assert cli.main(["status", str(job.path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.startswith(("pinkish", "broken"))}
    assert "1 warning in " in rows["pinkish"] and "result.json" in rows["pinkish"], out
    assert rows["broken"].split()[3:5] == ["cannot", "open"], rows["broken"]
    # A reason with several lines (here: a worker's traceback) stays one line in the table.
    state = job.read_state(job.task_ids()[0])
    name = next(iter(state.get("subjects") or {"broken": {}}))
    state.setdefault("subjects", {}).setdefault(name, {})["reason"] = "first line\nsecond\nthird"
    state["subjects"][name]["status"] = "failed"
    job.write_state(job.task_ids()[0], state)
    assert cli.main(["status", str(job.path)]) == 0
    out = capsys.readouterr().out
    assert "second" not in out and "first line [...]" in out, out
    assert f"in full: orbitfarm logs {job.path}" in out
    # The panel's job row: one-line reasons, the warning count and where to read them.
    from orbitfarm.operators import monitor

    row = monitor.summarize(str(job.path))
    assert row["warnings"] == 1 and "second" not in row["detail"], row
    assert "pinkish" in row["detail"] and "result.json" in row["detail"], row


def test_files_of_the_newest_blender_are_traced_and_packed(tmp_path, bpy_python, monkeypatch):
    """Blender 5.x saves zstd-compressed files: preflight says nothing false and packs them."""
    from blender_asset_tracer.blendfile import magic_compression
    from orbitfarm.submitter.jobs import preflight

    newest = Path(__file__).resolve().parents[2] / ".venv-5.3" / "bin" / "python"
    if not newest.exists():
        pytest.skip("no .venv-5.3 (bpy 5.3) to save a file with")
    info = subjects.make_subject(str(newest), tmp_path / "src" / "new.blend", "textured")
    report = preflight.check([info["path"]])
    assert report.problems == [] and report.unreadable == []
    assert report.dependencies[info["path"]] == [info["texture"]]
    job = jobs.create(jobs.SubmitRequest(files=[info["path"]], out=str(tmp_path / "out"),
                                         settings=RenderSettings(**TINY)))
    stored = [p.name for p in (job.path / "inputs" / "files").rglob("*.png")]
    assert stored == [Path(info["texture"]).name]

    # Without the zstandard module a compressed file cannot be traced: say exactly that.
    if Path(info["path"]).read_bytes()[:4] == b"\x28\xb5\x2f\xfd":
        monkeypatch.setattr(magic_compression, "zstandard", None)
        monkeypatch.setitem(sys.modules, "zstandard", None)
        lines = preflight.check([info["path"]]).summary()
        assert "zstandard" in lines and "fail" not in lines, lines


def test_missing_library_is_not_called_a_pink_texture(tmp_path, bpy_python):
    from orbitfarm.submitter.jobs import preflight

    scene = scenes.make_linked_scene(bpy_python, tmp_path)
    os.unlink(scene["lib"])
    problems = preflight.check([scene["path"]]).errors
    lib = [p for p in problems if "lib.blend" in p.message]
    assert lib and "pink" not in lib[0].hint and "linked objects" in lib[0].hint, problems


def test_kill_9_mid_task_leaves_no_corrupt_frames_and_retry_finishes(tmp_path, bpy_python):
    subjects.make_subject(bpy_python, tmp_path / "src" / "cube.blend", "cube")
    settings = RenderSettings(width=160, height=120, samples=16, frames=40)
    job = jobs.submit(jobs.SubmitRequest(files=[str(tmp_path / "src")], out=str(tmp_path / "out"),
                                         settings=settings))
    (task_id,) = job.task_ids()
    out = tmp_path / "out" / "cube"
    deadline = time.monotonic() + 180
    while True:  # kill as soon as a couple of frames are on disk
        state = job.read_state(task_id)
        on_disk = len(list((out / "depth").glob("[0-9][0-9][0-9][0-9].exr"))) if (
            out / "depth").is_dir() else 0
        if state.get("state") == "running" and on_disk >= 2:
            break
        assert state.get("state") in ("queued", "running"), state
        assert time.monotonic() < deadline, state
        time.sleep(0.02)
    os.kill(state["pid"], signal.SIGKILL)
    st = _finish(job)
    rows = {r.name: r for r in st.subjects}
    assert rows["cube"].state == "failed" and "killed by signal 9" in rows["cube"].reason
    assert st.retryable == [task_id]
    # A frame is finished when both its PNG and its EXR exist (the kill may fall in between).
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "rgb").glob("[0-9][0-9][0-9][0-9].png")
            if (out / "depth" / f"{p.stem}.exr").exists()}
    assert 1 <= len(kept) < 40
    for png in (out / "rgb").glob("[0-9][0-9][0-9][0-9].png"):
        read_png(png)  # every frame under its final name decodes
    for exr in (out / "depth").glob("[0-9][0-9][0-9][0-9].exr"):
        read_exr(exr)

    assert jobs.retry(job) == [task_id]
    st = _finish(job)
    assert st.ok and st.subjects[0].frames_done == 40, st.to_dict()
    assert len(list((out / "rgb").glob("[0-9][0-9][0-9][0-9].png"))) == 40
    assert job.read_state(task_id)["attempt"] == 2
    redone = sorted(n for n, m in kept.items() if (out / "rgb" / n).stat().st_mtime_ns != m)
    assert not redone, f"finished frames were rendered again: {redone}"


def test_cancel_stops_runner_and_workers(tmp_path, bpy_python):
    for name in ("a", "b"):
        subjects.make_subject(bpy_python, tmp_path / "src" / f"{name}.blend", "cube")
    # Long enough not to finish before the cancel (a tiny orbit renders in well under 1 s);
    # the cancel cuts it short, so its length costs nothing.
    job = jobs.submit(jobs.SubmitRequest(
        files=[str(tmp_path / "src")], out=str(tmp_path / "out"), target_options={"workers": 1},
        settings=RenderSettings(width=160, height=120, samples=16, frames=360)))
    first = job.task_ids()[0]
    deadline = time.monotonic() + 120
    while job.read_state(first).get("state") != "running":  # cancel a worker mid-render
        assert time.monotonic() < deadline, job.read_state(first)
        time.sleep(0.05)
    cancelled = jobs.cancel(job)
    assert len(cancelled) == 2
    st = jobs.status(job)
    assert st.finished and {r.state for r in st.subjects} == {"cancelled"}
    runner = job.target_record()["runs"][0]["runner_pid"]
    assert not Path(f"/proc/{runner}").exists() or "Z" in Path(f"/proc/{runner}/stat").read_text()
    assert jobs.retry(job) == job.task_ids()  # a cancelled job can be resumed
    jobs.cancel(job)


HOSTILE = "we ird $(touch PWNED) 'q' \"dq\" ü"


def test_hostile_file_and_folder_names_through_the_cli(tmp_path, bpy_python):
    src = tmp_path / HOSTILE
    subjects.make_subject(bpy_python, src / f"cube {HOSTILE}.blend", "cube")
    out = tmp_path / f"out {HOSTILE}"
    env = dict(os.environ)
    proc = subprocess.run(
        [bpy_python, "-m", "orbitfarm.submitter.cli", "submit", str(src), "--out", str(out),
         "--resolution", "48x36", "--samples", "2", "--frames", "4", "--wait"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rgb = out / f"cube {HOSTILE}" / "rgb"
    assert sorted(p.name for p in rgb.iterdir()) == [f"{i:04d}.png" for i in range(1, 5)]
    assert _colour_counts(rgb / "0004.png")["red"] > 20
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()
    (job_ref,) = [line[len("directory "):] for line in proc.stdout.splitlines()
                  if line.startswith("directory ")]
    status = subprocess.run([bpy_python, "-m", "orbitfarm.submitter.cli", "status", job_ref,
                             "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert status.returncode == 0 and '"rendered"' in status.stdout


def test_preflight_refuses_missing_textures_unless_allowed(tmp_path, bpy_python):
    info = subjects.make_subject(bpy_python, tmp_path / "src" / "tex.blend", "textured")
    Path(info["texture"]).unlink()
    request = jobs.SubmitRequest(files=[info["path"]], out=str(tmp_path / "out"),
                                 settings=RenderSettings(**TINY))
    with pytest.raises(jobs.JobError) as refused:
        jobs.submit(request)
    message = str(refused.value)
    assert "missing dependency" in message and "texture.png" in message
    assert "--allow-missing" in message
    assert not (tmp_path / "out").exists()  # nothing half-made
    request.allow_missing = True
    job = jobs.create(request)
    assert any("missing dependency" in w for w in job.spec.warnings)


def test_cancelled_packaging_leaves_nothing(tmp_path, bpy_python):
    import threading

    for name in ("a", "b"):
        subjects.make_subject(bpy_python, tmp_path / "src" / f"{name}.blend", "textured")
    cancel = threading.Event()
    seen: list[tuple[str, float]] = []

    def progress(message: str, fraction: float) -> None:
        seen.append((message, fraction))
        if message.startswith("packing b"):
            cancel.set()  # the user pressed Esc half-way

    with pytest.raises(jobs.JobError, match="cancelled"):
        jobs.submit(jobs.SubmitRequest(files=[str(tmp_path / "src")], out=str(tmp_path / "out"),
                                       settings=RenderSettings(**TINY)), progress, cancel)
    assert [m for m, _ in seen][:4] == ["preflight", "checking a.blend", "checking b.blend",
                                        "packing a.blend"]
    assert all(0.0 <= f <= 1.0 for _, f in seen)
    assert not list((tmp_path / "out" / ".orbitfarm" / "jobs").iterdir())
    assert jobs.recent_jobs() == []


def test_inplace_without_packing_renders_next_to_each_blend(tmp_path, bpy_python):
    for folder in ("asset one", "asset two"):
        subjects.make_subject(bpy_python, tmp_path / folder / "model.blend", "cube")
    job = jobs.submit(jobs.SubmitRequest(
        files=[str(tmp_path / "asset one"), str(tmp_path / "asset two")], out="",
        inplace=True, pack=False, chunk=2, settings=RenderSettings(**TINY)))
    assert len(job.task_ids()) == 4  # 2 subjects x 2 chunks of 2 frames
    st = _finish(job)
    assert st.ok, st.to_dict()
    for folder in ("asset one", "asset two"):
        rgb = tmp_path / folder / "model" / "rgb"
        assert sorted(p.name for p in rgb.iterdir()) == [f"{i:04d}.png" for i in range(1, 5)]
    assert not (job.path / "inputs").exists()
    assert job.plan.subjects[0].blend == str(tmp_path / "asset one" / "model.blend")
    assert [r.name for r in st.subjects] == ["asset one_model", "asset two_model"]


def test_runner_killed_makes_tasks_lost_and_retry_completes_them(tmp_path, bpy_python):
    for name in ("a", "b"):
        subjects.make_subject(bpy_python, tmp_path / "src" / f"{name}.blend", "cube")
    job = jobs.submit(jobs.SubmitRequest(
        files=[str(tmp_path / "src")], out=str(tmp_path / "out"), target_options={"workers": 1},
        settings=RenderSettings(width=96, height=72, samples=4, frames=30)))
    first, second = job.task_ids()
    deadline = time.monotonic() + 120
    while job.read_state(first).get("state") != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    runner = job.target_record()["runs"][0]["runner_pid"]
    os.killpg(runner, signal.SIGKILL)  # the machine "reboots": runner and worker vanish
    time.sleep(0.5)
    # No waiting for the heartbeat to go stale (30 s): the local target checks the pids itself.
    st = jobs.status(job)
    states = {t: job.read_state(t) for t in (first, second)}
    assert states[first]["state"] == "lost" and "are gone" in states[first]["reason"]
    assert states[second]["state"] == "lost" and "before starting" in states[second]["reason"]
    assert st.finished and sorted(st.retryable) == [first, second]
    assert sorted(jobs.retry(job)) == [first, second]
    st = _finish(job)
    assert st.ok and [r.state for r in st.subjects] == ["rendered", "rendered"], st.to_dict()


_SEQUENCE_SCENE = r'''
import bpy, os, sys
root = sys.argv[-1]
bpy.ops.wm.read_factory_settings(use_empty=True)
os.makedirs(os.path.join(root, "seq"), exist_ok=True)
for i in range(1, 4):
    img = bpy.data.images.new(f"f{i}", 4, 4)
    img.pixels[:] = [i / 4, 0, 0, 1] * 16
    img.filepath_raw = os.path.join(root, "seq", f"frame_{i:04d}.png")
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)
im = bpy.data.images.load(os.path.join(root, "seq", "frame_0001.png"))
im.source = "SEQUENCE"
im.use_fake_user = True
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(root, "s.blend"), relative_remap=True)
sys.stdout.flush()
__import__("shutil").rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's own removal
os._exit(0)
'''


def test_image_sequences_are_packed_whole_and_kept_apart(tmp_path, bpy_python):
    from orbitfarm.submitter.jobs.pack import pack_subjects

    # Two sequences whose first frames are identical but whose other frames differ.
    for folder, salt in (("one", 0), ("two", 1)):
        subprocess.run([bpy_python, "-c", _SEQUENCE_SCENE, str(tmp_path / folder)], check=True,
                       capture_output=True, env=subjects._env(), timeout=120)
        (tmp_path / folder / "seq" / "frame_0003.png").write_bytes(
            (tmp_path / folder / "seq" / "frame_0003.png").read_bytes() + bytes([salt]))
    packed, stats = pack_subjects([("one", tmp_path / "one" / "s.blend"),
                                   ("two", tmp_path / "two" / "s.blend")], tmp_path / "inputs")
    copies = sorted((tmp_path / "inputs" / "files").rglob("frame_*.png"))
    assert len(copies) == 6  # both sequences, every frame, not merged by the first frame
    for folder in ("one", "two"):
        third = [p for p in copies if p.name == "frame_0003.png"
                 and p.read_bytes() == (tmp_path / folder / "seq" / "frame_0003.png").read_bytes()]
        assert len(third) == 1
    assert not stats.missing


_ABSOLUTE_TEXTURE = r'''
import bpy, os, sys
blend, texture = sys.argv[-2], sys.argv[-1]
bpy.ops.wm.read_factory_settings(use_empty=True)
img = bpy.data.images.new("t", 4, 4)
img.filepath_raw = texture
img.file_format = "PNG"
img.save()
bpy.data.images.remove(img)
bpy.data.images.load(texture).use_fake_user = True
bpy.ops.wm.save_as_mainfile(filepath=blend, relative_remap=False)
sys.stdout.flush()
__import__("shutil").rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's own removal
os._exit(0)
'''


def test_preflight_warns_about_absolute_paths_outside_the_project(tmp_path, bpy_python):
    from orbitfarm.submitter.jobs import preflight

    blend, texture = tmp_path / "project" / "a.blend", tmp_path / "elsewhere" / "t.png"
    blend.parent.mkdir()
    texture.parent.mkdir()
    subprocess.run([bpy_python, "-c", _ABSOLUTE_TEXTURE, str(blend), str(texture)], check=True,
                   capture_output=True, env=subjects._env(), timeout=120)
    report = preflight.check([str(blend)])
    assert report.ok  # a warning, not a refusal: packing copies the file
    (warning,) = report.warnings
    assert "absolute path outside the project" in warning.message and str(texture) in warning.message
    assert "--no-pack" in warning.hint
    texture.unlink()
    report = preflight.check([str(blend)])
    assert not report.ok and "missing dependency" in report.errors[0].message
