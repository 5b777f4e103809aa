"""The Grid Engine qsub script builder and output parsers, as text (no cluster needed).

The captured outputs below come from Debian's gridengine 8.1.9 (tests/sge/cluster.sh).
"""

from __future__ import annotations

import shlex
import subprocess
import time

import pytest
from orbitfarm.submitter.launch.runtime import Runtime
from orbitfarm.submitter.model.states import EndReason, Phase
from orbitfarm.submitter.targets.base import TargetError
from orbitfarm.submitter.targets.sge.commands import (
    expand_tasks,
    parse_error_reasons,
    parse_qacct,
    parse_qconf_value,
    parse_qstat_xml,
    parse_qsub_terse,
)
from orbitfarm.submitter.targets.sge.script import (
    ScriptError,
    SgeArray,
    SgeOptions,
    build_script,
    gpu_lines,
    job_name,
    scale_h_rt,
    scale_memory,
    split_arrays,
)

QSTAT_XML = """<?xml version='1.0'?>
<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">
  <queue_info>
    <job_list state="running">
      <JB_job_number>1</JB_job_number>
      <JB_name>ofplay</JB_name>
      <state>r</state>
      <queue_name>all.q@vm</queue_name>
      <slots>1</slots>
      <tasks>2</tasks>
    </job_list>
  </queue_info>
  <job_info>
    <job_list state="pending">
      <JB_job_number>1</JB_job_number>
      <state>qw</state>
      <tasks>3-10000:1</tasks>
    </job_list>
    <job_list state="pending">
      <JB_job_number>7</JB_job_number>
      <state>Eqw</state>
      <tasks>3</tasks>
    </job_list>
    <job_list state="pending">
      <JB_job_number>8</JB_job_number>
      <state>hqw</state>
      <tasks></tasks>
    </job_list>
  </job_info>
</job_info>"""

QACCT = """==============================================================
qname        all.q
jobname      orbitfarm-j1
jobnumber    5
taskid       2
failed       37  : qmaster enforced h_rt, h_cpu, or h_vmem limit
exit_status  137                  (Killed)
==============================================================
qname        all.q
jobname      orbitfarm-j1
jobnumber    5
taskid       3
failed       0
exit_status  7
==============================================================
qname        all.q
jobname      orbitfarm-j1
jobnumber    5
taskid       4
failed       0
exit_status  0
"""

QSTAT_J = """job_number:                 7
job-array tasks:            1-5:1
error reason          3:      12/03/2026 14:03:19 [103:29407]: exit_status of job start = 100
error reason          4:      12/03/2026 14:06:09 [0:11027]: error: can't open output file "/x/sge/7.4.out": No such file or directory
scheduling info:            Job is in error state
"""


def test_qstat_xml_expands_ranges_and_maps_states():
    states = parse_qstat_xml(QSTAT_XML)
    assert states[("1", 2)].state == Phase.RUNNING
    assert states[("1", 3)].state == Phase.PENDING and states[("1", 10000)].state == Phase.PENDING
    assert len([k for k in states if k[0] == "1"]) == 9999
    assert states[("7", 3)].state == Phase.ENDED  # error state: it will never run by itself
    assert states[("8", 1)].state == Phase.PENDING  # on hold, not an array
    with pytest.raises(TargetError, match="XML"):
        parse_qstat_xml("qstat: error")


def test_expand_tasks_with_steps_and_lists():
    assert expand_tasks("1-9:4,12") == [1, 5, 9, 12]
    assert expand_tasks("") == [1]


def test_qacct_records_and_their_words():
    states = parse_qacct(QACCT)
    assert set(states) == {("5", 2), ("5", 3), ("5", 4)}
    assert states[("5", 2)].describe() == (
        "time or memory limit enforced (h_rt, h_cpu or h_vmem): killed by SIGKILL")
    assert states[("5", 3)].exit_code == 7 and states[("5", 3)].describe() == "exit code 7"
    assert states[("5", 4)].describe() == "exited 0" and states[("5", 4)].state == Phase.ENDED
    assert [states[("5", t)].end for t in (2, 3, 4)] == [EndReason.KILLED, EndReason.EXITED,
                                                         EndReason.EXITED]
    assert parse_qacct(QACCT.replace("failed       0\nexit_status  7",
                                     "failed       26  : opening input/output file\n"
                                     "exit_status  0"))[("5", 3)].end == EndReason.NEVER_STARTED


# What this machine's Grid Engine 8.1.9 printed for a task killed at its h_rt (3 s) and for
# one killed for its memory (same failed code 37): only the run time tells them apart.
QACCT_LIMITS = """==============================================================
jobnumber    9
taskid       1
failed       37  : qmaster enforced h_rt, h_cpu, or h_vmem limit
exit_status  137                  (Killed)
ru_wallclock 5s
category     -l gpu=1,h_rt=3
==============================================================
jobnumber    9
taskid       2
failed       37  : qmaster enforced h_rt, h_cpu, or h_vmem limit
exit_status  137                  (Killed)
ru_wallclock 1.250
category     -l h_rt=0:10:00,h_vmem=1G
"""


def test_h_rt_kill_reads_as_timeout_and_a_memory_kill_does_not():
    states = parse_qacct(QACCT_LIMITS)
    timed_out, memory = states[("9", 1)], states[("9", 2)]
    assert (timed_out.h_rt, timed_out.wallclock) == (3, 5.0)
    assert timed_out.end == EndReason.TIMEOUT
    assert timed_out.describe() == "h_rt limit reached (3 s; ran 5 s): killed by SIGKILL"
    assert (memory.h_rt, memory.wallclock) == (600, 1.25)
    assert memory.end == EndReason.KILLED
    assert memory.describe().startswith("time or memory limit enforced")


def test_error_reasons_per_task():
    reasons = parse_error_reasons(QSTAT_J)
    assert reasons[3] == "exit_status of job start = 100"
    assert reasons[4].startswith("error: can't open output file")


def test_qsub_terse_and_config_values():
    assert parse_qsub_terse("12.1-5:1\n") == "12"
    assert parse_qsub_terse("13\n") == "13"
    with pytest.raises(TargetError, match="job id"):
        parse_qsub_terse('Unable to run job: denied: host "vm" is not a submit host')
    assert parse_qconf_value("max_aj_instances 2000\nmax_aj_tasks   75000\n",
                             "max_aj_tasks") == "75000"


def test_split_arrays_respects_max_aj_tasks():
    arrays = split_arrays([5, 0, 1, 2, 3, 4, 9], 3)
    assert [a.indices for a in arrays] == [[0, 1, 2], [3, 4, 5], [9]]
    assert arrays[0].contiguous and arrays[0].index_of_task(3) == 2


def _script(array: SgeArray, options: SgeOptions | None = None, job_dir: str = "/data/j 1") -> str:
    return build_script(name=job_name("j1"), job_dir=job_dir, plan_file=f"{job_dir}/plan.json",
                        code_dir=f"{job_dir}/code", runtime=Runtime("blender", "/opt/blender"),
                        array=array, task_id_digits=5, options=options or SgeOptions(gpus=0))


def test_script_header_and_contiguous_index():
    text = _script(SgeArray([10, 11, 12]), SgeOptions(queue="gpu.q", h_vmem="8G", gpus=2,
                                                      pe="smp", slots=4, project="vis",
                                                      array_throttle=2,
                                                      extra_qsub=["-m n"]))
    lines = text.splitlines()
    for expected in ("#$ -N orbitfarm-j1", "#$ -t 1-3", "#$ -tc 2", "#$ -cwd",
                     "#$ -o sge/$JOB_ID.$TASK_ID.out", "#$ -l h_rt=12:00:00",
                     "#$ -l h_vmem=8G", "#$ -l gpu=2", "#$ -q gpu.q", "#$ -pe smp 4",
                     "#$ -P vis", "#$ -m n", "INDEX=$((SGE_TASK_ID - 1 + 10))"):
        assert expected in lines, expected
    assert "JOB_DIR='/data/j 1'" in lines


def test_script_sparse_retry_uses_a_list():
    text = _script(SgeArray([3, 7, 1200]))
    assert "INDICES=(3 7 1200)" in text and "#$ -t 1-3" in text


def test_hostile_values_are_refused_or_quoted():
    with pytest.raises(ScriptError, match="queue"):
        SgeOptions(queue="a b").validate()
    with pytest.raises(ScriptError, match="h_rt"):
        SgeOptions(h_rt="soon").validate()
    with pytest.raises(ScriptError, match="pe and slots"):
        SgeOptions(pe="smp").validate()
    with pytest.raises(ScriptError, match="extra_qsub"):
        SgeOptions(extra_qsub=["-l a=1\n#$ -l b=2"]).validate()
    hostile = "/tmp/x $(touch PWNED) 'q'"
    text = _script(SgeArray([0]), job_dir=hostile)
    assert f"JOB_DIR={shlex.quote(hostile)}" in text


def _run_index_lines(script: str, task: int) -> str:
    """Run the script's index-picking lines in bash for one task id; the plan index chosen."""
    lines = [line for line in script.splitlines() if line.startswith(("INDEX", "INDICES"))]
    body = f"SGE_TASK_ID={task}\n" + "\n".join(lines) + '\necho "$INDEX"\n'
    return subprocess.run(["bash", "-c", body], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_index_lines_pick_the_right_plan_index_in_bash():
    assert _run_index_lines(_script(SgeArray([10, 11, 12])), 3) == "12"
    assert _run_index_lines(_script(SgeArray([3, 7, 1200])), 2) == "7"


def test_worker_exit_99_and_100_do_not_reach_grid_engine(tmp_path):
    """99 would reschedule the task and 100 park it in error state: both are reported as 1."""
    text = _script(SgeArray([0]))
    tail = text[text.index("export PYTHONUNBUFFERED"):]
    for code, expected in ((0, 0), (3, 3), (99, 1), (100, 1)):
        body = tail.replace("/opt/blender", f"(exit {code}) #", 1)
        result = subprocess.run(["bash", "-c", body], capture_output=True, text=True)
        assert result.returncode == expected, (code, result.stdout)


def _gpu_task(options: SgeOptions, hold: float) -> subprocess.Popen[str]:
    """The script's GPU-picking lines in a bash process that holds its devices for `hold` s."""
    body = "\n".join(gpu_lines(options)) + f'\necho "picked=$CUDA_VISIBLE_DEVICES"\nsleep {hold}\n'
    return subprocess.Popen(["bash", "-c", body], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_gpu_locks_give_concurrent_tasks_distinct_devices(tmp_path):
    """Grid Engine binds no GPU: tasks sharing a node must still never share a device."""
    options = SgeOptions(gpus=1, gpu_devices=2, gpu_lock_dir=str(tmp_path))
    first, second = _gpu_task(options, 3), _gpu_task(options, 3)
    time.sleep(1)
    third = _gpu_task(options, 0)  # the consumable would not allow it; if it ran anyway:
    out3, _ = third.communicate(timeout=30)
    assert third.returncode == 1 and "needed 1 free GPU(s) but only 0 of 2" in out3
    picked = sorted(p.communicate(timeout=30)[0].strip() for p in (first, second))
    assert picked == ["orbitfarm: GPU device(s) 0 of 2\npicked=0",
                      "orbitfarm: GPU device(s) 1 of 2\npicked=1"]
    two = _gpu_task(SgeOptions(gpus=2, gpu_devices=2, gpu_lock_dir=str(tmp_path)), 0)
    assert two.communicate(timeout=30)[0].strip().endswith("picked=0,1")  # locks were released


def test_no_gpu_lines_without_gpus():
    assert gpu_lines(SgeOptions(gpus=0)) == []
    assert "-l gpu=" not in _script(SgeArray([0]), SgeOptions(gpus=0))


def test_retry_escalation_units():
    assert scale_h_rt("1:00:00", 1.5) == "1:30:00"
    assert scale_h_rt("90", 3) == "0:05:00"  # seconds, rounded up to whole minutes
    assert scale_h_rt("20:00:00", 2) == "40:00:00"  # hours past a day stay hours
    assert scale_memory("8G", 1.5) == "12G" and scale_memory("1000M", 1.5) == "1500M"
    with pytest.raises(ScriptError, match="h_rt"):
        scale_h_rt("soon", 2)
