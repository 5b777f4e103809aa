"""The SLURM target: one sbatch job array per job (split at MaxArraySize), tracked in batches.

Submission goes through sbatch on this machine (a login node), sbatch over ssh to a login node,
or slurmrestd (profile key `rest`). Scripts are written to JOBDIR/slurm/ and every array is
recorded in JOBDIR/target.json: which plan indices it runs and on which attempt, so poll() maps
SLURM's element ids back to tasks with ONE squeue call per poll, and retries become new arrays of
just the tasks that need them (with more memory/time when the profile says `escalate_*`).

Profile keys (targets YAML, kind: slurm); the first three lines and ssh are also submit options:
    partition, account, qos, time (12:00:00), gpus (1) or gres, cpus_per_task, mem, constraint,
    exclude, nodelist, array_throttle, extra_sbatch: [lines], setup: [shell lines],
    blender: /path/on/nodes  or  python: /path/to/python-with-bpy,
    ssh: login-host, ssh_options: [...], path_map: [{local: ..., remote: ...}],
    rest: {url, api_version, user, token_command, environment},
    escalate_mem / escalate_time: factor per retry, max_array_size: override MaxArraySize.
Setup lines run in bash inside the job directory with $JOB_DIR, $INDEX (plan index) and $TASK
(task id) set. Retries escalate by the attempt the jobs layer passes for each task, so
`orbitfarm retry` and `orbitfarm wait --retry N` grow resources alike.
"""

from __future__ import annotations

import time
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.atomic import atomic_write_text
from ...files.layout import SLURM_DIR
from ...launch.runtime import LAYOUT_1, code_layout
from ...model.states import Phase
from ..arrays import ArrayChunk, expand_indices, split_arrays
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cluster_plan import cluster_plan_file
from ..nodes import ClusterNodes, refuse_unknown_keys
from ..remote import make_shell
from .commands import ElementState, Key, SlurmCommands
from .script import INDEX_VARIABLE, ScriptError, SlurmOptions, build_script, job_name
from .units import UnitError, scale_mem, scale_time

if TYPE_CHECKING:
    from ...files.jobdir import JobDir

DEFAULT_MAX_ARRAY_SIZE = 1001  # SLURM's default, used where MaxArraySize cannot be read (REST)

# Profile keys this target understands besides the sbatch options (SlurmOptions' fields);
# anything else is a typo that would silently submit the wrong job, so it is refused.
_TARGET_KEYS = {"kind", "name", "notify", "description", "blender", "python", "ssh",
                "ssh_options", "path_map", "rest", "escalate_mem", "escalate_time",
                "max_array_size"}

class SlurmTarget(ClusterNodes, Target):
    """Tasks as elements of sbatch job arrays on a SLURM cluster."""

    kind = "slurm"
    index_variable = INDEX_VARIABLE
    # Built on first use (Target is a dataclass of `profile`; these are caches, not fields).
    _commands: SlurmCommands | None = None
    _rest: Any = None

    # -- configuration -----------------------------------------------------------------------

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        return [
            TargetOption(("--partition",), "partition", "SLURM partition"),
            TargetOption(("--account",), "account", "account to charge"),
            TargetOption(("--qos",), "qos", "quality of service"),
            TargetOption(("--time",), "time", "time limit per task, e.g. 12:00:00 "
                                              "(default 12:00:00)", metavar="LIMIT"),
            TargetOption(("--gpus",), "gpus", "GPUs per task (default 1; 0 for none)",
                         metavar="N"),
            TargetOption(("--gres",), "gres", "generic resources instead of --gpus, "
                                              "e.g. gpu:h100:1", metavar="SPEC"),
            TargetOption(("--cpus-per-task",), "cpus_per_task", "CPUs per task", type=int,
                         metavar="N"),
            TargetOption(("--mem",), "mem", "memory per task, e.g. 32G"),
            TargetOption(("--constraint",), "constraint", "node features, e.g. 'h100|a100'"),
            TargetOption(("--exclude",), "exclude", "nodes not to use", metavar="NODES"),
            TargetOption(("--nodelist",), "nodelist", "nodes to use", metavar="NODES"),
            TargetOption(("--array-throttle",), "array_throttle",
                         "at most N tasks of the job run at once (sbatch --array=...%%N)",
                         type=int, metavar="N"),
            TargetOption(("--sbatch-line",), "extra_sbatch", "extra #SBATCH option, written "
                         "--sbatch-line=--mail-type=END (repeatable)", metavar="OPTION",
                         append=True),
            TargetOption(("--setup",), "setup", "shell line run before the worker, e.g. "
                         "'module load blender/4.2' (repeatable)", metavar="SHELL", append=True),
            TargetOption(("--ssh",), "ssh", "submit through ssh on this login node",
                         metavar="HOST"),
        ]

    @classmethod
    def profile_with_options(cls, profile: dict[str, Any],
                             values: dict[str, Any]) -> dict[str, Any]:
        if values.get("gres"):  # --gres replaces the profile's GPU count
            profile = {k: v for k, v in profile.items() if k != "gpus"}
        return super().profile_with_options(profile, values)

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        cls._options(profile)  # validate now: a bad option fails before anything is packed

    @staticmethod
    def _options(profile: dict[str, Any]) -> SlurmOptions:
        refuse_unknown_keys("slurm", profile,
                            _TARGET_KEYS | {f.name for f in fields(SlurmOptions)})
        try:
            return SlurmOptions.from_profile(profile)
        except (ScriptError, TypeError) as exc:
            raise TargetError(f"slurm profile {profile.get('name', '')!r}: {exc}") from None

    @property
    def options(self) -> SlurmOptions:
        return self._options(self.profile)

    @property
    def commands(self) -> SlurmCommands:
        if self._commands is None:
            self._commands = SlurmCommands(make_shell(self.profile))
        return self._commands

    @property
    def rest(self) -> Any:
        """The slurmrestd client when the profile has `rest:`, else None."""
        if self._rest is None and self.profile.get("rest"):
            from .rest import RestClient

            self._rest = RestClient(self.profile["rest"])
        return self._rest

    def describe(self) -> str:
        where = (f"REST {self.profile['rest'].get('url')}" if self.profile.get("rest")
                 else f"ssh {self.profile['ssh']}" if self.profile.get("ssh") else "sbatch here")
        opts = self.options
        res = ", ".join(x for x in (opts.partition and f"partition {opts.partition}",
                                    f"time {opts.time}",
                                    opts.gres or (f"{opts.gpus} GPU" if opts.gpus else "no GPU"),
                                    opts.mem and f"mem {opts.mem}") if x)
        return f"slurm: {res} via {where} ({self.runtime().describe()})"

    def check(self) -> None:
        self.options  # noqa: B018 (validates the profile)
        if self.rest is not None:
            self.rest.version()
        else:
            self.commands.config()

    def max_array_size(self) -> int:
        override = self.profile.get("max_array_size")
        if override:
            return int(override)
        if self.rest is not None:
            return DEFAULT_MAX_ARRAY_SIZE
        return self.commands.max_array_size()

    # -- submission --------------------------------------------------------------------------

    def _record(self, job: JobDir) -> dict[str, Any]:
        record = job.target_record()
        if record.get("kind") not in (None, self.kind):
            raise TargetError(f"job {job.path} was submitted to a {record['kind']!r} target, "
                              "not SLURM")
        record.setdefault("kind", self.kind)
        record.setdefault("arrays", [])
        return record

    def _options_for_attempt(self, attempt: int) -> SlurmOptions:
        """The profile's options, with memory/time scaled by escalate_* ** (attempt - 1)."""
        opts = self.options
        retries = attempt - 1
        if retries < 1:
            return opts
        try:
            mem_factor = float(self.profile.get("escalate_mem") or 1)
            time_factor = float(self.profile.get("escalate_time") or 1)
            if opts.mem and mem_factor != 1:
                opts = replace(opts, mem=scale_mem(opts.mem, mem_factor ** retries))
            if time_factor != 1:
                opts = replace(opts, time=scale_time(opts.time, time_factor ** retries))
        except (UnitError, ValueError) as exc:
            raise TargetError(f"escalate_mem/escalate_time: {exc}") from None
        return opts

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        self._write_arrays(job, attempts, dry=False)

    def dry_run(self, job: JobDir, attempts: dict[str, int]) -> list[Path]:
        """Write the sbatch scripts (JOBDIR/slurm/array-N.sh) without calling sbatch; the array
        size limit is the profile's max_array_size, else SLURM's default (nothing is asked)."""
        return self._write_arrays(job, attempts, dry=True)

    def _write_arrays(self, job: JobDir, attempts: dict[str, int], dry: bool) -> list[Path]:
        if not attempts:
            return []
        record = self._record(job)
        by_attempt: dict[int, list[int]] = {}
        for task_id, attempt in attempts.items():
            by_attempt.setdefault(max(1, attempt), []).append(job.index_of(task_id))
        if self.rest is not None and not dry:
            record["rest_api_version"] = self.rest.version()
        mapping = self.path_map
        remote_dir = mapping.to_remote(job.path)
        plan_file = cluster_plan_file(job, mapping)
        code_dir = mapping.to_remote(job.code_dir)
        (job.path / SLURM_DIR).mkdir(exist_ok=True)
        job.logs_dir.mkdir(exist_ok=True)
        name = job_name(job.id)
        digits = job.plan.task_id_digits
        legacy = code_layout(job.code_dir) == LAYOUT_1
        max_size = (int(self.profile.get("max_array_size") or DEFAULT_MAX_ARRAY_SIZE) if dry
                    else self.max_array_size())
        written: list[Path] = []
        try:
            for attempt, indices in sorted(by_attempt.items()):
                options = self._options_for_attempt(attempt)
                for chunk in split_arrays(indices, max_size):
                    number = len(record["arrays"]) + 1
                    script = build_script(name=name, job_dir=remote_dir, plan_file=plan_file,
                                          code_dir=code_dir, runtime=self.runtime(), chunk=chunk,
                                          task_id_digits=digits, options=options,
                                          attempt=attempt, legacy_worker=legacy)
                    script_rel = f"{SLURM_DIR}/array-{number}.sh"
                    atomic_write_text(job.path / script_rel, script)
                    written.append(job.path / script_rel)
                    if dry:
                        record["arrays"].append({"offset": chunk.offset})  # numbering only
                        continue
                    array_job = self._submit_one(script, f"{remote_dir}/{script_rel}",
                                                 remote_dir, name, chunk, options)
                    record["arrays"].append({
                        "job": array_job, "offset": chunk.offset,
                        "indices": chunk.array_spec(), "attempt": attempt,
                        "script": script_rel, "submitted": time.time(),
                        "time": options.time, "mem": options.mem,
                    })
        finally:
            # Whatever was accepted is recorded, even when a later sbatch fails.
            if not dry:
                job.save_target_record(record)
        return written

    def _submit_one(self, script: str, script_path: str, cwd: str, name: str,
                    chunk: ArrayChunk, options: SlurmOptions) -> str:
        if self.rest is None:
            return self.commands.submit(script_path, cwd)
        from .rest import job_fields

        fields = job_fields(options, name=name, array=chunk.array_spec(options.array_throttle),
                            cwd=cwd, version=self.rest.version(),
                            environment=self.rest.environment)
        return self.rest.submit(script, fields)

    # -- tracking ----------------------------------------------------------------------------

    def _latest(self, job: JobDir) -> dict[int, Key]:
        """Plan index -> (array job id, array index) of its latest submission."""
        record = self._record(job)
        if self.rest is not None and record.get("rest_api_version"):
            self.rest.use_version(record["rest_api_version"])  # no discovery on every poll
        latest: dict[int, Key] = {}
        for array in record["arrays"]:
            for i in expand_indices(array["indices"]):
                latest[array["offset"] + i] = (str(array["job"]), i)
        return latest

    def _scheduler_states(self, job_ids: list[str], wanted: set[Key]) -> dict[Key, ElementState]:
        """squeue (or REST) first; sacct and the jobcomp log for elements it forgot."""
        if self.rest is not None:
            return self.rest.states(job_ids)
        states = self.commands.queue(job_ids)
        missing = {job for job, i in wanted - set(states)}
        if missing:
            older = self.commands.accounting(sorted(missing)) or self.commands.completed(
                sorted(missing))
            for key, value in older.items():
                states.setdefault(key, value)
        return states

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        latest = self._latest(job)
        wanted = {latest[i] for t in task_ids if (i := job.index_of(t)) in latest}
        job_ids = sorted({key[0] for key in wanted}, key=int)
        states = self._scheduler_states(job_ids, wanted) if job_ids else {}
        result: dict[str, SchedulerState] = {}
        for task_id in task_ids:
            key = latest.get(job.index_of(task_id))
            if key is None:
                result[task_id] = SchedulerState(Phase.UNKNOWN, reason="never submitted to SLURM")
                continue
            native = f"{key[0]}_{key[1]}"
            element = states.get(key) or states.get((key[0], -1))
            if element is None:
                result[task_id] = SchedulerState(
                    Phase.UNKNOWN, native_id=native,
                    reason=f"SLURM no longer knows {native} (ended over MinJobAge ago, "
                           "no accounting)")
                continue
            code = element.exit_code
            if code is None and element.slurm_state.startswith("COMPLETED"):
                code = 0
            ended = element.state == Phase.ENDED
            result[task_id] = SchedulerState(element.state, code if ended else None,
                                             element.describe(), native, element.end)
        return result

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """SLURM's own output file of the task's latest array element (#SBATCH --output)."""
        key = self._latest(job).get(job.index_of(task_id))
        if key is None:
            return []
        path = job.path / SLURM_DIR / f"{key[0]}_{key[1]}.out"
        return [path] if path.is_file() else []

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        latest = self._latest(job)
        if task_ids is None:
            ids = sorted({str(a["job"]) for a in self._record(job)["arrays"]}, key=int)
        else:
            ids = [f"{key[0]}_{key[1]}" for t in task_ids
                   if (key := latest.get(job.index_of(t))) is not None]
        if not ids:
            return
        if self.rest is not None:
            self.rest.cancel(ids)
        else:
            self.commands.cancel(ids)

