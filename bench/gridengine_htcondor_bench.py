"""Grid Engine and HTCondor targets against their throwaway daemons (tests/sge, tests/htcondor).

    python bench/gridengine_htcondor_bench.py [--tasks 10000] [--only sge|htcondor]

(1) One status poll of a 10,000-task job: the tasks are submitted held (`qsub -h`,
`hold = true`; nothing renders), then polled: one `qstat -xml` for Grid Engine, one schedd query
for HTCondor. (2) A small job end to end (one cube, 4 frames at 48x36, 2 samples): wall time from
submit to finished, next to the local target. Each engine is started here (own state directory
and port) and stopped afterwards; the HTCondor pool renders with Debian's blender in its root.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))  # subjects.py generates .blend files


@contextmanager
def _engine(kind: str) -> Iterator[dict[str, str]]:
    """Start tests/<kind>/cluster.sh in its own state directory; the environment for clients."""
    state = tempfile.mkdtemp(prefix=f"orbitfarm-{kind}-bench-")
    os.chmod(state, 0o755)
    port = str(23000 + os.getpid() % 1000 * 4)
    if kind == "sge":
        env = dict(os.environ, ORBITFARM_SGE_DIR=state, ORBITFARM_SGE_PORT=port)
        client = dict(SGE_ROOT=state, SGE_CELL="default", SGE_QMASTER_PORT=port,
                      SGE_EXECD_PORT=str(int(port) + 1))
    else:
        env = dict(os.environ, ORBITFARM_CONDOR_DIR=state, ORBITFARM_CONDOR_PORT=port,
                   ORBITFARM_CONDOR_BLENDER="1")
        client = dict(CONDOR_CONFIG=f"{state}/client/condor_config")
    script = REPO / "tests" / kind / "cluster.sh"
    proc = subprocess.run(["bash", str(script), "up"], env=env, text=True, capture_output=True,
                          timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"cannot start {kind} here:\n{proc.stderr[-2000:]}")
    os.environ.update(client)
    if kind == "htcondor":
        import htcondor2

        htcondor2.reload_config()
    try:
        yield client
    finally:
        subprocess.run(["bash", str(script), "down"], env=env, capture_output=True, timeout=180)
        shutil.rmtree(state, ignore_errors=True)


def _held_job(root: Path, count: int, profile: dict):
    from orbitfarm.submitter.files.jobdir import JobDir
    from orbitfarm.submitter.model.jobspec import JobSpec
    from orbitfarm.submitter.model.plan import make_plan
    from orbitfarm.submitter.model.settings import RenderSettings
    from orbitfarm.submitter.model.task import Subject

    settings = RenderSettings(frames=4, width=48, height=36, samples=2)
    subjects = [Subject(blend=str(root / "in" / f"s{i}.blend"), out=str(root / "out" / f"s{i}"),
                        name=f"s{i}") for i in range(count)]
    spec = JobSpec(id=f"bench-{profile['kind']}", settings=settings, target=profile,
                   out=str(root / "out"))
    job = JobDir(root / "job")
    job.write_new(spec, make_plan(spec.id, settings, subjects))
    return job


def bench_poll(kind: str, count: int, polls: int = 3) -> dict[str, float]:
    from orbitfarm.submitter.model.states import Phase
    from orbitfarm.submitter.targets import make_target

    held = ({"kind": "sge", "python": sys.executable, "gpus": 0, "extra_qsub": ["-h"]}
            if kind == "sge" else
            {"kind": "htcondor", "python": sys.executable, "request_gpus": 0,
             "extra_submit": {"hold": "true"}})
    profile = {"name": "bench", **held}
    with tempfile.TemporaryDirectory(prefix=f"orbitfarm-{kind}-bench-") as tmp:
        job = _held_job(Path(tmp), count, profile)
        target = make_target(profile)
        start = time.perf_counter()
        target.submit(job, dict.fromkeys(job.task_ids(), 1))
        t_submit = time.perf_counter() - start
        ids = job.task_ids()
        times = []
        for _ in range(polls):
            start = time.perf_counter()
            seen = target.poll(job, ids)
            times.append(time.perf_counter() - start)
        states = {s.state for s in seen.values()}
        calls = dict(target.commands.shell.calls) if kind == "sge" else {"schedd.query": polls}
        start = time.perf_counter()
        target.cancel(job, None)
        t_cancel = time.perf_counter() - start
    assert len(seen) == count, len(seen)
    # HTCondor reports a held proc as ended ("held: ..."): these are held on purpose.
    assert states == ({Phase.PENDING} if kind == "sge" else {Phase.ENDED}), states
    return {"tasks": count, "submit_s": round(t_submit, 2), "poll_s": round(min(times), 3),
            "poll_s_max": round(max(times), 3), "calls": calls, "cancel_s": round(t_cancel, 2)}


def bench_end_to_end(kind: str) -> dict[str, float]:
    import subjects
    from orbitfarm.submitter import jobs
    from orbitfarm.submitter.model.settings import RenderSettings

    folder = Path(tempfile.mkdtemp(prefix=f"orbitfarm-{kind}-e2e-"))
    folder.chmod(0o777)
    old = os.umask(0)  # the HTCondor pool's job user writes into the shared folder
    try:
        subjects.make_subject(sys.executable, folder / "scenes" / "cube.blend", "cube")
        settings = RenderSettings(frames=4, width=48, height=36, samples=2, device="cpu")
        options = {"kind": kind, "python": sys.executable, "gpus": 0} if kind == "sge" else \
            {"kind": kind, "blender": "/usr/bin/blender", "request_gpus": 0,
             "request_memory": "512MB"}
        if kind == "local":
            options = {"kind": "local", "python": sys.executable}
        times = []
        for run in range(2):
            request = jobs.SubmitRequest(files=[str(folder / "scenes")],
                                         out=str(folder / f"out{run}"), settings=settings,
                                         target=kind, target_options=options)
            start = time.perf_counter()
            job = jobs.submit(request)
            result = jobs.wait(job, interval=0.2, timeout=600)
            times.append(time.perf_counter() - start)
            if not result.ok:
                raise SystemExit(f"{kind} job failed:\n{jobs.logs(job)}")
        return {"e2e_s": round(min(times), 2), "e2e_s_max": round(max(times), 2)}
    finally:
        os.umask(old)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--only", choices=["sge", "htcondor"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orbitfarm-bench-home-") as home:
        os.environ.setdefault("ORBITFARM_HOME", home)  # keep the user's jobs index clean
        results: dict[str, dict] = {"local": bench_end_to_end("local")}
        for kind in ("sge", "htcondor"):
            if args.only and kind != args.only:
                continue
            with _engine(kind):
                results[kind] = {**bench_poll(kind, args.tasks), **bench_end_to_end(kind)}
            print(kind, json.dumps(results[kind]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
