"""The HTCondor target: one cluster of procs per submission, through the official bindings.

Submission, status and cancel go through the `htcondor` package from PyPI (its v2 API,
`htcondor2`), talking to the schedd the local HTCondor configuration names (CONDOR_CONFIG), or
the one the profile names. Each cluster is recorded in JOBDIR/target.json with the plan indices
it runs; every proc also carries +OrbitfarmIndex, so one schedd query (jobs still queued) and,
when some have left the queue, one history query answer a poll for the whole job.

Held procs (HTCondor's "cannot go on until someone looks": missing files, exceeded requests) are
reported as ended with their HoldReason, so the task is failed and retryable; a retry removes the
held proc before submitting the task again, and `cancel` removes everything.

Files: `filesystem: shared` (default) runs the worker on the job directory as the submit machine
sees it (path_map when the execute nodes mount it elsewhere). The job directory and outputs must
be writable by the user HTCondor runs the jobs as. `filesystem: transfer` needs no shared storage
at all: inputs are spooled to the schedd and outputs retrieved from it (see transfer.py).

Profile keys (targets YAML, kind: htcondor): request_cpus (1), request_memory (4GB), request_gpus
(1; 0 for none), request_disk, requirements, accounting_group, max_materialize, filesystem,
extra_submit: {key: value}, setup: [shell lines], blender: /path/on/nodes or python: /path,
schedd: name, collector: host:port, path_map: [{local, remote}].
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files.atomic import atomic_write_text
from ...files.layout import HTCONDOR_DIR
from ...launch.runtime import LAYOUT_1, code_layout
from ...model.frames import format_frame_list
from ...model.states import EndReason, Phase
from ..arrays import expand_indices
from ..base import SchedulerState, Target, TargetError, TargetOption
from ..cluster_plan import cluster_plan_file
from ..nodes import ClusterNodes, refuse_unknown_keys
from . import transfer
from .submit import (
    INDEX_VARIABLE,
    SHARED,
    TASK_SCRIPT,
    HtcondorOptions,
    SubmitError,
    description,
    submit_text,
    task_script,
)

if TYPE_CHECKING:
    from ...files.jobdir import JobDir

Key = tuple[int, int]  # (cluster id, plan index)
_PROJECTION = ["ClusterId", "ProcId", "OrbitfarmIndex", "JobStatus", "HoldReason",
               "HoldReasonCode", "ExitCode",
               "ExitBySignal", "ExitSignal", "RemoveReason", "LastHoldReason"]
# JobStatus codes (HTCondor's JobStatus attribute).
_IDLE, _RUNNING, _REMOVED, _COMPLETED, _HELD, _TRANSFERRING, _SUSPENDED = 1, 2, 3, 4, 5, 6, 7
_SPOOLING_INPUT = 16  # HoldReasonCode while a spooled submission's inputs are uploaded

_TARGET_KEYS = {"kind", "name", "notify", "description", "blender", "python", "schedd",
                "collector", "path_map"}


def _bindings() -> Any:
    """The htcondor2 module, or a TargetError saying how to get it."""
    try:
        import htcondor2
    except ImportError:
        raise TargetError("the HTCondor target needs the `htcondor` Python bindings: "
                          "pip install 'htcondor>=24'") from None
    return htcondor2


def proc_state(ad: Any) -> SchedulerState:
    """One job ad (queue or history) -> the scheduler's view of its task."""
    status = int(ad.get("JobStatus", 0))
    native = f"{ad.get('ClusterId')}.{ad.get('ProcId')}"
    if status == _IDLE:
        return SchedulerState(Phase.PENDING, reason="idle", native_id=native)
    if status in (_RUNNING, _TRANSFERRING, _SUSPENDED):
        return SchedulerState(Phase.RUNNING, reason="running", native_id=native)
    if status == _HELD and ad.get("HoldReasonCode") == _SPOOLING_INPUT:
        # A spooled submission waits on hold until its inputs are in the spool (seconds).
        return SchedulerState(Phase.PENDING, reason="spooling inputs", native_id=native)
    if status == _HELD:
        # Held: HTCondor will not go on by itself (the proc stays queued until a retry).
        return SchedulerState(Phase.ENDED, reason=f"held: {ad.get('HoldReason') or 'no reason'}",
                              native_id=native, end=EndReason.KILLED)
    if status == _REMOVED:
        # The schedd's history does not keep RemoveReason (23.9); the queue ad may still have it.
        why = ad.get("RemoveReason") or "condor_rm, a periodic_remove policy or orbitfarm cancel"
        return SchedulerState(Phase.ENDED, reason=f"removed: {why}", native_id=native,
                              end=EndReason.CANCELLED)
    if status == _COMPLETED:
        if ad.get("ExitBySignal"):
            return SchedulerState(Phase.ENDED, reason=f"killed by signal {ad.get('ExitSignal')}",
                                  native_id=native, end=EndReason.KILLED)
        code = int(ad.get("ExitCode", -1))
        return SchedulerState(Phase.ENDED, code, "exited 0" if code == 0 else f"exit code {code}",
                              native, EndReason.EXITED)
    return SchedulerState(Phase.UNKNOWN, reason=f"JobStatus {status}", native_id=native)


class HtcondorTarget(ClusterNodes, Target):
    """Tasks as procs of HTCondor clusters."""

    kind = "htcondor"
    index_variable = INDEX_VARIABLE
    _schedd: Any = None

    @classmethod
    def cli_options(cls) -> list[TargetOption]:
        # Prefixed: --gpus, --mem, --setup ... belong to other kinds (flags are global).
        return [
            TargetOption(("--condor-cpus",), "request_cpus", "request_cpus per task", type=int,
                         metavar="N"),
            TargetOption(("--condor-memory",), "request_memory", "request_memory, e.g. 8GB",
                         metavar="SIZE"),
            TargetOption(("--condor-gpus",), "request_gpus", "request_gpus per task "
                                                            "(default 1; 0 for none)",
                         type=int, metavar="N"),
            TargetOption(("--condor-requirements",), "requirements",
                         "requirements expression", metavar="EXPR"),
            TargetOption(("--condor-accounting-group",), "accounting_group",
                         "accounting group, e.g. group_vis.alice", metavar="GROUP"),
            TargetOption(("--condor-setup",), "setup", "shell line run before the worker "
                                                       "(repeatable)", metavar="SHELL",
                         append=True),
        ]

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        cls._options(profile)  # a bad option fails before anything is packed

    @staticmethod
    def _options(profile: dict[str, Any]) -> HtcondorOptions:
        refuse_unknown_keys("htcondor", profile,
                            _TARGET_KEYS | {f.name for f in fields(HtcondorOptions)})
        try:
            options = HtcondorOptions.from_profile(profile)
        except (SubmitError, TypeError) as exc:
            raise TargetError(f"htcondor profile {profile.get('name', '')!r}: {exc}") from None
        return options

    @property
    def options(self) -> HtcondorOptions:
        return self._options(self.profile)

    @property
    def schedd(self) -> Any:
        """The schedd (located through the collector when the profile names one)."""
        if self._schedd is None:
            htcondor = _bindings()
            try:
                name, collector = self.profile.get("schedd"), self.profile.get("collector")
                if name or collector:
                    coll = htcondor.Collector(collector) if collector else htcondor.Collector()
                    ad = (coll.locate(htcondor.DaemonType.Schedd, name) if name
                          else coll.locate(htcondor.DaemonType.Schedd))
                    self._schedd = htcondor.Schedd(ad)
                else:
                    self._schedd = htcondor.Schedd()
            except Exception as exc:  # the bindings raise bare HTCondorException/ValueError
                raise TargetError(f"cannot reach the HTCondor schedd: {exc}; check "
                                  "CONDOR_CONFIG / `condor_q` works here") from None
        return self._schedd

    def describe(self) -> str:
        opts = self.options
        res = ", ".join(x for x in (f"{opts.request_cpus} CPU", f"mem {opts.request_memory}",
                                    f"{opts.request_gpus} GPU" if opts.request_gpus else "no GPU",
                                    f"{opts.filesystem} filesystem") if x)
        return f"htcondor: {res} ({self.runtime().describe()})"

    def check(self) -> None:
        self.options  # noqa: B018 (validates the profile)
        self._call("query", lambda: self.schedd.query(constraint="false", projection=["ClusterId"]))

    def _call(self, what: str, action: Any) -> Any:
        try:
            return action()
        except TargetError:
            raise
        except Exception as exc:
            raise TargetError(f"HTCondor {what} failed: {exc}") from None

    # -- submission --------------------------------------------------------------------------

    def _record(self, job: JobDir) -> dict[str, Any]:
        record = job.target_record()
        if record.get("kind") not in (None, self.kind):
            raise TargetError(f"job {job.path} was submitted to a {record['kind']!r} target, "
                              "not HTCondor")
        record.setdefault("kind", self.kind)
        record.setdefault("clusters", [])
        return record

    def submit(self, job: JobDir, attempts: dict[str, int]) -> None:
        if not attempts:
            return
        htcondor = _bindings()
        record = self._record(job)
        by_attempt: dict[int, list[int]] = {}
        for task_id, attempt in attempts.items():
            by_attempt.setdefault(max(1, attempt), []).append(job.index_of(task_id))
        self._remove_held(job, [job.index_of(t) for t in attempts])
        mapping = self.path_map
        remote_dir = mapping.to_remote(job.path)
        options = self.options
        folder = job.path / HTCONDOR_DIR
        folder.mkdir(exist_ok=True)
        job.logs_dir.mkdir(exist_ok=True)
        script = folder / TASK_SCRIPT
        spool = options.filesystem != SHARED
        if spool:
            remote_dir = str(job.path)  # the submit side's paths: initialdir, retrieve()
            if not (folder / transfer.INBOX).is_file():
                transfer.build_inbox(job)
            atomic_write_text(script, transfer.transfer_script(
                runtime=self.runtime(), task_id_digits=job.plan.task_id_digits,
                setup=list(options.setup), index_variable=INDEX_VARIABLE))
        else:
            atomic_write_text(script, task_script(
                job_dir=remote_dir, plan_file=cluster_plan_file(job, mapping),
                code_dir=mapping.to_remote(job.code_dir), runtime=self.runtime(),
                task_id_digits=job.plan.task_id_digits, setup=list(options.setup),
                legacy_worker=code_layout(job.code_dir) == LAYOUT_1))
        script.chmod(0o755)
        try:
            for attempt, indices in sorted(by_attempt.items()):
                indices = sorted(indices)
                desc = description(job_id=job.id, job_dir=remote_dir, indices=indices,
                                   attempt=attempt, options=options)
                if spool:
                    desc.pop("log", None)  # written by the schedd's side, which cannot see it
                    desc.update(transfer.description_changes(remote_dir))
                number = len(record["clusters"]) + 1
                atomic_write_text(folder / f"submit-{number}.sub", submit_text(desc, indices))
                submit = htcondor.Submit(desc)
                submit.setQArgs("Index from ()")
                items = iter([{"Index": str(x)} for x in indices])
                # htcondor2 24.0 prints the whole submit file (every item) when given itemdata.
                with contextlib.redirect_stdout(io.StringIO()):
                    result = self._call("submit", lambda s=submit, i=items: self.schedd.submit(
                        s, itemdata=i, spool=spool))
                if spool:  # the inputs travel to the schedd now (the procs wait until then)
                    self._call("spool", lambda r=result: self.schedd.spool(r))
                record["clusters"].append({
                    "cluster": int(result.cluster()), "indices": format_frame_list(indices),
                    "attempt": attempt, "submitted": time.time(),
                    "file": f"{HTCONDOR_DIR}/submit-{number}.sub",
                    **({"transfer": True} if spool else {}),
                })
        finally:
            job.save_target_record(record)  # whatever was accepted is recorded

    def stage_in(self, job: JobDir) -> None:
        """filesystem: transfer: pack the inbox every proc unpacks (see transfer.py)."""
        if self.options.filesystem != SHARED:
            transfer.build_inbox(job)

    def stage_out(self, job: JobDir, task_ids: list[str]) -> None:
        """filesystem: transfer: retrieve the finished procs' outboxes and unpack them."""
        clusters = sorted({int(c["cluster"]) for c in self._record(job)["clusters"]
                           if c.get("transfer")})
        todo: list[str] = []
        if clusters:
            done = f"{_member(clusters)} && JobStatus == {_COMPLETED}"
            ads = self._call("query", lambda: self.schedd.query(
                constraint=done, projection=["ClusterId", "ProcId"]))
            todo = [proc for ad in ads if not transfer.unpacked(
                job, proc := f"{ad['ClusterId']}.{ad['ProcId']}")]
            if todo:
                self._call("retrieve", lambda: self.schedd.retrieve(todo))
        for outbox in transfer.outboxes(job):
            transfer.unpack_outbox(job, outbox)
        if todo:  # retrieved: the schedd may let them go to its history now
            with contextlib.suppress(Exception):
                self.schedd.edit(todo, "LeaveJobInQueue", "false")

    def _remove_held(self, job: JobDir, indices: list[int]) -> None:
        """Remove the held procs of these plan indices before they are submitted again."""
        latest = self._latest(job)
        clusters = sorted({latest[i][0] for i in indices if i in latest})
        if not clusters:
            return
        wanted = set(indices)
        ads = self._call("query", lambda: self.schedd.query(
            constraint=f"{_member(clusters)} && JobStatus == {_HELD}", projection=_PROJECTION))
        ids = [f"{ad['ClusterId']}.{ad['ProcId']}" for ad in ads
               if int(ad.get("OrbitfarmIndex", -1)) in wanted]
        if ids:
            htcondor = _bindings()
            self._call("remove", lambda: self.schedd.act(htcondor.JobAction.Remove, ids,
                                                         "orbitfarm: submitted again"))

    # -- tracking ----------------------------------------------------------------------------

    def _latest(self, job: JobDir) -> dict[int, Key]:
        """Plan index -> (cluster, index) of its latest submission."""
        latest: dict[int, Key] = {}
        for cluster in self._record(job)["clusters"]:
            for index in expand_indices(cluster["indices"]):
                latest[index] = (int(cluster["cluster"]), index)
        return latest

    def poll(self, job: JobDir, task_ids: list[str]) -> dict[str, SchedulerState]:
        latest = self._latest(job)
        wanted = {latest[i] for t in task_ids if (i := job.index_of(t)) in latest}
        clusters = sorted({k[0] for k in wanted})
        seen: dict[Key, SchedulerState] = {}
        if clusters:
            spooled = {int(c["cluster"]) for c in self._record(job)["clusters"]
                       if c.get("transfer")}
            for ad in self._call("query", lambda: self.schedd.query(
                    constraint=_member(clusters), projection=_PROJECTION)):
                state = proc_state(ad)
                if int(ad["ClusterId"]) in spooled and int(ad.get("JobStatus", 0)) == _COMPLETED \
                        and not transfer.unpacked(job, state.native_id or ""):
                    # Its files are still in the schedd's spool: not ended for orbitfarm yet.
                    state = SchedulerState(Phase.RUNNING, reason="finished; its outputs are not "
                                           "retrieved yet", native_id=state.native_id)
                seen[(int(ad["ClusterId"]), int(ad.get("OrbitfarmIndex", -1)))] = state
        missing = wanted - set(seen)
        if missing:
            gone = sorted({k[0] for k in missing})
            for ad in self._call("history", lambda: self.schedd.history(
                    constraint=_member(gone), projection=_PROJECTION, match=-1)):
                seen.setdefault((int(ad["ClusterId"]), int(ad.get("OrbitfarmIndex", -1))),
                                proc_state(ad))
        result: dict[str, SchedulerState] = {}
        for task_id in task_ids:
            key = latest.get(job.index_of(task_id))
            if key is None:
                result[task_id] = SchedulerState(Phase.UNKNOWN,
                                                 reason="never submitted to HTCondor")
            elif key in seen:
                result[task_id] = seen[key]
            else:
                result[task_id] = SchedulerState(
                    Phase.UNKNOWN, reason=f"HTCondor has no record of cluster {key[0]} index {key[1]} "
                                    "(not in the queue, not in the history)")
        return result

    def extra_logs(self, job: JobDir, task_id: str) -> list[Path]:
        """HTCondor's own output file of the task's latest proc, and the job's event log."""
        key = self._latest(job).get(job.index_of(task_id))
        if key is None:
            return []
        folder = job.path / HTCONDOR_DIR
        procs = sorted(folder.glob(f"{key[0]}.*.out"))
        index_of_proc = self._proc_numbers(job, key[0])
        found = [p for p in procs if index_of_proc.get(p.name.split(".")[1]) == key[1]]
        return [p for p in (*found, folder / "events.log") if p.is_file()]

    def _proc_numbers(self, job: JobDir, cluster: int) -> dict[str, int]:
        """Proc id (text) -> plan index within one cluster (procs follow the queue order)."""
        for entry in self._record(job)["clusters"]:
            if int(entry["cluster"]) == cluster:
                return {str(p): i for p, i in enumerate(expand_indices(entry["indices"]))}
        return {}

    def cancel(self, job: JobDir, task_ids: list[str] | None = None) -> None:
        htcondor = _bindings()
        record = self._record(job)
        if task_ids is None:
            clusters = sorted({int(c["cluster"]) for c in record["clusters"]})
            if clusters:
                self._call("remove", lambda: self.schedd.act(
                    htcondor.JobAction.Remove, _member(clusters), "orbitfarm: cancelled"))
            return
        latest = self._latest(job)
        keys = [k for t in task_ids if (k := latest.get(job.index_of(t))) is not None]
        for cluster in sorted({k[0] for k in keys}):
            procs = self._proc_numbers(job, cluster)
            ids = [f"{cluster}.{p}" for p, i in procs.items() if (cluster, i) in keys]
            self._call("remove", lambda ids=ids: self.schedd.act(
                htcondor.JobAction.Remove, ids, "orbitfarm: cancelled"))


def _member(clusters: list[int]) -> str:
    """A constraint matching the procs of these clusters."""
    return "(" + " || ".join(f"ClusterId == {c}" for c in clusters) + ")"


