"""The job's web page of a 10,000-subject job: written in < 2 s, < 5 MB (thumbnails excluded).

    python bench/report_bench.py [--subjects 10000]

Makes a finished job directory without rendering (jobs_bench's job maker and final states: 1%
of the tasks failed with a log, the rest done), gives every subject a result.json with 360
timed frames, and times `write_report` as the runner and `wait` call it (no thumbnails; at most
100 result.json read for timings): the first write and the next one; the page's size; and, not
held to the target, `orbitfarm report`'s first write, which reads every result.json once.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_SECONDS = 2.0
TARGET_MB = 5.0


def _jobs_bench():
    spec = importlib.util.spec_from_file_location("jobs_bench", HERE / "jobs_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_finished_job(root: Path, count: int, failed_every: int = 100):
    """A finished job of `count` one-subject tasks with results, logs and 1% failures."""
    jb = _jobs_bench()
    out = root / "out"
    job, _, _ = jb._make_job(root / "job", count, out)
    jb._finish_all(job, failed_every)
    frames = {f"{k:04d}": {"seconds": 0.5 + k % 7 * 0.01, "render_seconds": 0.4,
                           "subject_pixels": 100} for k in range(1, 361)}
    for i, subject in enumerate(job.plan.subjects):
        folder = Path(subject.out)
        folder.mkdir(parents=True, exist_ok=True)
        done = i % failed_every != 0
        (folder / "result.json").write_text(json.dumps({
            "status": "rendered" if done else "failed", "frames_done": 360 if done else 12,
            "frames_total": 360, "frames": frames if done else dict(list(frames.items())[:12])}))
    job.logs_dir.mkdir(exist_ok=True)
    for task_id in job.task_ids()[::failed_every]:
        job.log_file(task_id).write_text("".join(f"line {n} of a long log\n" for n in range(500)))
    return job


def bench_report(root: Path, count: int) -> dict[str, float]:
    from orbitfarm.submitter import jobs
    from orbitfarm.submitter.files.jobdir import JobDir
    from orbitfarm.submitter.report import write_report

    job = make_finished_job(root, count)
    st = jobs.status(JobDir(job.path))  # the status cache exists, as after any `status`
    assert st.finished and st.totals["failed"] == len(range(0, count, 100)), st.totals
    result: dict[str, float] = {"subjects": count}
    for look in ("cold", "warm"):
        start = time.perf_counter()
        path = write_report(JobDir(job.path), thumbs_budget=0)
        result[f"{look}_s"] = time.perf_counter() - start
    result["mb"] = path.stat().st_size / 1e6
    html = path.read_text(encoding="utf-8")
    assert html.count("<tr class=") == count, "every subject has a row"
    # `orbitfarm report` asked by a person: every subject's result.json read (once; cached).
    start = time.perf_counter()
    html = write_report(JobDir(job.path), thumbs_budget=0, timings_limit=None).read_text(
        encoding="utf-8")
    result["all_timings_s"] = time.perf_counter() - start
    assert f"{360 * (count - len(range(0, count, 100))) + 12 * len(range(0, count, 100))}, of " \
           f"{count} subjects" in html, "every subject timed"
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    root = Path(tempfile.mkdtemp(prefix="orbitfarm-report-bench-"))
    os.environ.setdefault("ORBITFARM_HOME", str(root / "home"))
    try:
        r = bench_report(root, args.subjects)
        slowest = max(r["cold_s"], r["warm_s"])
        verdict = "OK" if slowest < TARGET_SECONDS and r["mb"] < TARGET_MB else "OVER"
        print(f"web page of a {r['subjects']:,}-subject job (1% failed; thumbnails excluded): "
              f"written in {r['cold_s']:.2f} s first, {r['warm_s']:.2f} s next; "
              f"{r['mb']:.2f} MB (targets < {TARGET_SECONDS:g} s, < {TARGET_MB:g} MB: {verdict}); "
              f"with every result.json read (`orbitfarm report`, first time) {r['all_timings_s']:.1f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
