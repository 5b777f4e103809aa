"""SLURM target benchmark against the throwaway test cluster (tests/slurm/cluster.sh).

    python bench/slurm_bench.py [--tasks 10000] [--polls 3] [--skip-e2e]

(1) Submission and polling cost of a 10,000-task job: the tasks are submitted held
(`--hold`, nothing renders), then polled; reports the number of sbatch/squeue calls and the
seconds they took, next to what one squeue per task would cost (measured on a sample, then
extrapolated). Target: sbatch calls = ceil(tasks / MaxArraySize), one squeue per poll.
(2) End-to-end overhead of a small job (one cube, 4 frames at 48x36, 2 samples): wall time from
submit to finished on SLURM vs the local target, same machine, same worker.

Uses the cluster SLURM_CONF points at when it answers; otherwise starts its own (own state
directory and ports) and stops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))  # subjects.py generates .blend files
CLUSTER_SH = REPO / "tests" / "slurm" / "cluster.sh"


def _cluster_answers() -> bool:
    if not os.environ.get("SLURM_CONF"):
        return False
    try:
        return subprocess.run(["scontrol", "ping"], capture_output=True, text=True,
                              timeout=10).stdout.count("UP") > 0
    except (OSError, subprocess.SubprocessError):
        return False


class _Cluster:
    """The cluster to measure on: an existing one, or one started (and stopped) here."""

    def __init__(self) -> None:
        self.env: dict[str, str] | None = None

    def __enter__(self) -> _Cluster:
        if _cluster_answers():
            print(f"using the running cluster (SLURM_CONF={os.environ['SLURM_CONF']})")
            return self
        state = tempfile.mkdtemp(prefix="orbitfarm-slurm-bench-")
        os.chmod(state, 0o755)
        self.env = dict(os.environ, ORBITFARM_SLURM_DIR=state,
                        ORBITFARM_SLURM_PORT=str(19000 + os.getpid() % 1000 * 8))
        proc = subprocess.run(["bash", str(CLUSTER_SH), "up"], env=self.env, text=True,
                              capture_output=True, timeout=900)
        if proc.returncode != 0:
            raise SystemExit(f"cannot start a SLURM cluster here:\n{proc.stderr[-2000:]}")
        os.environ["SLURM_CONF"] = str(Path(state) / "slurm.conf")
        print(f"started a cluster in {state}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.env is not None:
            subprocess.run(["bash", str(CLUSTER_SH), "down"], env=self.env, capture_output=True,
                           timeout=120)
            shutil.rmtree(self.env["ORBITFARM_SLURM_DIR"], ignore_errors=True)


def _held_job(root: Path, count: int):
    """A job directory with `count` one-subject tasks (the subjects are never opened)."""
    from orbitfarm.submitter.files.jobdir import JobDir
    from orbitfarm.submitter.model.jobspec import JobSpec
    from orbitfarm.submitter.model.plan import make_plan
    from orbitfarm.submitter.model.settings import RenderSettings
    from orbitfarm.submitter.model.task import Subject

    settings = RenderSettings(frames=4, width=48, height=36, samples=2)
    subjects = [Subject(blend=str(root / "in" / f"s{i}.blend"), out=str(root / "out" / f"s{i}"),
                        name=f"s{i}") for i in range(count)]
    profile = {"kind": "slurm", "name": "bench", "python": sys.executable, "time": "0:10:00",
               "extra_sbatch": ["--hold"]}
    spec = JobSpec(id="bench-slurm", settings=settings, target=profile, out=str(root / "out"))
    job = JobDir(root / "job")
    job.write_new(spec, make_plan("bench-slurm", settings, subjects))
    return job, profile


def bench_submit_poll(count: int, polls: int) -> dict[str, float]:
    """sbatch/squeue calls and seconds for a held job of `count` tasks."""
    from orbitfarm.submitter.model.states import Phase
    from orbitfarm.submitter.targets import make_target

    with tempfile.TemporaryDirectory(prefix="orbitfarm-slurm-bench-") as tmp:
        job, profile = _held_job(Path(tmp), count)
        target = make_target(profile)
        calls = target.commands.shell.calls
        max_array = target.max_array_size()
        start = time.perf_counter()
        target.submit(job, dict.fromkeys(job.task_ids(), 1))
        t_submit = time.perf_counter() - start
        sbatch_calls = calls["sbatch"]
        ids = job.task_ids()
        poll_times = []
        for _ in range(polls):
            start = time.perf_counter()
            seen = target.poll(job, ids)
            poll_times.append(time.perf_counter() - start)
        assert len(seen) == count and all(s.state == Phase.PENDING for s in seen.values()), \
            {s.state for s in seen.values()}
        squeue_calls = calls["squeue"]
        # What one squeue per task would cost, from a sample of single-element queries.
        arrays = job.target_record()["arrays"]
        sample = [f"{arrays[0]['job']}_{i}" for i in range(min(20, count))]
        start = time.perf_counter()
        for element in sample:
            subprocess.run(["squeue", "-h", "-j", element, "-o", "%i|%T"], capture_output=True,
                           check=True)
        per_call = (time.perf_counter() - start) / len(sample)
        start = time.perf_counter()
        target.cancel(job, None)
        t_cancel = time.perf_counter() - start
    return {
        "tasks": count, "max_array_size": max_array, "sbatch_calls": sbatch_calls,
        "arrays": len(arrays), "submit_s": round(t_submit, 3),
        "squeue_calls_per_poll": squeue_calls / polls,
        "poll_s": round(min(poll_times), 3), "poll_s_max": round(max(poll_times), 3),
        "naive_poll_s_estimate": round(per_call * count, 1), "cancel_s": round(t_cancel, 3),
    }


def _one_job(python: str, scenes: Path, out: Path, target: str, options: dict) -> float:
    from orbitfarm.submitter import jobs
    from orbitfarm.submitter.model.settings import RenderSettings

    settings = RenderSettings(frames=4, width=48, height=36, samples=2, device="cpu")
    request = jobs.SubmitRequest(files=[str(scenes)], out=str(out), settings=settings,
                                 target=target, target_options=options)
    start = time.perf_counter()
    job = jobs.submit(request)
    result = jobs.wait(job, interval=0.2, timeout=600)
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(f"{target} job failed:\n{jobs.logs(job)}")
    return elapsed


def bench_end_to_end(runs: int = 2) -> dict[str, float]:
    """Wall seconds, submit -> finished, of one small job on SLURM and on the local target."""
    import subjects

    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="orbitfarm-slurm-e2e-") as tmp:
        root = Path(tmp)
        os.environ.setdefault("ORBITFARM_HOME", str(root / "home"))
        subjects.make_subject(python, root / "scenes" / "cube.blend", "cube")
        times: dict[str, list[float]] = {"slurm": [], "local": []}
        for run in range(runs):
            times["slurm"].append(_one_job(python, root / "scenes", root / f"s{run}", "slurm",
                                           {"python": python, "time": "0:10:00"}))
            times["local"].append(_one_job(python, root / "scenes", root / f"l{run}", "local",
                                           {"python": python, "workers": 1}))
    slurm, local = min(times["slurm"]), min(times["local"])
    return {"slurm_s": round(slurm, 2), "local_s": round(local, 2),
            "slurm_overhead_s": round(slurm - local, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--polls", type=int, default=3)
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="orbitfarm-bench-"))
    results: dict[str, dict[str, float]] = {}
    with _Cluster():
        results["submit_poll"] = sp = bench_submit_poll(args.tasks, args.polls)
        print(f"submit {sp['tasks']} tasks: {sp['sbatch_calls']} sbatch call(s) "
              f"({sp['arrays']} array(s), MaxArraySize {sp['max_array_size']}) in "
              f"{sp['submit_s']} s")
        print(f"poll {sp['tasks']} tasks: {sp['squeue_calls_per_poll']:g} squeue call(s) per poll,"
              f" {sp['poll_s']}-{sp['poll_s_max']} s (one squeue per task would take "
              f"~{sp['naive_poll_s_estimate']} s); cancel {sp['cancel_s']} s")
        if not args.skip_e2e:
            results["end_to_end"] = e2e = bench_end_to_end()
            print(f"small job end to end: SLURM {e2e['slurm_s']} s, local {e2e['local_s']} s, "
                  f"SLURM overhead {e2e['slurm_overhead_s']} s")
    print("RESULT " + json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
