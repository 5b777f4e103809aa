"""Submitting many small subjects: `submit --group 50 --no-pack` of N .blend files.

    python bench/submit_bench.py [--subjects 5000] [--group 50]

Makes one small .blend with bpy (a cube in Blender's default scene, ~380 KB) and N hard links
to it under other names (the tracer reads each link as its own file; links keep the disk use
at one file), then times the whole submission up to the point of handing tasks to the target:
finding the files, preflight (every .blend traced for missing dependencies), planning and
writing the job directory (`submit --dry-run`, so nothing renders). Also times preflight alone,
serially, with and without the shared DNA catalogue (jobs/dna_cache.py) on a sample.
Target (issue 16): 5,000 subjects in < 30 s. The machine's load average is printed beside the
figures: on a shared machine they scale with it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # subjects.py generates .blend files


def _serial_preflight_ms(files: list[str], shared_dna: bool) -> float:
    """Milliseconds per file of a serial preflight, with or without the shared DNA catalogue."""
    from orbitfarm.submitter.jobs import dna_cache, preflight

    dna_cache.uninstall()
    if shared_dna:
        dna_cache.install()
    report = preflight.PreflightReport()
    started = time.perf_counter()
    for file in files:
        path = Path(file)
        if not shared_dna:  # check_blend installs the cache: take it out again each time
            dna_cache.uninstall()
        preflight.check_subject(path, path.parent, report)
    elapsed = time.perf_counter() - started
    dna_cache.install()
    return elapsed / len(files) * 1000


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (preflight helpers):
    what the submission costs, whatever else the machine is doing."""
    import resource

    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=5000)
    parser.add_argument("--group", type=int, default=50)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    import subjects
    from orbitfarm.submitter import jobs
    from orbitfarm.submitter.model.settings import RenderSettings

    root = Path(tempfile.mkdtemp(prefix="orbitfarm-submit-bench-"))
    os.environ.setdefault("ORBITFARM_HOME", str(root / "home"))
    try:
        source = root / "cube.blend"
        subjects.make_subject(sys.executable, source, "cube")
        folder = root / "subjects"
        folder.mkdir()
        for i in range(args.subjects):
            os.link(source, folder / f"s{i:05d}.blend")
        sample = [str(folder / f"s{i:05d}.blend") for i in range(min(40, args.subjects))]
        before = _serial_preflight_ms(sample, shared_dna=False)
        after = _serial_preflight_ms(sample, shared_dna=True)
        load = os.getloadavg()[0]
        cpu_before = _cpu_seconds()
        started = time.perf_counter()
        job, _ = jobs.dry_run(jobs.SubmitRequest(
            files=[str(folder)], out=str(root / "out"), settings=RenderSettings(frames=36),
            group=args.group, pack=False))
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds() - cpu_before
        verdict = "OK" if seconds < 30 or args.subjects != 5000 else "SLOW"
        print(f"submit {args.subjects:,} subjects --group {args.group} --no-pack: "
              f"{seconds:.1f} s, {job.plan.task_count} tasks (target 5,000 in < 30 s: {verdict}; "
              f"load average {load:.1f} on {os.cpu_count()} cores; {cpu:.1f} CPU seconds in "
              "this process and its preflight helpers)")
        print(f"  preflight per .blend, serial: {before:.0f} ms decoding each file's DNA, "
              f"{after:.0f} ms with the shared DNA catalogue")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
