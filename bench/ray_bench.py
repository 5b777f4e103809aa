"""Ray target benchmark against the throwaway Ray head (tests/ray/cluster.sh).

    python bench/ray_bench.py [--tasks 10000] [--skip-e2e] [--address http://127.0.0.1:PORT]

(1) Status poll of a 10,000-task job: the tasks run a stand-in worker that exits at once (so
Ray really schedules 10,000 tasks), then one poll of every task is timed while the job runs and
after it ended; reports the HTTP calls per poll (target: one state-API list call).
(2) Round trip of a small job (one cube, 4 frames at 48x36, 2 samples): wall time from submit
to finished on Ray vs the local target, same machine, same worker.

Uses the head at --address (or $ORBITFARM_RAY_ADDRESS) when given; otherwise starts its own
(own state directory and ports) and stops it by PID afterwards.
"""

from __future__ import annotations

import argparse
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
CLUSTER_SH = REPO / "tests" / "ray" / "cluster.sh"


class _Head:
    """The head to measure on: an existing one, or one started (and stopped) here."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.env: dict[str, str] | None = None

    def __enter__(self) -> _Head:
        if self.address:
            return self
        state = tempfile.mkdtemp(prefix="ofrb-", dir="/tmp")
        self.env = dict(os.environ, ORBITFARM_RAY_DIR=state,
                        ORBITFARM_RAY_PORT=str(30000 + os.getpid() % 200 * 100))
        proc = subprocess.run(["bash", str(CLUSTER_SH), "up"], env=self.env, text=True,
                              capture_output=True, timeout=900)
        if proc.returncode != 0:
            raise SystemExit(f"the Ray head did not come up:\n{proc.stderr}")
        self.address = (Path(state) / "address").read_text().strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.env is not None:
            subprocess.run(["bash", str(CLUSTER_SH), "down"], env=self.env, timeout=120)
            shutil.rmtree(self.env["ORBITFARM_RAY_DIR"], ignore_errors=True)


def _poll_many(address: str, tasks: int, work: Path) -> None:
    from orbitfarm.submitter.files.jobdir import JobDir, copy_code
    from orbitfarm.submitter.launch.runtime import package_dir
    from orbitfarm.submitter.model.jobspec import JobSpec
    from orbitfarm.submitter.model.plan import make_plan
    from orbitfarm.submitter.model.settings import RenderSettings
    from orbitfarm.submitter.model.task import Subject
    from orbitfarm.submitter.targets import make_target

    stand_in = work / "stand-in-worker"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    settings = RenderSettings(frames=tasks)
    subject = Subject(blend=str(work / "s.blend"), out=str(work / "out"), name="s")
    profile = {"kind": "ray", "name": "ray", "address": address, "python": str(stand_in),
               "gpus": 0, "cpus": 1}
    spec = JobSpec(id=f"bench-{os.getpid()}", settings=settings, target=profile,
                   out=str(work / "out"))
    job = JobDir(work / "job")
    job.write_new(spec, make_plan(spec.id, settings, [subject], chunk=1))
    copy_code(package_dir(), job.code_dir)
    target = make_target(profile)
    ids = job.task_ids()
    started = time.monotonic()
    target.submit(job, dict.fromkeys(ids, 1))
    print(f"submitted {tasks} tasks in {time.monotonic() - started:.2f} s "
          f"(one Jobs API call: {dict(target.api.calls)})")
    samples = []
    while True:
        target.api.calls.clear()
        t0 = time.monotonic()
        states = target.poll(job, ids)
        samples.append((time.monotonic() - t0, dict(target.api.calls),
                        sum(s.state == "ended" for s in states.values())))
        print(f"  poll {len(samples)}: {samples[-1][0]:.2f} s, calls {samples[-1][1]}, "
              f"{samples[-1][2]} of {tasks} ended")
        if samples[-1][2] == tasks or len(samples) >= 60:
            break
        time.sleep(5)
    print(f"10k-task poll (ended): {samples[-1][0]:.2f} s with {samples[-1][1]}")


def _round_trip(address: str, work: Path) -> None:
    import subjects
    from orbitfarm.submitter import jobs
    from orbitfarm.submitter.model.settings import RenderSettings

    subjects.make_subject(sys.executable, work / "scenes" / "cube.blend", "cube")
    settings = RenderSettings(frames=4, width=48, height=36, samples=2, device="cpu")
    for name, options in (("local", {}), ("ray", {"address": address,
                                                   "python": sys.executable})):
        os.environ["ORBITFARM_HOME"] = str(work / f"home-{name}")
        t0 = time.monotonic()
        job = jobs.submit(jobs.SubmitRequest(files=[str(work / "scenes")],
                                             out=str(work / f"out-{name}"), settings=settings,
                                             target=name, target_options=options))
        result = jobs.wait(job, interval=0.2, timeout=600)
        assert result.ok, jobs.logs(job)
        print(f"round trip {name}: {time.monotonic() - t0:.1f} s")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-poll", action="store_true")
    parser.add_argument("--address", default=os.environ.get("ORBITFARM_RAY_ADDRESS"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="orbitfarm-ray-bench-"))
    try:
        with _Head(args.address) as head:
            assert head.address
            if not args.skip_poll:
                _poll_many(head.address, args.tasks, work)
            if not args.skip_e2e:
                _round_trip(head.address, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
