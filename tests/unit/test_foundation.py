"""Foundation contracts: plain-Python core without bpy, settings validation, worker launch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from orbitfarm.submitter.launch import runtime as launch
from orbitfarm.submitter.model.settings import RenderSettings, SettingsError
from orbitfarm.submitter.model.task import Subject, WorkerTask

REPO = Path(__file__).resolve().parents[2]


def test_submitter_imports_without_bpy():
    """Every submitter module must import on a login node that has no Blender."""
    code = (
        "import sys, importlib, pkgutil; sys.modules['bpy'] = None; sys.modules['mathutils'] = None\n"
        "import orbitfarm.submitter as s, orbitfarm.submitter.targets as t\n"
        "names = [m.name for p in (s, t) for m in pkgutil.iter_modules(p.__path__, p.__name__ + '.')]\n"
        "[importlib.import_module(n) for n in names]\n"
        "print(len(names))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) >= 5


def test_root_package_imports_without_bpy():
    out = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['bpy'] = None; import orbitfarm; "
         "assert callable(orbitfarm.register)"],
        capture_output=True, text=True, cwd="/",
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"frames": 0}, "--frames"),
        ({"frame_range": "5-2"}, "backwards"),
        ({"frame_range": "1-400"}, "outside"),
        ({"width": 0}, "width"),
        ({"radius": -1.0}, "--radius"),
        ({"elevation": 90.0}, "--elevation"),
        ({"engine": "luxcore"}, "--engine"),
        ({"samples": 0}, "--samples"),
        ({"device": "tpu"}, "--device"),
        ({"rgb": False, "depth": False, "poses": False}, "nothing to output"),
    ],
)
def test_bad_settings_get_a_clear_message(changes, message):
    with pytest.raises(SettingsError, match=message):
        RenderSettings(**changes).validate()


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(SettingsError, match="unknown render setting.*resolutoin"):
        RenderSettings.from_dict({"resolutoin": "1x1"})


def test_settings_hash_ignores_frame_range_but_not_pixels():
    base = RenderSettings()
    assert base.settings_hash() == RenderSettings(frame_range="1-10").settings_hash()
    assert base.settings_hash() == RenderSettings(samples=64).settings_hash()  # the default
    assert base.settings_hash() != RenderSettings(width=320).settings_hash()
    assert base.settings_hash() != RenderSettings(elevation=10).settings_hash()


def test_worker_task_round_trip(tmp_path):
    task = WorkerTask(
        settings=RenderSettings(frames=8, width=32, height=24),
        subjects=[Subject(blend="/a/b c/it's.blend", out="/o/ü")],
        frames=[1, 2, 3],
        task_id="t0",
    )
    path = tmp_path / "task.json"
    task.write(path)
    back = WorkerTask.read(path)
    assert back == task
    assert back.subjects[0].name == "it's"


def test_worker_task_version_mismatch_is_explained():
    data = json.loads(WorkerTask(settings=RenderSettings(), subjects=[]).to_json())
    data["version"] = 99
    with pytest.raises(SettingsError, match="different orbitfarm versions"):
        WorkerTask.from_json(json.dumps(data))


def _fake_package(root: Path) -> Path:
    """A stand-in orbitfarm package whose worker records the arguments it was given."""
    pkg = root / "code dir $(touch pwned) 'q' ü"
    (pkg / "worker").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "worker" / "__init__.py").write_text("")
    (pkg / "worker" / "main.py").write_text(
        "import json, sys\n"
        "def entry(argv):\n"
        "    from . import __name__ as me\n"
        "    json.dump({'argv': argv, 'module': me}, open(argv[-1] + '.out', 'w'))\n"
    )
    return pkg


def test_worker_argv_loads_the_package_from_any_folder_name(tmp_path):
    """The boot expression imports 'orbitfarm' from a hostile folder name and passes argv on."""
    pkg = _fake_package(tmp_path)
    task = tmp_path / "task file ü.json"
    argv = launch.worker_argv(launch.Runtime("python", sys.executable), pkg, task)
    subprocess.run(argv, check=True, cwd=tmp_path, env=launch.worker_env())
    got = json.loads(Path(str(task) + ".out").read_text())
    assert got == {"argv": ["--task", str(task)], "module": "orbitfarm.worker"}
    assert not (tmp_path / "pwned").exists()


def test_worker_shell_line_survives_the_shell(tmp_path):
    pkg = _fake_package(tmp_path)
    task = tmp_path / "a \"b\" $(c) `d`.json"
    line = launch.worker_shell_line(launch.Runtime("python", sys.executable), str(pkg), str(task))
    subprocess.run(["bash", "-c", line], check=True, cwd=tmp_path)
    assert json.loads(Path(str(task) + ".out").read_text())["argv"] == ["--task", str(task)]
    assert not (tmp_path / "pwned").exists()


def test_blender_runtime_never_runs_embedded_scripts():
    argv = launch.worker_argv(launch.Runtime("blender", "/opt/blender/blender"), "/c", "/t")
    assert argv[:4] == ["/opt/blender/blender", "-b", "--factory-startup", "--disable-autoexec"]
    assert argv[-4:] == ["--", "/c", "--task", "/t"]


def test_detect_runtime_prefers_explicit_settings(monkeypatch):
    monkeypatch.delenv("ORBITFARM_BLENDER", raising=False)
    monkeypatch.delenv("ORBITFARM_PYTHON", raising=False)
    assert launch.detect_runtime(blender="/x/blender") == launch.Runtime("blender", "/x/blender")
    assert launch.detect_runtime(python="/x/py") == launch.Runtime("python", "/x/py")
    monkeypatch.setenv("ORBITFARM_BLENDER", "/env/blender")
    assert launch.detect_runtime().executable == "/env/blender"


def test_every_code_folder_is_packaged(tmp_path):
    """Every folder holding Python code is a package setup.py discovers, so none is left out
    of the installed package (a folder without __init__.py would be, silently)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("orbitfarm_setup", REPO / "setup.py")
    setup = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(setup)
    folders = {p.parent for f in setup.CODE_FOLDERS for p in (REPO / f).rglob("*.py")
               if "__pycache__" not in p.parts}
    expected = {"orbitfarm." + ".".join(d.relative_to(REPO).parts) for d in folders}
    found = set(setup.packages(REPO))
    assert expected <= found, f"not packaged (no __init__.py?): {sorted(expected - found)}"
    assert "orbitfarm.submitter.targets.slurm" in found
    # and it does notice a folder that is not a package
    (tmp_path / "submitter" / "new").mkdir(parents=True)
    (tmp_path / "submitter" / "__init__.py").write_text("")
    (tmp_path / "submitter" / "new" / "code.py").write_text("")
    assert "orbitfarm.submitter.new" not in setup.packages(tmp_path)


def test_atomic_writes_respect_the_umask(tmp_path):
    """Job files must be readable by cluster nodes and colleagues, not mkstemp's 0600."""
    import os

    from orbitfarm.submitter.files.atomic import _FILE_MODE, atomic_write_text

    atomic_write_text(tmp_path / "state.json", "{}")
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == _FILE_MODE
    mask = os.umask(0)
    os.umask(mask)
    assert _FILE_MODE == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left


def test_worker_shell_line_is_readable():
    """The boot code needs no escaping: one plain single-quoted word in scripts."""
    line = launch.worker_shell_line(launch.Runtime("python", "/opt/py"), "/code", "/t.json")
    assert "'\"'\"'" not in line
    assert line.startswith("/opt/py -c 'import sys,importlib.util as u;")
