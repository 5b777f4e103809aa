"""The Grid Engine target: one qsub array job per submission (split at max_aj_tasks).

Submission runs qsub on this machine (a submit host) or over ssh on one, with path maps, as for
SLURM. Scripts are written to JOBDIR/sge/ and every array job is recorded in JOBDIR/target.json
(which plan indices it runs, on which attempt), so poll() maps Grid Engine's task ids back to
tasks with ONE `qstat -xml` per poll, plus one `qacct -j NAME` when tasks have left the queue.

Error state (Eqw): a task whose start failed (missing output directory, bad shell) or that exited
100 stays in the queue forever. poll() reports it as ended with Grid Engine's reason and deletes
it, so no job is ever left stuck there; `retry` submits a new array of just the tasks needed.

Profile keys (targets YAML, kind: sge): queue, pe + slots, h_rt (12:00:00), h_vmem, mem_free,
gpus (1; 0 for none), gpu_resource (gpu), gpu_devices, gpu_lock_dir, project, array_throttle,
extra_qsub: [lines], setup: [shell lines], blender: /path/on/nodes or python: /path/to/python,
ssh: submit-host, ssh_options, path_map: [{local, remote}], max_aj_tasks: override,
escalate_mem / escalate_time: factor per retry on h_vmem/mem_free and h_rt (as for SLURM).
"""

from __future__ import annotations

import json
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.atomic import atomic_write_text
from ...files.layout import SGE_DIR
from ...launch.runtime import LAYOUT_1, code_layout
from ...model.frames import format_frame_list
from ...model.states import EndReason, Phase
from ..arrays import expand_indices
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cluster_plan import cluster_plan_file
from ..nodes import ClusterNodes, refuse_unknown_keys
from ..remote import make_shell
from .commands import Key, SgeCommands, TaskRecord
from .script import (
    INDEX_VARIABLE,
    ScriptError,
    SgeOptions,
    build_script,
    job_name,
    scale_h_rt,
    scale_memory,
    split_arrays,
)

if TYPE_CHECKING:
    from ...files.jobdir import JobDir

# qacct learns of a finished task only at the next accounting flush (15 s by default); a task in
# neither qstat nor qacct counts as still running for this long before it is called unknown.
ACCOUNTING_GRACE_SECONDS = 120.0
UNACCOUNTED = "unaccounted.json"  # JOBDIR/sge: when each such task was first missed
CANCELLED = "cancelled.json"  # JOBDIR/sge: tasks orbitfarm deleted (qacct cannot tell)

_TARGET_KEYS = {"kind", "name", "notify", "description", "blender", "python", "ssh",
                "ssh_options", "path_map", "max_aj_tasks", "escalate_mem", "escalate_time"}


class SgeTarget(ClusterNodes, Target):
    """Tasks as tasks of qsub array jobs on a Grid Engine cluster."""

    kind = "sge"
    index_variable = INDEX_VARIABLE
    _commands: SgeCommands | None = None

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        # Prefixed: --time, --gpus, --setup ... belong to other kinds (flags are global).
        return [
            TargetOption(("--sge-queue",), "queue", "Grid Engine queue (qsub -q)",
                         metavar="QUEUE"),
            TargetOption(("--sge-pe",), "pe", "parallel environment (with --sge-slots)",
                         metavar="PE"),
            TargetOption(("--sge-slots",), "slots", "slots in the PE per task", type=int,
                         metavar="N"),
            TargetOption(("--sge-h-rt",), "h_rt", "run time limit per task, e.g. 12:00:00 "
                                                   "(default 12:00:00)", metavar="TIME"),
            TargetOption(("--sge-h-vmem",), "h_vmem", "memory limit per slot, e.g. 8G",
                         metavar="SIZE"),
            TargetOption(("--sge-mem-free",), "mem_free", "free memory needed, e.g. 8G",
                         metavar="SIZE"),
            TargetOption(("--sge-gpus",), "gpus", "units of the GPU consumable per task "
                                                  "(default 1; 0 for none)", type=int,
                         metavar="N"),
            TargetOption(("--sge-project",), "project", "project (qsub -P)", metavar="NAME"),
            TargetOption(("--sge-throttle",), "array_throttle", "at most N tasks of the job "
                                                               "at once (qsub -tc)", type=int,
                         metavar="N"),
            TargetOption(("--sge-line",), "extra_qsub", "extra '#$' option, written "
                         "--sge-line='-m n' (repeatable)", metavar="OPTION", append=True),
            TargetOption(("--sge-setup",), "setup", "shell line run before the worker "
                                                    "(repeatable)", metavar="SHELL",
                         append=True),
        ]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        cls._options(profile)  # a bad option fails before anything is packed

    @staticmethod
    def _options(profile: dict[str, Any]) -> SgeOptions:
        refuse_unknown_keys("sge", profile,
                            _TARGET_KEYS | {f.name for f in fields(SgeOptions)})
        try:
            return SgeOptions.from_profile(profile)
        except (ScriptError, TypeError) as exc:
            raise TargetError(f"sge profile {profile.get('name', '')!r}: {exc}") from None

    @property
    def options(self) -> SgeOptions:
        return self._options(self.profile)

    @property
    def commands(self) -> SgeCommands:
        if self._commands is None:
            self._commands = SgeCommands(make_shell(self.profile))
        return self._commands

    def describe(self) -> str:
        opts = self.options
        where = f"ssh {self.profile['ssh']}" if self.profile.get("ssh") else "qsub here"
        res = ", ".join(x for x in (opts.queue and f"queue {opts.queue}", f"h_rt {opts.h_rt}",
                                    f"{opts.gpus} {opts.gpu_resource}" if opts.gpus else "no GPU",
                                    opts.h_vmem and f"h_vmem {opts.h_vmem}") if x)
        return f"sge: {res} via {where} ({self.runtime().describe()})"

    def check(self) -> None:
        self.options  # noqa: B018 (validates the profile)
        self.commands.config()

    def max_aj_tasks(self) -> int:
        override = self.profile.get("max_aj_tasks")
        return int(override) if override else self.commands.max_aj_tasks()

    # -- submission --------------------------------------------------------------------------

    def _record(self, job: JobDir) -> dict[str, Any]:
        record = job.target_record()
        if record.get("kind") not in (None, self.kind):
            raise TargetError(f"job {job.path} was submitted to a {record['kind']!r} target, "
                              "not Grid Engine")
        record.setdefault("kind", self.kind)
        record.setdefault("arrays", [])
        return record

    def _options_for_attempt(self, attempt: int) -> SgeOptions:
        """The profile's options, h_vmem/mem_free and h_rt scaled by escalate_* ** (attempt-1)."""
        opts = self.options
        retries = attempt - 1
        if retries < 1:
            return opts
        try:
            mem_factor = float(self.profile.get("escalate_mem") or 1) ** retries
            time_factor = float(self.profile.get("escalate_time") or 1) ** retries
            if mem_factor != 1 and opts.h_vmem:
                opts = replace(opts, h_vmem=scale_memory(opts.h_vmem, mem_factor))
            if mem_factor != 1 and opts.mem_free:
                opts = replace(opts, mem_free=scale_memory(opts.mem_free, mem_factor))
            if time_factor != 1:
                opts = replace(opts, h_rt=scale_h_rt(opts.h_rt, time_factor))
        except (ScriptError, ValueError) as exc:
            raise TargetError(f"escalate_mem/escalate_time: {exc}") from None
        return opts

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        if not attempts:
            return
        record = self._record(job)
        by_attempt: dict[int, list[int]] = {}
        for task_id, attempt in attempts.items():
            by_attempt.setdefault(max(1, attempt), []).append(job.index_of(task_id))
        mapping = self.path_map
        remote_dir = mapping.to_remote(job.path)
        plan_file = cluster_plan_file(job, mapping)
        code_dir = mapping.to_remote(job.code_dir)
        # Grid Engine opens the -o file before the task starts: a missing folder means Eqw.
        (job.path / SGE_DIR).mkdir(exist_ok=True)
        job.logs_dir.mkdir(exist_ok=True)
        name = job_name(job.id)
        legacy = code_layout(job.code_dir) == LAYOUT_1
        max_tasks = self.max_aj_tasks()
        try:
            for attempt, indices in sorted(by_attempt.items()):
                options = self._options_for_attempt(attempt)
                for array in split_arrays(indices, max_tasks):
                    number = len(record["arrays"]) + 1
                    script = build_script(name=name, job_dir=remote_dir, plan_file=plan_file,
                                          code_dir=code_dir, runtime=self.runtime(), array=array,
                                          task_id_digits=job.plan.task_id_digits,
                                          options=options, attempt=attempt,
                                          legacy_worker=legacy)
                    script_rel = f"{SGE_DIR}/array-{number}.sh"
                    atomic_write_text(job.path / script_rel, script)
                    sge_job = self.commands.submit(f"{remote_dir}/{script_rel}", remote_dir)
                    record["arrays"].append({
                        "job": sge_job, "indices": format_frame_list(array.indices),
                        "attempt": attempt, "script": script_rel, "submitted": time.time(),
                        "h_rt": options.h_rt, "h_vmem": options.h_vmem,
                    })
        finally:
            job.save_target_record(record)  # whatever was accepted is recorded

    # -- tracking ----------------------------------------------------------------------------

    def _latest(self, job: JobDir) -> dict[int, Key]:
        """Plan index -> (Grid Engine job number, task id) of its latest submission."""
        latest: dict[int, Key] = {}
        for array in self._record(job)["arrays"]:
            for task, index in enumerate(expand_indices(array["indices"]), start=1):
                latest[index] = (str(array["job"]), task)
        return latest

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        latest = self._latest(job)
        wanted = {latest[i] for t in task_ids if (i := job.index_of(t)) in latest}
        states: dict[Key, TaskRecord] = self.commands.queue() if wanted else {}
        errors = self._clear_error_states({k for k in wanted if k in states
                                          and states[k].state == Phase.ENDED}, states)
        finished: dict[Key, TaskRecord] = {}
        if wanted - set(states):
            finished = self.commands.accounting(job_name(job.id))
        unaccounted = self._unaccounted(job, wanted - set(states) - set(finished))
        cancelled = self._cancelled(job) if finished else set()
        result: dict[str, SchedulerState] = {}
        for task_id in task_ids:
            key = latest.get(job.index_of(task_id))
            if key is None:
                result[task_id] = SchedulerState(Phase.UNKNOWN,
                                                 reason="never submitted to Grid Engine")
                continue
            native = f"{key[0]}.{key[1]}"
            if key in errors:
                # "exit_status of job start = N": the task ran and exited N (e.g. 100).
                ran = "exit_status" in errors[key]
                result[task_id] = SchedulerState(
                    Phase.ENDED, None, errors[key], native,
                    EndReason.EXITED if ran else EndReason.NEVER_STARTED)
            elif key in states:
                result[task_id] = SchedulerState(states[key].state, None,
                                                 f"qstat: {states[key].letters}", native)
            elif key in finished:
                done = finished[key]
                end = EndReason.CANCELLED if native in cancelled else done.end
                result[task_id] = SchedulerState(Phase.ENDED, done.exit_code, done.describe(),
                                                 native, end)
            elif time.time() - unaccounted.get(native, 0) < ACCOUNTING_GRACE_SECONDS:
                result[task_id] = SchedulerState(
                    Phase.RUNNING, reason="left the queue; waiting for Grid Engine's accounting",
                    native_id=native)
            else:
                result[task_id] = SchedulerState(
                    Phase.UNKNOWN, native_id=native,
                    reason=f"Grid Engine has no record of {native} (not in qstat, not in qacct)")
        return result

    def _clear_error_states(self, keys: set[Key], states: dict[Key, TaskRecord]) -> dict[Key, str]:
        """Reasons of tasks in error state (one `qstat -j` per job); then delete those tasks."""
        reasons: dict[Key, str] = {}
        for job in sorted({k[0] for k in keys}, key=int):
            why = self.commands.error_reasons(job)
            tasks = sorted(k[1] for k in keys if k[0] == job)
            for task in tasks:
                text = why.get(task) or next(iter(why.values()), "no reason given")
                reasons[(job, task)] = (f"Grid Engine error state ({states[(job, task)].letters}):"
                                        f" {text}; the task was deleted so it cannot stay stuck")
            self.commands.delete(job, tasks)
        return reasons

    def _unaccounted(self, job: JobDir, keys: set[Key]) -> dict[str, float]:
        """When each of these tasks was first seen in neither qstat nor qacct (kept on disk)."""
        path = job.path / SGE_DIR / UNACCOUNTED
        try:
            seen = json.loads(path.read_text())
        except (OSError, ValueError):
            seen = {}
        now = time.time()
        current = {f"{k[0]}.{k[1]}": float(seen.get(f"{k[0]}.{k[1]}", now)) for k in keys}
        if current != seen and (current or seen):
            atomic_write_text(path, json.dumps(current, allow_nan=False))
        return current

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """Grid Engine's own output file of the task's latest run (qsub -o)."""
        key = self._latest(job).get(job.index_of(task_id))
        if key is None:
            return []
        path = job.path / SGE_DIR / f"{key[0]}.{key[1]}.out"
        return [path] if path.is_file() else []

    def _cancelled(self, job: JobDir) -> set[str]:
        """Native ids of tasks orbitfarm deleted (read back so qacct's kills read cancelled)."""
        try:
            return set(json.loads((job.path / SGE_DIR / CANCELLED).read_text()))
        except (OSError, ValueError):
            return set()

    def _remember_cancelled(self, job: JobDir, natives: list[str]) -> None:
        (job.path / SGE_DIR).mkdir(exist_ok=True)
        atomic_write_text(job.path / SGE_DIR / CANCELLED,
                          json.dumps(sorted(self._cancelled(job) | set(natives)), allow_nan=False))

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        latest = self._latest(job)
        wanted = (list(latest.values()) if task_ids is None else
                  [k for t in task_ids if (k := latest.get(job.index_of(t))) is not None])
        self._remember_cancelled(job, [f"{k[0]}.{k[1]}" for k in wanted])
        if task_ids is None:
            for number in sorted({str(a["job"]) for a in self._record(job)["arrays"]}, key=int):
                self.commands.delete(number, None)
            return
        for number in sorted({k[0] for k in wanted}, key=int):
            self.commands.delete(number, [k[1] for k in wanted if k[0] == number])
