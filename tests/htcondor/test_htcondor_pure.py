"""The HTCondor submit description and task script, as text; job ads -> states (no pool)."""

from __future__ import annotations

import subprocess

import pytest
from orbitfarm.submitter.launch.runtime import Runtime
from orbitfarm.submitter.model.states import EndReason, Phase
from orbitfarm.submitter.targets.htcondor.submit import (
    HtcondorOptions,
    SubmitError,
    classad_string,
    description,
    submit_text,
    task_script,
)
from orbitfarm.submitter.targets.htcondor.target import proc_state


def test_description_carries_resources_and_the_task_attributes():
    options = HtcondorOptions(request_cpus=4, request_memory="8 GB", request_gpus=2,
                              requirements='(OpSysMajorVer >= 12) && (CUDACapability >= 7.0)',
                              accounting_group="group_vis.alice", max_materialize=50,
                              extra_submit={"+WantGPULab": "true"}).validate()
    desc = description(job_id='j"1', job_dir="/data/j 1", indices=[3, 7], attempt=2,
                       options=options)
    assert desc["executable"] == "/data/j 1/htcondor/task.sh"
    assert desc["initialdir"] == "/data/j 1"
    assert desc["+OrbitfarmJob"] == '"j\\"1"' and desc["+OrbitfarmIndex"] == "$(Index)"
    assert desc["+OrbitfarmAttempt"] == "2"
    assert (desc["request_cpus"], desc["request_memory"], desc["request_gpus"]) == ("4", "8GB",
                                                                                     "2")
    assert desc["+AccountingGroup"] == '"group_vis.alice"'
    assert desc["accounting_group"] == "group_vis.alice"
    assert desc["max_materialize"] == "50" and desc["+WantGPULab"] == "true"
    assert desc["should_transfer_files"] == "NO"
    assert "ORBITFARM_TASK_INDEX=$(Index)" in desc["environment"]
    text = submit_text(desc, [3, 7])
    assert text.endswith("queue Index from (\n3\n7\n)\n")


def test_no_gpu_request_when_zero():
    desc = description(job_id="j", job_dir="/d", indices=[0], attempt=1,
                       options=HtcondorOptions(request_gpus=0))
    assert "request_gpus" not in desc


@pytest.mark.parametrize("bad, match", [
    ({"request_memory": "lots"}, "request_memory"),
    ({"request_gpus": -1}, "request_gpus"),
    ({"filesystem": "nfs"}, "filesystem"),
    ({"requirements": "true\nexecutable = /bin/evil"}, "single line"),
    ({"extra_submit": {"bad key": "1"}}, "extra_submit"),
    ({"accounting_group": "a b"}, "accounting_group"),
])
def test_bad_options_are_refused(bad, match):
    with pytest.raises(SubmitError, match=match):
        HtcondorOptions(**bad).validate()


def test_classad_string_escapes():
    assert classad_string('a"b\\c') == '"a\\"b\\\\c"'


def test_task_script_reads_its_index_and_quotes_paths(tmp_path):
    hostile = str(tmp_path / "x $(touch PWNED) 'q'")
    text = task_script(job_dir=hostile, plan_file=f"{hostile}/plan.json",
                       code_dir=f"{hostile}/code", runtime=Runtime("blender", "/usr/bin/blender"),
                       task_id_digits=5, setup=["module load blender"])
    assert "INDEX=$1" in text and "module load blender" in text
    head = text[:text.index('exec >>')] + 'echo "$TASK"\n'
    (tmp_path / "x $(touch PWNED) 'q'").mkdir()
    out = subprocess.run(["bash", "-c", head, "task.sh", "42"], capture_output=True, text=True)
    assert out.stdout.strip() == "t00042" and not list(tmp_path.rglob("PWNED"))


def test_job_ads_map_to_states():
    assert proc_state({"JobStatus": 1, "ClusterId": 5, "ProcId": 0}).state == Phase.PENDING
    assert proc_state({"JobStatus": 2, "ClusterId": 5, "ProcId": 0}).state == Phase.RUNNING
    held = proc_state({"JobStatus": 5, "ClusterId": 5, "ProcId": 1, "HoldReason": "disk full"})
    assert (held.state, held.reason, held.native_id) == (Phase.ENDED, "held: disk full", "5.1")
    done = proc_state({"JobStatus": 4, "ExitCode": 3, "ExitBySignal": False})
    assert (done.state, done.exit_code, done.reason) == (Phase.ENDED, 3, "exit code 3")
    killed = proc_state({"JobStatus": 4, "ExitBySignal": True, "ExitSignal": 9})
    assert killed.reason == "killed by signal 9" and killed.exit_code is None
    assert (held.end, done.end, killed.end) == (EndReason.KILLED, EndReason.EXITED,
                                                EndReason.KILLED)
    assert proc_state({"JobStatus": 3}).end == EndReason.CANCELLED


def test_transfer_script_runs_the_worker_in_its_sandbox(tmp_path):
    """The sandbox placeholder becomes the proc's scratch folder, unquoted, everywhere; bash
    accepts the script; the worker's own exit code is the proc's (no exec: the outbox is packed
    after it)."""
    from orbitfarm.submitter.targets.htcondor import transfer

    text = transfer.transfer_script(runtime=Runtime("blender", "/opt/my blender/blender"),
                                    task_id_digits=5, setup=["module load x"],
                                    index_variable="ORBITFARM_TASK_INDEX")
    worker = text.rstrip().splitlines()[-1]
    assert worker.startswith("'/opt/my blender/blender'")  # not exec'd
    assert '"$SANDBOX"/job/code/orbitfarm' in worker and '"$SANDBOX"/job/plan.cluster.json' in worker
    assert f"s#{transfer.SANDBOX}#$SANDBOX#g" in text and "trap pack EXIT" in text
    script = tmp_path / "task.sh"
    script.write_text(text)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    keys = transfer.description_changes("/jobs/j1")
    assert keys["initialdir"] == "/jobs/j1/htcondor"
    assert keys["transfer_output_files"] == "outbox-$(ClusterId).$(ProcId).tar.gz"


def test_spooling_hold_is_pending_not_a_failure():
    state = proc_state({"ClusterId": 3, "ProcId": 0, "JobStatus": 5, "HoldReasonCode": 16,
                        "HoldReason": "Spooling input data files"})
    assert state.state == Phase.PENDING and state.reason == "spooling inputs"
