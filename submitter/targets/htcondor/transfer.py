"""`filesystem: transfer`: HTCondor pools without shared storage (the staging step).

Nothing of the job directory needs to be visible to the pool. stage_in packs what a task reads
(the code copy, the packed inputs, the plan with paths as the task sees them, the task states)
into JOBDIR/htcondor/inbox.tar.gz; the bindings spool it with the task script to the schedd
(`submit(spool=True)` + `spool()`), so even the schedd need not see this machine's disk. On the
execute node each proc unpacks it into its scratch directory (the sandbox), runs the worker
there and packs every file the task wrote into outbox-<cluster>.<proc>.tar.gz, which HTCondor
transfers back. stage_out retrieves the finished procs' outboxes (`retrieve()`) into
JOBDIR/htcondor/ and unpacks them: job files to the job directory (a task's log is appended,
as on shared storage), subject outputs to their output folders.

Paths inside the sandbox are only known on the node: they are written with the placeholder
SANDBOX, which the task script replaces by its scratch directory before the worker starts.
A subject rendered in several chunks would need its result.json merged from several
sandboxes; transfer mode therefore runs each subject in one task (refused otherwise).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ...files.layout import CLUSTER_PLAN, HTCONDOR_DIR, INPUTS_DIR, LOG_DIR, STATE_DIR
from ...launch.runtime import Runtime, plan_worker_argv
from ..base import TargetError
from ..cluster_plan import cluster_plan_file
from ..pathmap import PathMap

if TYPE_CHECKING:
    from ...files.jobdir import JobDir

SANDBOX = "/@ORBITFARM_SANDBOX@"  # absolute (the plan keeps it as is); the node puts its own
INBOX = "inbox.tar.gz"
OUTBOX_PREFIX = "outbox-"  # outbox-<cluster>.<proc>.tar.gz
UNPACKED_SUFFIX = ".unpacked"
JOB_PART = "job"  # the job directory inside the sandbox
OUT_PART = "out"  # subject output folders inside the sandbox: out/<k>


def sandbox_map(job: JobDir) -> PathMap:
    """Local paths -> sandbox paths: the job directory and each subject's output folder."""
    pairs = [(str(job.path), f"{SANDBOX}/{JOB_PART}")]
    pairs += [(str(s.out), f"{SANDBOX}/{OUT_PART}/{k}") for k, s in enumerate(job.plan.subjects)]
    return PathMap(tuple(pairs))


def check_transferable(job: JobDir) -> None:
    """Raise TargetError unless every task can run from a sandbox alone."""
    inputs = job.path / INPUTS_DIR
    for subject in job.plan.subjects:
        if not Path(subject.blend).resolve().is_relative_to(inputs.resolve()):
            raise TargetError(f"htcondor filesystem: transfer needs packed subjects (the .blend "
                              f"travels in the job's inputs/), but {subject.blend} is not packed")
    if len(job.plan.chunks) > 1:
        raise TargetError("htcondor filesystem: transfer renders each subject in one task, but "
                          f"this job splits every orbit into {len(job.plan.chunks)} frame "
                          "chunks: submit without --chunk")


def build_inbox(job: JobDir) -> Path:
    """JOBDIR/htcondor/inbox.tar.gz: code, inputs, the sandbox plan, the task states."""
    check_transferable(job)
    plan = cluster_plan_file(job, sandbox_map(job))  # writes JOBDIR/plan.cluster.json
    assert plan == f"{SANDBOX}/{JOB_PART}/{CLUSTER_PLAN}", plan
    folder = job.path / HTCONDOR_DIR
    folder.mkdir(exist_ok=True)
    partial = folder / (INBOX + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        for name in (CLUSTER_PLAN, STATE_DIR, INPUTS_DIR, "code"):
            if (job.path / name).exists():
                tar.add(job.path / name, arcname=f"{JOB_PART}/{name}")
    os.replace(partial, folder / INBOX)
    return folder / INBOX


def transfer_script(*, runtime: Runtime, task_id_digits: int, setup: list[str],
                    index_variable: str) -> str:
    """The bash executable of a transfer-mode proc (its plan index is $1)."""
    job_dir = f"{SANDBOX}/{JOB_PART}"
    worker = shlex.join(plan_worker_argv(runtime, f"{job_dir}/code/orbitfarm",
                                         f"{job_dir}/{CLUSTER_PLAN}", index_variable))
    if f"'{SANDBOX}" in worker:
        raise TargetError(f"cannot build the worker line for the sandbox: {worker}")
    worker = worker.replace(SANDBOX, '"$SANDBOX"')
    lines = [
        "#!/bin/bash",
        "# orbitfarm (htcondor, filesystem: transfer): unpack the inbox HTCondor transferred",
        "# into this scratch folder, run one task, pack what it wrote into the outbox.",
        'SCRATCH=$PWD',
        'SANDBOX="$SCRATCH/orbitfarm"',
        'OUTBOX="$SCRATCH/outbox-$CONDOR_ID.tar.gz"',
        f'mkdir -p "$SANDBOX" && tar -xzf "$SCRATCH/{INBOX}" -C "$SANDBOX" || exit 1',
        f'sed -i "s#{SANDBOX}#$SANDBOX#g" "$SANDBOX/{JOB_PART}/{CLUSTER_PLAN}" || exit 1',
        f'mkdir -p "$SANDBOX/{JOB_PART}/{LOG_DIR}" "$SANDBOX/{OUT_PART}"',
        'touch "$SANDBOX/.started"',
        f'JOB_DIR="$SANDBOX/{JOB_PART}"',
        'INDEX=$1',
        f"printf -v TASK 't%0{task_id_digits}d' \"$INDEX\"",
        'pack() { (cd "$SANDBOX" && find . -type f -newer .started ! -name .started -print0 |'
        ' tar -czf "$OUTBOX" --null -T -); }',
        'trap pack EXIT  # also when HTCondor stops the proc with SIGTERM',
        'trap "exit 143" TERM',
        'cd "$JOB_DIR" || exit 1',
        f'exec >>"$JOB_DIR/{LOG_DIR}/$TASK.log" 2>&1',
        'echo "orbitfarm: task $TASK (plan index $INDEX) on $(hostname) as HTCondor job'
        ' $CONDOR_ID, sandbox $SANDBOX"',
    ]
    if setup:
        lines += ["", "# environment set-up (from the target profile)", *setup]
    lines += ["", "export PYTHONUNBUFFERED=1 PYTHONIOENCODING=utf-8", worker, ""]
    return "\n".join(lines)


def description_changes(job_dir: str) -> dict[str, str]:
    """The submit keys of transfer mode (over the shared-filesystem description)."""
    folder = f"{job_dir}/{HTCONDOR_DIR}"
    return {
        "initialdir": folder,  # where retrieve() puts the outbox and HTCondor's own output
        "output": "$(ClusterId).$(ProcId).out",
        "error": "$(ClusterId).$(ProcId).out",
        "should_transfer_files": "YES",
        "when_to_transfer_output": "ON_EXIT_OR_EVICT",
        "transfer_input_files": INBOX,
        "transfer_output_files": f"{OUTBOX_PREFIX}$(ClusterId).$(ProcId).tar.gz",
    }


def outboxes(job: JobDir) -> list[Path]:
    """Retrieved outboxes not unpacked yet."""
    return sorted((job.path / HTCONDOR_DIR).glob(f"{OUTBOX_PREFIX}*.tar.gz"))


def unpacked(job: JobDir, proc: str) -> bool:
    """Whether proc 'cluster.proc' had its outbox retrieved and unpacked."""
    name = f"{OUTBOX_PREFIX}{proc}.tar.gz{UNPACKED_SUFFIX}"
    return (job.path / HTCONDOR_DIR / name).is_file()


def unpack_outbox(job: JobDir, outbox: Path) -> None:
    """Put one proc's files where shared storage would have them; mark the outbox done."""
    places = {JOB_PART: job.path}
    places.update({f"{OUT_PART}/{k}": Path(s.out) for k, s in enumerate(job.plan.subjects)})
    with tempfile.TemporaryDirectory(prefix="orbitfarm-outbox-") as tmp:
        with tarfile.open(outbox, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        for path in sorted(Path(tmp).rglob("*")):
            if not path.is_file():
                continue
            rel = PurePosixPath(path.relative_to(tmp).as_posix())
            target = _place(places, rel)
            if target is None:
                continue  # something the task wrote elsewhere in its sandbox
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel.parts[:2] == (JOB_PART, LOG_DIR):
                with open(target, "ab") as log:  # logs grow across attempts
                    log.write(path.read_bytes())
            else:
                shutil.copyfile(path, target.with_name(target.name + ".partial"))
                os.replace(target.with_name(target.name + ".partial"), target)
    outbox.rename(outbox.with_name(outbox.name + UNPACKED_SUFFIX))


def _place(places: dict[str, Path], rel: PurePosixPath) -> Path | None:
    for prefix, local in places.items():
        parts = PurePosixPath(prefix).parts
        if rel.parts[:len(parts)] == parts:
            return local.joinpath(*rel.parts[len(parts):])
    return None
