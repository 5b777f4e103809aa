"""How a worker process is started: a Blender executable or a Python that has the bpy module.

Both runtimes run the same worker code (worker/main.py), loaded as the package `orbitfarm` from a
code directory: the installed package for `orbitfarm render`, or the job directory's own copy on
cluster nodes so they run exactly the version that submitted. Pure functions; nothing runs here.

A job's code copy may come from an older orbitfarm (a retry of an old job runs the old code):
code_layout() tells which entry points and worker options that copy has.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

RUNTIME_KINDS = ("python", "blender")

# What a code copy offers, by its layout: 1 = before the reshape (submitter/launch.py; the worker
# takes `--plan F --index N`), 2 = this layout (`--index-env VAR --index-offset N` as well).
LAYOUT_1, LAYOUT_2 = 1, 2
_RUNNER_MODULE = {LAYOUT_1: "submitter.targets.local_runner",
                  LAYOUT_2: "submitter.targets.local.runner"}

def boot_expression(module: str, call: str) -> str:
    """Python source that imports the package `orbitfarm` from the code dir given after `--`
    (whatever that folder is called), then runs `call(args)` from `orbitfarm.<module>` on the
    arguments after the code dir. One line, so it survives `--python-expr` and shell quoting."""
    # Double quotes only: shlex.quote() then wraps it in plain single quotes, so the line in
    # an sbatch script stays readable.
    return (
        'import sys,importlib.util as u;'
        'd=sys.argv[sys.argv.index("--")+1];'
        's=u.spec_from_file_location("orbitfarm",d+"/__init__.py",submodule_search_locations=[d]);'
        'm=u.module_from_spec(s);sys.modules["orbitfarm"]=m;s.loader.exec_module(m);'
        f'import orbitfarm.{module} as x;'
        f'sys.exit(x.{call}(sys.argv[sys.argv.index("--")+2:]))'
    )


# The worker's entry never returns (it ends with os._exit), so sys.exit is never reached there.
_BOOT = boot_expression("worker.main", "entry")


class NoRuntimeError(RuntimeError):
    """No usable Blender/bpy runtime; the message says how to configure one."""


@dataclass(frozen=True)
class Runtime:
    """A way to run Blender: kind 'blender' (an executable) or 'python' (with bpy importable)."""

    kind: str
    executable: str

    def __post_init__(self) -> None:
        if self.kind not in RUNTIME_KINDS:
            raise ValueError(f"runtime kind must be one of {RUNTIME_KINDS}, got {self.kind!r}")

    def describe(self) -> str:
        return f"{self.kind}: {self.executable}"


def package_dir() -> Path:
    """The directory holding this orbitfarm package (the repo root / extension root)."""
    return Path(__file__).resolve().parents[2]


def _worker_argv(runtime: Runtime, code_dir: str | Path, worker_args: list[str]) -> list[str]:
    code = str(code_dir)
    if runtime.kind == "blender":
        # --factory-startup: no user add-ons/startup file; --disable-autoexec: scripts embedded
        # in .blend files never run (the worker also opens files with use_scripts=False).
        return [runtime.executable, "-b", "--factory-startup", "--disable-autoexec",
                "--python-exit-code", "1", "--python-expr", _BOOT, "--", code, *worker_args]
    return [runtime.executable, "-c", _BOOT, "--", code, *worker_args]


def worker_argv(runtime: Runtime, code_dir: str | Path, task_file: str | Path) -> list[str]:
    """argv that runs the worker on `task_file` with orbitfarm loaded from `code_dir`."""
    return _worker_argv(runtime, code_dir, ["--task", str(task_file)])


def plan_worker_argv(runtime: Runtime, code_dir: str | Path, plan_file: str | Path,
                     index_variable: str, offset: int = 0) -> list[str]:
    """argv that runs task `$index_variable + offset` of plan_file: the target sets the variable
    (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, SGE_TASK_ID, ...) and the worker reads it."""
    return _worker_argv(runtime, code_dir, ["--plan", str(plan_file), "--index-env",
                                            index_variable, "--index-offset", str(offset)])


def legacy_plan_worker_argv(runtime: Runtime, code_dir: str | Path, plan_file: str | Path,
                            index: int | str) -> list[str]:
    """argv for a LAYOUT_1 code copy, whose worker only takes `--plan F --index N`."""
    return _worker_argv(runtime, code_dir, ["--plan", str(plan_file), "--index", str(index)])


def code_layout(code_dir: str | Path) -> int:
    """Which entry points a job's code copy has (LAYOUT_1: made before the reshape)."""
    return LAYOUT_1 if (Path(code_dir) / "submitter" / "launch.py").is_file() else LAYOUT_2


def runner_boot(code_dir: str | Path) -> str:
    """The boot expression of the local runner in this code copy."""
    return boot_expression(_RUNNER_MODULE[code_layout(code_dir)], "main")


def worker_shell_line(runtime: Runtime, code_dir: str, task_file: str) -> str:
    """The same command as one shell-safe line (for docs and logs)."""
    return shlex.join(worker_argv(runtime, code_dir, task_file))


def worker_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a worker: unbuffered output so logs stream while frames render."""
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def detect_runtime(blender: str | None = None, python: str | None = None) -> Runtime:
    """Pick the runtime: explicit settings first, then this Python if it has bpy, then PATH."""
    if blender:
        return Runtime("blender", blender)
    if python:
        return Runtime("python", python)
    env_blender = os.environ.get("ORBITFARM_BLENDER")
    if env_blender:
        return Runtime("blender", env_blender)
    env_python = os.environ.get("ORBITFARM_PYTHON")
    if env_python:
        return Runtime("python", env_python)
    if importlib.util.find_spec("bpy") is not None:
        return Runtime("python", sys.executable)
    found = shutil.which("blender")
    if found:
        return Runtime("blender", found)
    raise NoRuntimeError(
        "no Blender found: install the bpy wheel into this Python (pip install bpy==4.5.4), "
        "put `blender` on PATH, or set ORBITFARM_BLENDER=/path/to/blender "
        "(or `blender:` in the target profile)"
    )
