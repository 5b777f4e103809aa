"""Job model benchmark: planning + status of a 100,000-task job, and deduplicated packaging.

    python bench/jobs_bench.py [--tasks 100000] [--subjects 6]

(1) plans a job of N one-subject tasks (no rendering), writes the job directory, and times
`status` on it, the first look (no status cache yet) and the next one: every task queued; every
task done; 1% failed and the rest done (final states left as workers leave them: state file,
then marker); and, for comparison, every task done without markers (the fallback that reads
every state file). Target: status < 1 s (the fallback's first look is not held to it).
(2) packages K subjects (real .blend files made with bpy) that share one texture, half by the
same path and half through identical copies in other folders, and reports bytes copied divided
by the bytes of distinct content. Target: 1.0 (each unique file copied once).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # subjects.py generates .blend files


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def _noise_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of random pixels (incompressible, so its size is honest)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\0" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _final_state(task_id: str, subject: str, failed: bool, now: float) -> dict:
    """A final state file as a worker leaves it (done, or failed with a reason)."""
    status = {"status": "failed", "frames_done": 12, "frames_total": 360,
              "reason": "cannot open the .blend"} if failed else {
        "status": "rendered", "frames_done": 360, "frames_total": 360}
    return {"task": task_id, "state": "failed" if failed else "done", "attempt": 1,
            "exit_code": 1 if failed else 0, "reason": f"failed: {subject}" if failed else "",
            "heartbeat": now, "started": now, "ended": now, "frames_done": status["frames_done"],
            "frames_total": 360, "host": "node", "pid": 1, "subjects": {subject: status}}


def _make_job(path: Path, count: int, out: Path):
    from orbitfarm.submitter.files.jobdir import JobDir
    from orbitfarm.submitter.model.jobspec import JobSpec
    from orbitfarm.submitter.model.plan import make_plan
    from orbitfarm.submitter.model.settings import RenderSettings
    from orbitfarm.submitter.model.task import Subject

    settings = RenderSettings(frames=360)
    subjects = [Subject(blend=str(path / "inputs" / "subjects" / f"s{i}" / f"s{i}.blend"),
                        out=str(out / f"s{i}"), name=f"s{i}") for i in range(count)]
    plan, t_plan = _timed(make_plan, "bench", settings, subjects)
    spec = JobSpec(id="bench", settings=settings, target={"kind": "local", "name": "local"},
                   out=str(out))
    job = JobDir(path)
    _, t_write = _timed(job.write_new, spec, plan)
    return job, t_plan, t_write


def _finish_all(job, failed_every: int = 0, markers: bool = True) -> None:
    """Every task ends (every failed_every-th fails), leaving what the worker's
    TaskStateWriter.finish leaves: the state file, then its marker (same naming code)."""
    from orbitfarm.submitter.files.taskstate import final_marker_name, make_marker

    now = time.time()
    for i, task_id in enumerate(job.task_ids()):
        data = _final_state(task_id, f"s{i}", bool(failed_every) and i % failed_every == 0, now)
        (job.tasks_dir / f"{task_id}.json").write_text(json.dumps(data))
        if markers:
            make_marker(job.markers_dir, final_marker_name(task_id, data))


def _looks(job_path: Path, check) -> tuple[float, float]:
    """Seconds of `status` on a fresh JobDir: the first look (no cache) and the next one."""
    from orbitfarm.submitter import jobs
    from orbitfarm.submitter.files.jobdir import JobDir

    st, cold = _timed(jobs.status, JobDir(job_path))
    check(st)
    st, warm = _timed(jobs.status, JobDir(job_path))
    check(st)
    return cold, warm


def bench_status(root: Path, count: int) -> dict[str, float]:
    from orbitfarm.submitter.model.plan import load_worker_task

    failed_every = 100  # 1% of the tasks fail
    n_failed = len(range(0, count, failed_every))
    out = root / "out"
    job, t_plan, t_write = _make_job(root / "queued", count, out)
    _, t_load = _timed(load_worker_task, str(job.plan_file), count - 1)
    result: dict[str, float] = {
        "tasks": count, "plan_s": t_plan, "write_job_s": t_write,
        "plan_json_mb": job.plan_file.stat().st_size / 1e6, "load_one_task_s": t_load}

    def all_queued(st) -> None:
        assert st.tasks == {"queued": count} and not st.finished, st.tasks

    def all_done(st) -> None:
        assert st.finished and st.ok and st.totals["rendered"] == count, st.tasks
        assert st.frames_done == st.frames_total == 360 * count

    def mixed(st) -> None:
        assert st.finished and st.tasks == {"done": count - n_failed, "failed": n_failed}
        assert st.totals["failed"] == n_failed and st.totals["rendered"] == count - n_failed
        failed = [r for r in st.subjects if r.state == "failed"]
        assert failed[0].reason == "cannot open the .blend" and failed[0].frames_done == 12

    result["queued_cold_s"], result["queued_warm_s"] = _looks(job.path, all_queued)
    job, _, _ = _make_job(root / "done", count, out)
    _finish_all(job)
    result["done_cold_s"], result["done_warm_s"] = _looks(job.path, all_done)
    job, _, _ = _make_job(root / "mixed", count, out)
    _finish_all(job, failed_every)
    result["mixed_cold_s"], result["mixed_warm_s"] = _looks(job.path, mixed)
    # Without markers (workers killed after their state file, or a job of an older version)
    # status falls back to reading every state file once, then to its cache.
    job, _, _ = _make_job(root / "unmarked", count, out)
    _finish_all(job, markers=False)
    result["unmarked_cold_s"], result["unmarked_warm_s"] = _looks(job.path, all_done)
    return result


def bench_packing(root: Path, k: int) -> dict[str, float]:
    import subjects as gen
    from orbitfarm.submitter.jobs.pack import pack_subjects

    python = sys.executable
    blends: list[tuple[str, Path]] = []
    for i in range(k):
        # Half share one folder (same texture path), half live in their own folder with an
        # identical copy of the texture: both must be copied once.
        folder = root / "src" / ("shared" if i % 2 == 0 else f"own{i}")
        path = folder / f"subject{i}.blend"
        gen.make_subject(python, path, "textured", location=(float(i), 0.0, 0.0))
        blends.append((f"subject{i}", path))
    # A realistic texture size (the generated one is 16x16): the same noise PNG everywhere.
    texture = _noise_png(512, 512)
    for png in (root / "src").rglob("texture.png"):
        png.write_bytes(texture)
    sources = sorted(p for p in (root / "src").rglob("*") if p.is_file())
    unique: dict[str, int] = {}
    for p in sources:
        unique.setdefault(hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
    (packed, stats), seconds = _timed(pack_subjects, blends, root / "job" / "inputs")
    source_bytes = sum(p.stat().st_size for p in sources)
    naive = sum(p.stat().st_size for p in sources if p.suffix == ".blend") + sum(
        (p.parent / "texture.png").stat().st_size for _, p in blends)
    return {"subjects": k, "files_copied": stats.files_copied, "files_shared": stats.files_shared,
            "bytes_copied": stats.bytes_copied, "unique_bytes": sum(unique.values()),
            "ratio": stats.bytes_copied / sum(unique.values()), "source_bytes": source_bytes,
            "bytes_without_dedup": naive, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=6)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    root = Path(tempfile.mkdtemp(prefix="orbitfarm-jobs-bench-"))
    os.environ.setdefault("ORBITFARM_HOME", str(root / "home"))
    try:
        s = bench_status(root / "status", args.tasks)
        print(f"planning {s['tasks']:,} tasks: plan + write job dir "
              f"{s['plan_s'] + s['write_job_s']:.2f} s (plan.json {s['plan_json_mb']:.1f} MB), "
              f"one task loaded on a worker in {s['load_one_task_s']:.2f} s (target < 1 s: "
              f"{'OK' if s['load_one_task_s'] < 1.0 else 'SLOW'})")
        print(f"status of {s['tasks']:,} tasks (target < 1 s): first look (cold) / next look (warm)")
        for key, label in (("queued", "all queued"), ("done", "all done"),
                           ("mixed", "1% failed, rest done"),
                           ("unmarked", "all done, no markers (fallback)")):
            cold, warm = s[f"{key}_cold_s"], s[f"{key}_warm_s"]
            verdict = "OK" if max(cold, warm) < 1 else "OVER"
            if key == "unmarked":
                verdict = "(not a target: reads each state file once, then its cache)"
            print(f"  {label + ':':34} {cold:.2f} s / {warm:.2f} s  {verdict}")
        p = bench_packing(root / "pack", args.subjects)
        print(f"packaging {p['subjects']} subjects sharing a texture: {p['files_copied']} files "
              f"copied, {p['files_shared']} copies avoided, {p['bytes_copied']:,} bytes copied / "
              f"{p['unique_bytes']:,} unique bytes = {p['ratio']:.3f} "
              f"(without dedup {p['bytes_without_dedup']:,} bytes) in {p['seconds']:.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
