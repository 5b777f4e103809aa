"""The SLURM target's pure parts: script text, array splitting, output parsers, units, quoting.

No cluster needed. The scripts are also run through bash (with a stand-in for the worker) to
prove that hostile paths reach the worker as the exact same strings.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from orbitfarm.submitter.launch.runtime import Runtime
from orbitfarm.submitter.model.states import EndReason, Phase
from orbitfarm.submitter.targets import make_target
from orbitfarm.submitter.targets.arrays import ArrayChunk, split_arrays
from orbitfarm.submitter.targets.base import TargetError
from orbitfarm.submitter.targets.options import add_target_options, target_option_values
from orbitfarm.submitter.targets.pathmap import PathMap
from orbitfarm.submitter.targets.remote import SshShell, make_shell
from orbitfarm.submitter.targets.slurm.commands import (
    expand_array_id,
    parse_config_value,
    parse_records,
    parse_sbatch_id,
    parse_squeue,
)
from orbitfarm.submitter.targets.slurm.rest import element_from_rest, job_fields
from orbitfarm.submitter.targets.slurm.script import (
    ScriptError,
    SlurmOptions,
    build_script,
    job_name,
)
from orbitfarm.submitter.targets.slurm.target import SlurmTarget
from orbitfarm.submitter.targets.slurm.units import (
    UnitError,
    format_time,
    parse_mem,
    parse_time,
    scale_mem,
    scale_time,
)

HOSTILE = "/tmp/we ird $(touch PWNED) `id` 'q' \"dq\" ü\\n;|&"


def _script(job_dir: str = "/jobs/j1", runtime: Runtime | None = None, **options) -> str:
    return build_script(
        name=job_name("20260101-000000-abcd"), job_dir=job_dir, plan_file=f"{job_dir}/plan.json",
        code_dir=f"{job_dir}/code/orbitfarm", runtime=runtime or Runtime("blender", "blender"),
        chunk=ArrayChunk(offset=1000, indices=[0, 1, 2, 5]), task_id_digits=5,
        options=SlurmOptions.from_profile(options))


def test_script_defaults_and_layout():
    text = _script()
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    sbatch = [line for line in lines if line.startswith("#SBATCH")]
    assert sbatch == [
        "#SBATCH --job-name=orbitfarm-20260101-000000-abcd",
        "#SBATCH --array=0-2,5",
        "#SBATCH --output=slurm/%A_%a.out",
        "#SBATCH --open-mode=append",
        "#SBATCH --time=12:00:00",
        "#SBATCH --gpus=1",
    ]
    assert "INDEX=$((SLURM_ARRAY_TASK_ID + 1000))" in lines
    worker = lines[-1]
    assert worker.startswith("exec blender -b --factory-startup --disable-autoexec ")
    assert worker.endswith("-- /jobs/j1/code/orbitfarm --plan /jobs/j1/plan.json "
                           "--index-env SLURM_ARRAY_TASK_ID --index-offset 1000")
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)


def test_script_every_option_in_order():
    text = _script(partition="gpu", account="proj", qos="high", time="1-00:00:00", gres="gpu:h100:1",
                   cpus_per_task=8, mem="64G", constraint="h100|a100", exclude="n[1-3]",
                   nodelist="n7", array_throttle=10, extra_sbatch=["--mail-type=END"],
                   setup=["module load blender/4.2", "export FOO='a b'"])
    sbatch = [line for line in text.splitlines() if line.startswith("#SBATCH")]
    assert sbatch[1] == "#SBATCH --array=0-2,5%10"
    assert sbatch[4:] == [
        "#SBATCH --time=1-00:00:00", "#SBATCH --gres=gpu:h100:1", "#SBATCH --partition=gpu",
        "#SBATCH --account=proj", "#SBATCH --qos=high", "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=64G", "#SBATCH --constraint=h100|a100", "#SBATCH --exclude=n[1-3]",
        "#SBATCH --nodelist=n7", "#SBATCH --mail-type=END",
    ]
    body = text.split("# environment set-up (from the target profile)\n")[1]
    assert body.startswith("module load blender/4.2\nexport FOO='a b'\n")
    assert "--gpus" not in text


def test_no_gpu_request_when_gpus_is_zero():
    assert "--gpus" not in _script(gpus=0) and "--gres" not in _script(gpus=0)


@pytest.mark.parametrize("key,value", [
    ("partition", "gpu\n#SBATCH --uid=0"), ("account", "a b"), ("qos", "q'x"),
    ("extra_sbatch", ["--mail-type=END\necho pwned"]), ("time", "soon"), ("mem", "lots"),
    ("cpus_per_task", 0), ("array_throttle", -1), ("gpus", "1 2"),
])
def test_bad_options_are_refused(key, value):
    with pytest.raises(ScriptError):
        SlurmOptions.from_profile({key: value})


def test_hostile_paths_reach_the_worker_unchanged(tmp_path):
    """Run the script body in bash with a fake worker that prints its argv as JSON."""
    job_dir = tmp_path / HOSTILE.strip("/").replace("/", "_")
    (job_dir / "logs").mkdir(parents=True)
    fake = tmp_path / "fake python"
    fake.write_text(f"#!{sys.executable}\nimport json, sys\nprint('ARGV' + json.dumps(sys.argv[1:]))\n")
    fake.chmod(0o755)
    text = _script(job_dir=str(job_dir), runtime=Runtime("python", str(fake)),
                   setup=['echo "setup sees $INDEX"'])
    env = {"PATH": "/usr/bin:/bin", "SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_JOB_ID": "77"}
    subprocess.run(["bash", "-c", text], cwd=tmp_path, env=env, check=True, timeout=60)
    log = (job_dir / "logs" / "t01005.log").read_text()
    assert "task t01005 (plan index 1005)" in log and "setup sees 1005" in log
    import json

    argv = json.loads(log.split("ARGV", 1)[1])
    assert argv[argv.index("--") + 1:] == [
        f"{job_dir}/code/orbitfarm", "--plan", f"{job_dir}/plan.json",
        "--index-env", "SLURM_ARRAY_TASK_ID", "--index-offset", "1000"]
    assert not list(tmp_path.rglob("PWNED"))


def test_a_job_made_before_index_variables_keeps_its_worker_line():
    """A retry of an old job runs that job's own code copy, whose worker wants --index."""
    text = build_script(
        name="n", job_dir="/jobs/j1", plan_file="/jobs/j1/plan.json",
        code_dir="/jobs/j1/code/orbitfarm", runtime=Runtime("blender", "blender"),
        chunk=ArrayChunk(offset=1000, indices=[0]), task_id_digits=5,
        options=SlurmOptions.from_profile({}), legacy_worker=True)
    assert text.splitlines()[-1].endswith('--plan /jobs/j1/plan.json --index "$INDEX"')


def test_split_arrays_windows_and_sparse_retries():
    assert [(c.offset, c.indices) for c in split_arrays(list(range(10)), 4)] == [
        (0, [0, 1, 2, 3]), (4, [0, 1, 2, 3]), (8, [0, 1])]
    chunks = split_arrays([3, 7, 1200, 1201, 5000], 1001)
    assert [(c.offset, c.array_spec()) for c in chunks] == [(3, "0,4"), (1200, "0-1"), (5000, "0")]
    assert [i for c in chunks for i in c.task_indices] == [3, 7, 1200, 1201, 5000]
    assert ArrayChunk(0, [0, 1, 2]).array_spec(throttle=2) == "0-2%2"
    # 10,000 tasks: indices stay below MaxArraySize and every task appears once.
    big = split_arrays(list(range(10_000)), 1001)
    assert len(big) == 10 and all(max(c.indices) < 1001 for c in big)
    assert [i for c in big for i in c.task_indices] == list(range(10_000))


def test_job_name_is_safe():
    assert job_name("20260101-x", "my scene; rm -rf /") == "orbitfarm-my_scene_rm_-rf_-20260101-x"


def test_parse_squeue_expands_ranges():
    text = ("12_[0-2,5%2]|PENDING|Resources\n12_3|RUNNING|None\n12_4|TIMEOUT|TimeLimit\n"
            "13_0|COMPLETING|None\n13_1|CANCELLED|None\n")
    states = parse_squeue(text)
    assert sorted(states) == [("12", i) for i in (0, 1, 2, 3, 4, 5)] + [("13", 0), ("13", 1)]
    assert states[("12", 0)].state == Phase.PENDING and states[("12", 0)].describe() == "PENDING (Resources)"
    assert states[("12", 3)].state == Phase.RUNNING and states[("13", 0)].state == Phase.RUNNING
    assert states[("12", 4)].state == Phase.ENDED
    assert states[("12", 4)].end == EndReason.TIMEOUT and states[("12", 0)].end is None
    assert states[("12", 4)].describe() == "TIMEOUT: time limit reached"
    assert states[("13", 1)].describe().startswith("CANCELLED")
    assert expand_array_id("7_[1-7:3]") == [("7", 1), ("7", 4), ("7", 7)]
    assert expand_array_id("garbage") == []


def test_parse_jobcomp_records_with_spaces_in_values():
    text = (
        "JobId=20 UserId=root(0) Name=x JobState=TIMEOUT WorkDir=/a b JobState=FAKE c "
        "ArrayJobId=18 ArrayTaskId=2 ExitCode=0:15\n"
        "JobId=18 JobState=OUT_OF_MEMORY ArrayJobId=18 ArrayTaskId=0 ExitCode=0:9\n"
        "JobId=30 JobState=CANCELLED WorkDir=/x ExitCode=0:0\n")
    states = parse_records(text)
    assert states[("18", 2)].slurm_state == "TIMEOUT" and states[("18", 2)].signal == 15
    assert states[("18", 0)].describe() == "OUT_OF_MEMORY: out of memory, signal 9"
    assert states[("30", -1)].slurm_state == "CANCELLED"  # a whole pending array cancelled


def test_parse_small_outputs():
    assert parse_sbatch_id("123\n") == "123" and parse_sbatch_id("99;cluster\n") == "99"
    with pytest.raises(TargetError):
        parse_sbatch_id("sbatch: error: Batch job submission failed")
    config = "MaxArraySize            = 4\nJobCompType             = jobcomp/filetxt\n"
    assert parse_config_value(config, "MaxArraySize") == "4"
    assert parse_config_value(config, "MinJobAge") is None


def test_units():
    assert parse_time("12:00:00") == 43200 and parse_time("30") == 1800
    assert parse_time("1:30") == 90 and parse_time("2-3") == 2 * 86400 + 3 * 3600
    assert parse_time("1-02:03:04") == 93784 and format_time(93784) == "1-02:03:04"
    assert scale_time("1", 3) == "00:03:00" and scale_time("12:00:00", 1.5) == "18:00:00"
    assert parse_mem("16G") == 16384 and parse_mem("500") == 500 and parse_mem("1.5G") == 1536
    assert scale_mem("16G", 2) == "32G" and scale_mem("1000M", 1.5) == "1500M"
    for bad in ("", "soon", "1:2:3:4"):
        with pytest.raises(UnitError):
            parse_time(bad)
    with pytest.raises(UnitError):
        parse_mem("lots")


def test_path_map_both_ways():
    mapping = PathMap.from_profile([{"local": "/Volumes/proj/", "remote": "/gpfs/proj"},
                                    {"local": "/home/me", "remote": "/u/me"}])
    assert mapping.to_remote("/Volumes/proj/a b/job") == "/gpfs/proj/a b/job"
    assert mapping.to_remote("/Volumes/project2/x") == "/Volumes/project2/x"  # prefix != dir
    assert mapping.to_local("/u/me/x") == "/home/me/x"
    assert not PathMap.from_profile(None)
    with pytest.raises(TargetError):
        PathMap.from_profile([{"local": "/a"}])


def test_ssh_command_round_trips_hostile_arguments(tmp_path):
    """The remote command ssh would run, run by a local shell, sees the exact argv."""
    shell = SshShell(host="login1")
    argv = [sys.executable, "-c", "import sys, json; print(json.dumps(sys.argv[1:]))",
            HOSTILE, "a'b", "$HOME", "ü"]
    ssh = shell.ssh_argv(argv, cwd=str(tmp_path))
    assert ssh[:5] == ["ssh", "-o", "BatchMode=yes", "--", "login1"] and len(ssh) == 6
    out = subprocess.run(["sh", "-c", ssh[5]], capture_output=True, text=True, check=True)
    import json

    assert json.loads(out.stdout) == argv[3:]
    with pytest.raises(TargetError):
        make_shell({"ssh": "-oProxyCommand=evil"})


def test_rest_job_fields_and_records():
    options = SlurmOptions.from_profile({"partition": "gpu", "time": "1:00:00", "mem": "8G",
                                         "cpus_per_task": 4})
    job = job_fields(options, name="n", array="0-3%2", cwd="/j d", version="0.0.38")
    assert job["environment"]["PATH"] and job["gres"] == "gpu:1" and job["time_limit"] == 60
    assert job["memory_per_node"] == 8192 and job["current_working_directory"] == "/j d"
    assert job["array"] == "0-3%2" and job["partition"] == "gpu" and job["cpus_per_task"] == 4
    new = job_fields(options, name="n", array="0", cwd="/j", version="0.0.40")
    assert new["time_limit"] == {"set": True, "infinite": False, "number": 60}
    assert isinstance(new["environment"], list) and new["tres_per_node"] == "gres/gpu:1"
    with pytest.raises(TargetError):
        job_fields(SlurmOptions(extra_sbatch=["--x"]), name="n", array="0", cwd="/", version="0.0.38")
    keys, element = element_from_rest({"job_id": 8, "array_job_id": 6, "array_task_id": 1,
                                       "job_state": "FAILED", "exit_code": 768})
    assert keys == [("6", 1)] and element.exit_code == 3 and element.state == Phase.ENDED
    keys, element = element_from_rest({"job_id": 9, "array_job_id": 9, "array_task_id": 0,
                                       "array_task_string": "0-3", "job_state": "PENDING"})
    assert len(keys) == 4 and element.state == Phase.PENDING
    keys, element = element_from_rest({"job_id": 9, "array_job_id": {"set": True, "number": 9},
                                       "array_task_id": {"set": True, "number": 2},
                                       "job_state": ["TIMEOUT"],
                                       "exit_code": {"return_code": {"set": True, "number": 0},
                                                     "signal": {"id": {"set": True, "number": 15}}}})
    assert keys == [("9", 2)] and element.describe() == "TIMEOUT: time limit reached, signal 15"


def test_cli_options_override_profile():
    parser = argparse.ArgumentParser()
    add_target_options(parser, {"slurm": SlurmTarget})
    args = parser.parse_args(["--partition", "h100", "--time", "2:00:00", "--gpus", "2",
                              "--setup", "module load blender", "--sbatch-line=--exclusive",
                              "--array-throttle", "5"])
    profile = SlurmTarget.profile_with_options(
        {"kind": "slurm", "partition": "a100", "setup": ["source /etc/profile"]},
        target_option_values(args, "slurm"))
    assert profile["partition"] == "h100" and profile["time"] == "2:00:00"
    assert profile["setup"] == ["source /etc/profile", "module load blender"]
    assert profile["extra_sbatch"] == ["--exclusive"] and profile["array_throttle"] == 5
    target = make_target(profile)
    assert isinstance(target, SlurmTarget)
    assert target.runtime() == Runtime("blender", "blender")
    assert "partition h100" in target.describe()
    bad = parser.parse_args(["--time", "tomorrow"])
    with pytest.raises(TargetError, match="time limit"):
        SlurmTarget.profile_with_options({"kind": "slurm"}, target_option_values(bad, "slurm"))


def test_each_target_kind_has_its_own_option_namespace():
    from orbitfarm.submitter.targets.base import Target, TargetOption

    class Other(Target):
        kind = "other"

        @classmethod
        def cli_options(cls):
            return [TargetOption(("--time",), "time", "a clash with slurm's --time")]

    with pytest.raises(ValueError, match="--time.*'slurm'.*'other'"):
        add_target_options(argparse.ArgumentParser(), {"slurm": SlurmTarget, "other": Other})
    parser = argparse.ArgumentParser()
    add_target_options(parser, {"slurm": SlurmTarget, "local": make_target({}).__class__})
    args = parser.parse_args(["--workers", "3", "--mem", "8G"])
    assert target_option_values(args, "local") == {"workers": 3}
    assert target_option_values(args, "slurm")["mem"] == "8G"


def test_cluster_script_usage_and_syntax():
    script = Path(__file__).with_name("cluster.sh")
    subprocess.run(["bash", "-n", str(script)], check=True)
    usage = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert usage.returncode == 2 and "cluster.sh up" in usage.stderr


def test_cluster_without_rest_asks_for_no_jwt_plugin(tmp_path):
    # Issue 16 item 8: `up` without --rest failed on a fresh machine: slurm.conf asked for the
    # auth/jwt plugin, which only the --rest packages install.
    script = Path(__file__).with_name("cluster.sh")
    env = {**os.environ, "ORBITFARM_SLURM_DIR": str(tmp_path / "plain")}
    env.pop("ORBITFARM_SLURM_REST", None)
    plain = subprocess.run(["bash", str(script), "config"], capture_output=True, text=True,
                           env=env, timeout=60)
    assert plain.returncode == 0, plain.stderr
    text = Path(plain.stdout.strip()).read_text()
    assert "AuthType=auth/munge" in text and "jwt" not in text.lower()
    assert not (tmp_path / "plain" / "jwt.key").exists()
    env["ORBITFARM_SLURM_DIR"] = str(tmp_path / "rest")
    rest = subprocess.run(["bash", str(script), "config", "--rest"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert rest.returncode == 0, rest.stderr
    assert "AuthAltTypes=auth/jwt" in Path(rest.stdout.strip()).read_text()
    assert (tmp_path / "rest" / "jwt.key").stat().st_mode & 0o777 == 0o600


def test_unknown_profile_keys_are_refused():
    with pytest.raises(TargetError, match="partiton"):
        make_target({"kind": "slurm", "partiton": "gpu"}).describe()


def test_escalation_grows_memory_and_time_per_attempt():
    target = make_target({"kind": "slurm", "mem": "16G", "time": "2:00:00",
                          "escalate_mem": 1.5, "escalate_time": 2})
    first = target._options_for_attempt(1)
    assert (first.mem, first.time) == ("16G", "2:00:00")
    third = target._options_for_attempt(3)  # two retries: x1.5^2 memory, x2^2 time
    assert (third.mem, third.time) == ("36G", "08:00:00")
