"""The `command` target: a farm with a command-line client, without new code.

The profile gives command templates (templates.py): `submit` runs once per task, with the task's
script (JOBDIR/command/<task>.a<attempt>.sh, made by task_script.py) among its placeholders, and
prints the farm's id for it (the last word of its output, or the `submit_id:` regex's group);
`status` runs once per poll with every id ({native_ids}) or once per task ({native_id});
`cancel` likewise. Commands run here, or on a login node with `ssh:` (remote.py). Ids and
attempts are recorded in JOBDIR/target.json; nothing the commands print is kept there (a farm's
client may print tokens), only the farm's own per-task output file {log} if it writes one.

Profile keys (kind: command): submit, status, cancel (templates), submit_id (regex), states
(farm word -> pending|running|succeeded|failed|cancelled|preempted|timeout|unknown), os (the
nodes': linux or mac; picks env and path_map entries), env (flat or per OS, node_env.py),
path_map, setup: [shell lines], blender: or python: (the nodes' runtime), ssh, ssh_options.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.atomic import atomic_write_text
from ...files.layout import COMMAND_DIR, DRY_RUN_DIR
from ...launch.runtime import LAYOUT_1, code_layout
from ...model.states import Phase
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cluster_plan import cluster_plan_file
from ..nodes import ScriptNodes, refuse_unknown_keys
from ..remote import make_shell
from ..task_script import task_script
from .templates import (
    CANCEL_FIELDS,
    STATUS_FIELDS,
    SUBMIT_FIELDS,
    StatusReader,
    check_template,
    fill,
    placeholders,
)

if TYPE_CHECKING:
    from ...files.jobdir import JobDir
    from ..remote import Shell

_KEYS = {"kind", "name", "notify", "description", "submit", "status", "cancel", "submit_id",
         "states", "os", "env", "path_map", "setup", "blender", "python", "ssh", "ssh_options"}
_DEFAULT_ID = r"(\S+)\s*$"


class CommandTarget(ScriptNodes, Target):
    """Tasks handed one by one to a farm's own command-line client."""

    kind = "command"
    record_key, record_empty = "tasks", dict
    _shell: Shell | None = None

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        return [
            TargetOption(("--command-submit",), "submit", "submit command template, e.g. "
                         "'farm submit {script}' (see the README)", metavar="TEMPLATE"),
            TargetOption(("--command-status",), "status", "status command template, e.g. "
                         "'farm status {native_ids}'", metavar="TEMPLATE"),
            TargetOption(("--command-cancel",), "cancel", "cancel command template, e.g. "
                         "'farm kill {native_ids}'", metavar="TEMPLATE"),
            TargetOption(("--command-setup",), "setup", "shell line run before the worker "
                         "(repeatable)", metavar="SHELL", append=True),
        ]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        refuse_unknown_keys("command", profile, _KEYS)
        for key in ("submit", "status"):
            if not profile.get(key):
                raise TargetError(f"command profile {profile.get('name', '')!r} needs a `{key}:` "
                                  "command template (see the README's `command` section)")
        check_template("submit", profile["submit"], SUBMIT_FIELDS)
        check_template("status", profile["status"], STATUS_FIELDS)
        if profile.get("cancel"):
            check_template("cancel", profile["cancel"], CANCEL_FIELDS)
        try:
            if re.compile(str(profile.get("submit_id") or _DEFAULT_ID)).groups != 1:
                raise TargetError("command profile: submit_id needs exactly one (group)")
        except re.error as exc:
            raise TargetError(f"command profile: submit_id is not a regex: {exc}") from None
        StatusReader.from_profile(profile.get("states"))
        cls.check_script_profile("command", profile)

    @property
    def shell(self) -> Shell:
        if self._shell is None:
            self._shell = make_shell(self.profile)
        return self._shell

    def describe(self) -> str:
        program = str(self.profile.get("submit", "?")).split()[0]
        return f"command: {program} ... ({self.runtime().describe()})"

    # -- submission --------------------------------------------------------------------------

    def _prepare(self, job: JobDir, attempts: dict[str, int]) -> list[tuple[str, int, str]]:
        """Write each task's script; (task id, attempt, filled submit line) per task."""
        self.check_profile(self.profile)
        mapping = self.path_map
        remote_dir = mapping.to_remote(job.path)
        plan_file = cluster_plan_file(job, mapping)
        code_dir = mapping.to_remote(job.code_dir)
        (job.path / COMMAND_DIR).mkdir(exist_ok=True)
        job.logs_dir.mkdir(exist_ok=True)
        legacy = code_layout(job.code_dir) == LAYOUT_1
        env = self.node_environment()
        lines = []
        for task_id, attempt in sorted(attempts.items()):
            index = job.index_of(task_id)
            script_rel = f"{COMMAND_DIR}/{task_id}.a{attempt}.sh"
            atomic_write_text(job.path / script_rel, task_script(
                job_dir=remote_dir, plan_file=plan_file, code_dir=code_dir,
                runtime=self.runtime(), index=str(index),
                task_id_digits=job.plan.task_id_digits, env=env,
                setup=list(self.profile.get("setup") or []),
                note=f"task {task_id} of job {job.id}, attempt {attempt}", legacy_worker=legacy))
            script = f"{remote_dir}/{script_rel}"
            values = {"job_dir": remote_dir, "job_id": job.id, "job_name": f"orbitfarm-{job.id}",
                      "task_id": task_id, "task_index": str(index), "attempt": str(attempt),
                      "count": str(len(attempts)), "script": script,
                      "log": f"{remote_dir}/{COMMAND_DIR}/{task_id}.out",
                      "command": f"bash {script}", "plan": plan_file}
            lines.append((task_id, attempt, fill(str(self.profile["submit"]), values)))
        return lines

    def dry_run(self, job: JobDir, attempts: dict[str, int]) -> list[Path]:
        lines = self._prepare(job, attempts)
        folder = job.path / DRY_RUN_DIR
        folder.mkdir(exist_ok=True)
        path = folder / f"{self.kind}.json"
        atomic_write_text(path, json.dumps({
            "kind": self.kind, "runs_on": self.shell.describe(),
            "submit": [{"task": t, "attempt": a, "command": line} for t, a, line in lines],
        }, indent=1, allow_nan=False) + "\n")
        return [path, *sorted((job.path / COMMAND_DIR).glob("*.sh"))]

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        if not attempts:
            return
        record = self._record(job)
        pattern = re.compile(str(self.profile.get("submit_id") or _DEFAULT_ID))
        cwd = self.path_map.to_remote(job.path)
        try:
            for task_id, attempt, line in self._prepare(job, attempts):
                result = self.shell.run(["bash", "-c", line], cwd=cwd)
                found = pattern.search(result.stdout.strip())
                if result.returncode != 0 or not found:
                    why = (f"exited {result.returncode}" if result.returncode
                           else "printed no id the submit_id pattern finds")
                    raise TargetError(f"the submit command for task {task_id} {why}: "
                                      f"{(result.stderr or result.stdout).strip()[-300:]}")
                record["tasks"][task_id] = {"native": found.group(1), "attempt": attempt,
                                            "submitted": time.time()}
        finally:
            job.save_target_record(record)  # whatever the farm accepted is recorded

    # -- tracking ----------------------------------------------------------------------------

    def _natives(self, job: JobDir, task_ids: list[str] | None) -> dict[str, str]:
        tasks = self._record(job)["tasks"]
        wanted = tasks if task_ids is None else [t for t in task_ids if t in tasks]
        return {t: str(tasks[t]["native"]) for t in wanted}

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        natives = self._natives(job, task_ids)
        reader = StatusReader.from_profile(self.profile.get("states"))
        output = self._status_output(job, sorted(set(natives.values()))) if natives else ""
        seen = reader.read_many(output)
        result: dict[str, SchedulerState] = {}
        for task_id in task_ids:
            native = natives.get(task_id)
            if native is None:
                result[task_id] = SchedulerState(Phase.UNKNOWN,
                                                 reason="never submitted to the farm")
            else:
                result[task_id] = seen.get(native) or SchedulerState(
                    Phase.UNKNOWN, native_id=native,
                    reason=f"the farm's status command does not list {native}")
        return result

    def _status_output(self, job: JobDir, natives: list[str]) -> str:
        """`ID STATE [text]` lines for these ids (per-task templates get their id prefixed)."""
        template = str(self.profile["status"])
        base = {"job_dir": self.path_map.to_remote(job.path), "job_id": job.id,
                "job_name": f"orbitfarm-{job.id}"}
        if "native_id" not in placeholders(template):
            return self._checked("status", fill(template, {**base, "native_ids": natives}))
        lines = []
        for native in natives:
            out = self._checked("status", fill(template, {**base, "native_id": native}))
            first = next((x for x in out.splitlines() if x.strip()), "unknown")
            lines.append(f"{native} {first}")
        return "\n".join(lines)

    def _checked(self, key: str, line: str) -> str:
        result = self.shell.run(["bash", "-c", line])
        if result.returncode != 0:
            raise TargetError(f"the farm's {key} command exited {result.returncode}: "
                              f"{(result.stderr or result.stdout).strip()[-300:]}")
        return result.stdout

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        natives = sorted(set(self._natives(job, task_ids).values()))
        if not natives:
            return
        template = self.profile.get("cancel")
        if not template:
            raise TargetError("this command profile has no `cancel:` template; the tasks are "
                              "marked cancelled but still run on the farm: stop them there")
        base = {"job_dir": self.path_map.to_remote(job.path), "job_id": job.id,
                "job_name": f"orbitfarm-{job.id}"}
        if "native_id" in placeholders(str(template)):
            for native in natives:
                self._checked("cancel", fill(str(template), {**base, "native_id": native}))
        else:
            self._checked("cancel", fill(str(template), {**base, "native_ids": natives}))

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """The farm's own output for the task, when the submit template passed {log}."""
        path = job.path / COMMAND_DIR / f"{task_id}.out"
        return [path] if path.is_file() else []
