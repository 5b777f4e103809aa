"""Job model benchmark: planning + status of a 100,000-task job, and deduplicated packaging.

    python bench/jobs_bench.py [--tasks 100000] [--subjects 6]

(1) plans a job of N one-subject tasks (no rendering), writes the job directory, and times
`status` on it twice: while every task is still queued, and after every task has written a
final state file (the end of a real job). Target: status < 1 s.
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


def bench_status(root: Path, count: int) -> dict[str, float]:
    from orbitfarm.submitter import jobs
    from orbitfarm.submitter.jobdir import JobDir
    from orbitfarm.submitter.jobspec import JobSpec
    from orbitfarm.submitter.plan import load_worker_task, make_plan
    from orbitfarm.submitter.spec import RenderSettings, Subject

    settings = RenderSettings(frames=360)
    job_path = root / "job"
    subjects = [Subject(blend=str(job_path / "inputs" / "subjects" / f"s{i}" / f"s{i}.blend"),
                        out=str(root / "out" / f"s{i}"), name=f"s{i}") for i in range(count)]
    plan, t_plan = _timed(make_plan, "bench", settings, subjects)
    spec = JobSpec(id="bench", settings=settings, target={"kind": "local", "name": "local"},
                   out=str(root / "out"))
    job = JobDir(job_path)
    _, t_write = _timed(job.write_new, spec, plan)
    _, t_load = _timed(load_worker_task, str(job.plan_file), count - 1)
    st, t_queued = _timed(jobs.status, JobDir(job_path))
    assert st.tasks.get("queued") == count, st.tasks
    # Every task finished: one final state file each, as workers leave them.
    now = time.time()
    for i, task_id in enumerate(job.task_ids()):
        data = {"task": task_id, "state": "done", "attempt": 1, "exit_code": 0, "reason": "",
                "heartbeat": now, "started": now, "ended": now, "frames_done": 360,
                "frames_total": 360, "host": "node", "pid": 1,
                "subjects": {f"s{i}": {"status": "rendered", "frames_done": 360,
                                       "frames_total": 360}}}
        (job.tasks_dir / f"{task_id}.json").write_text(json.dumps(data))
    st, t_cold = _timed(jobs.status, JobDir(job_path))  # reads every state file once
    assert st.finished and st.totals["rendered"] == count, st.tasks
    _, t_warm = _timed(jobs.status, JobDir(job_path))  # stats files, reads none
    time.sleep(2.5)  # the tasks folder has been quiet: the cache alone answers
    st, t_quiet = _timed(jobs.status, JobDir(job_path))
    assert st.finished and st.totals["rendered"] == count, st.tasks
    return {"tasks": count, "plan_s": t_plan, "write_job_s": t_write,
            "plan_json_mb": job.plan_file.stat().st_size / 1e6, "load_one_task_s": t_load,
            "status_queued_s": t_queued, "status_done_cold_s": t_cold,
            "status_done_warm_s": t_warm, "status_done_quiet_s": t_quiet}


def bench_packing(root: Path, k: int) -> dict[str, float]:
    import subjects as gen
    from orbitfarm.submitter.pack import pack_subjects

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
              f"one task loaded on a worker in {s['load_one_task_s']:.2f} s")
        print(f"status, all queued:      {s['status_queued_s']:.2f} s "
              f"({'OK' if s['status_queued_s'] < 1 else 'OVER'} target < 1 s)")
        for key, label in (("status_done_cold_s", "first look, reads 100k files"),
                           ("status_done_warm_s", "again, files only stat()ed"),
                           ("status_done_quiet_s", "again, folder unchanged")):
            value = s[key]
            print(f"status, all tasks done ({label}): {value:.2f} s "
                  f"({'OK' if value < 1 else 'OVER'} target < 1 s)")
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
