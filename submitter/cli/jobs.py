"""Job commands: submit, status, wait, retry, cancel, logs, jobs, targets (thin over jobs.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from ..model.settings import JOB_DEFAULTS
from ..model.states import SubjectStatus
from .options import add_render_options, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "submit",
        help="package .blend files into a job and run it on a target",
        description="Package subjects (.blend files; folders are searched recursively) into a job "
                    "directory and run its tasks on a target. Prints the job id and directory.",
    )
    p.add_argument("files", nargs="+", metavar="FILE_OR_DIR")
    p.add_argument("--target", default=None, metavar="NAME",
                   help="target profile or kind (default: the profiles' default, else local)")
    p.add_argument("--out", default="", metavar="DIR", help="outputs go to DIR/<blend stem>/")
    p.add_argument("--inplace", action="store_true",
                   help="write outputs next to each .blend (<blend folder>/<stem>/)")
    p.add_argument("--job-dir", default=None, metavar="DIR",
                   help="where the job directory goes (default OUT/.orbitfarm/jobs/<id>)")
    add_render_options(p)
    j = p.add_argument_group("job")
    j.add_argument("--chunk", type=int, default=JOB_DEFAULTS.chunk, metavar="N",
                   help="frames per task (default: the whole orbit, so a subject loads once)")
    j.add_argument("--group", type=int, default=JOB_DEFAULTS.group, metavar="N",
                   help="subjects per task, rendered in turn by one process (default 1)")
    j.add_argument("--no-pack", dest="pack", action="store_false",
                   help="do not copy inputs: the workers see the same files (shared filesystem)")
    j.add_argument("--allow-missing", action="store_true",
                   help="submit although preflight found missing dependencies")
    j.add_argument("--force", action="store_true", help="re-render frames that already exist")
    j.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="time limit per subject")
    j.add_argument("--max-attempts", type=int, default=JOB_DEFAULTS.max_attempts, metavar="N",
                   help="how often a task may run before it fails for good (default %(default)s)")
    j.add_argument("--notify", default=None, metavar="URL",
                   help="POST a JSON summary here when the job finishes or a task fails for good")
    j.add_argument("--config", default=None, metavar="FILE", help="target profiles YAML")
    j.add_argument("--blender", default=None, metavar="PATH", help="Blender executable for workers")
    j.add_argument("--python", default=None, metavar="PATH",
                   help="a Python with the bpy module for workers (instead of --blender)")
    j.add_argument("--wait", action="store_true", help="wait for the job and show progress")
    j.add_argument("--retry", type=int, default=0, metavar="N",
                   help="with --wait: retry failed tasks up to N rounds")
    j.add_argument("--dry-run", action="store_true",
                   help="plan and pack the job, write what the target would submit into the job "
                        "directory (scripts, manifests) and print their paths; submit nothing")
    _add_target_options(p)
    p.set_defaults(handler=cmd_submit)

    p = sub.add_parser("status", help="per-subject state of a job")
    p.add_argument("job", metavar="JOB", help="job id or job directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("wait", help="wait for a job with a progress bar; non-zero if anything failed")
    p.add_argument("job", metavar="JOB")
    p.add_argument("--retry", type=int, default=0, metavar="N",
                   help="retry failed tasks up to N rounds (targets may escalate resources)")
    p.add_argument("--interval", type=float, default=2.0, metavar="SECONDS")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="give up waiting after this long (exit 3)")
    p.set_defaults(handler=cmd_wait)

    p = sub.add_parser("retry", help="rerun failed, lost or cancelled tasks (finished frames kept)")
    p.add_argument("job", metavar="JOB")
    p.add_argument("--wait", action="store_true")
    p.set_defaults(handler=cmd_retry)

    p = sub.add_parser("cancel", help="stop a job's unfinished tasks")
    p.add_argument("job", metavar="JOB")
    p.set_defaults(handler=cmd_cancel)

    p = sub.add_parser("logs", help="a task's log, or the logs of failed tasks")
    p.add_argument("job", metavar="JOB")
    p.add_argument("task", nargs="?", default=None, metavar="TASK", help="task id, e.g. t00003")
    p.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N lines")
    p.set_defaults(handler=cmd_logs)

    p = sub.add_parser("jobs", help="recent jobs")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_jobs)

    p = sub.add_parser("targets", help="list target profiles")
    p.add_argument("--config", default=None, metavar="FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_targets)


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    from ..targets import available_kinds
    from ..targets.options import add_target_options

    # A kind whose module is broken or missing is only that kind unavailable.
    add_target_options(parser, {kind: cls for kind, cls in available_kinds().items()
                                if not isinstance(cls, str)})


# -- handlers --------------------------------------------------------------------------------


def cmd_submit(args: argparse.Namespace) -> int:
    from .. import jobs
    from ..targets import profiles, target_class
    from ..targets.options import target_option_values

    settings = settings_from_args(args)
    profile = profiles.resolve_profile(args.target, args.config)
    values = target_option_values(args, profile["kind"])
    values.update(blender=args.blender, python=args.python)  # every kind's runtime keys
    merged = target_class(profile["kind"]).profile_with_options(profile, values)
    request = jobs.SubmitRequest(
        files=args.files, out=args.out, settings=settings, target=profile["name"],
        profile=merged, chunk=args.chunk, group=args.group, pack=args.pack,
        allow_missing=args.allow_missing, inplace=args.inplace, notify=args.notify,
        config=args.config, max_attempts=args.max_attempts, job_dir=args.job_dir,
        force=args.force, subject_timeout=args.timeout,
    )
    tty = sys.stderr.isatty()

    def progress(message: str, fraction: float) -> None:
        if tty:
            print(f"\r{_bar(fraction)} {message[:60]:<60}", end="", file=sys.stderr, flush=True)

    if args.dry_run:
        job, written = jobs.dry_run(request, progress)
        if tty:
            print(file=sys.stderr)
        print(f"job {job.id} (dry run: nothing submitted; `orbitfarm retry {job.path}` "
              "submits it)")
        print(f"directory {job.path}")
        for path in written:
            print(f"wrote {path}")
        return 0
    job = jobs.submit(request, progress)
    if tty:
        print(file=sys.stderr)
    for warning in job.spec.warnings:
        print(warning if warning.startswith("warning:") else f"note: {warning}", file=sys.stderr)
    print(f"job {job.id}")
    print(f"directory {job.path}")
    if args.wait:
        return _wait(job, args.retry, 2.0, None)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .. import jobs

    job = jobs.open_job(args.job)
    st = jobs.status(job)
    if args.json:
        # Indentation triples the time for 100k-subject jobs; keep it for ones a person reads.
        indent = 1 if len(st.subjects) <= 1000 else None
        print(json.dumps(st.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False))
        return 0
    print(f"job {st.id}  target {st.target}  {job.path}")
    width = max([len(r.name) for r in st.subjects] + [7])
    print(f"{'subject':<{width}}  {'state':<9}  {'frames':>11}  reason")
    any_cut = False
    for row in st.subjects:
        frames = f"{row.frames_done}/{row.frames_total}"
        print(f"{row.name:<{width}}  {row.state:<9}  {frames:>11}  {_cell(row)}")
        any_cut = any_cut or jobs.one_line(row.reason)[1]
    if any_cut:
        print(f"(reasons shortened to one line; in full: orbitfarm logs {job.path})")
    totals = ", ".join(f"{v} {k}" for k, v in st.totals.items() if v)
    tasks = ", ".join(f"{v} {k}" for k, v in sorted(st.tasks.items()))
    print(f"subjects: {totals}; tasks: {tasks}; frames {st.frames_done}/{st.frames_total}"
          + ("; finished" if st.finished else ""))
    if st.retryable:
        print(f"{len(st.retryable)} task(s) can be retried: orbitfarm retry {job.path}")
    if st.exhausted:
        print(f"{len(st.exhausted)} task(s) failed for good (max attempts reached): "
              f"orbitfarm logs {job.path}")
    for warning in st.warnings:
        print(warning if warning.startswith(("warning:", "error:")) else f"note: {warning}")
    return 0


def _cell(row: Any) -> str:
    """A subject's reason as one line, plus where its warnings are."""
    from .. import jobs

    text, cut = jobs.one_line(row.reason)
    if cut:
        text += " [...]"
    if row.warnings:
        where = os.path.join(row.out, "result.json") if row.out else "result.json"
        note = f"{row.warnings} warning{'s' if row.warnings != 1 else ''} in {where}"
        text = f"{text} ({note})" if text else note
    return text


def cmd_wait(args: argparse.Namespace) -> int:
    from .. import jobs

    return _wait(jobs.open_job(args.job), args.retry, args.interval, args.timeout)


LOG_EVERY_SECONDS = 30.0


def _wait(job: Any, retries: int, interval: float, timeout: float | None) -> int:
    from .. import jobs
    from ..report import keep_current

    tty = sys.stderr.isatty()
    first: list[tuple[float, int]] = []
    last_line = [""]
    last_print = [-LOG_EVERY_SECONDS]

    def show(st: jobs.JobStatus) -> None:
        keep_current(job, st)  # the job's web page, throttled
        now = time.monotonic()
        if not first or st.frames_settled < first[0][1]:
            first[:] = [(now, st.frames_settled)]
        t0, s0 = first[0]
        remaining = st.frames_total - st.frames_settled
        rate = (st.frames_settled - s0) / (now - t0) if now > t0 else 0.0
        eta = _duration(remaining / rate) if rate > 0 and remaining > 0 else "--"
        fraction = st.frames_settled / st.frames_total if st.frames_total else 1.0
        totals = " ".join(f"{v} {k}" for k, v in st.totals.items() if v)
        # The bar counts settled frames (failed and skipped ones are settled too); the figures
        # say how many were rendered, so "100%" never sits beside "0/4" unexplained.
        not_rendered = st.frames_settled - st.frames_done
        line = (f"{_bar(fraction)} {fraction:4.0%} {st.frames_done}/{st.frames_total} frames "
                f"rendered" + (f", {not_rendered} skipped or failed" if not_rendered > 0 else "")
                + f"  {totals}  ETA {eta}")
        if tty:
            print(f"\r{line:<100}", end="", file=sys.stderr, flush=True)
        elif totals != last_line[0] or now - last_print[0] >= LOG_EVERY_SECONDS:
            # Logs (CI, nohup, sbatch) get a line when a subject changes state, else one every
            # LOG_EVERY_SECONDS, not one per poll.
            print(line, file=sys.stderr, flush=True)
            last_print[0] = now
        last_line[0] = totals

    try:
        st = jobs.wait(job, show, interval=interval, retries=retries, timeout=timeout)
    except KeyboardInterrupt:
        print(f"\nstopped waiting; the job goes on (orbitfarm wait {job.path} | "
              f"orbitfarm cancel {job.path})", file=sys.stderr)
        return 130
    if tty:
        print(file=sys.stderr)
    if not st.finished:
        print(f"still running after {timeout:g} s: orbitfarm wait {job.path}", file=sys.stderr)
        return 3
    for row in st.subjects:
        if row.state != SubjectStatus.RENDERED or row.warnings:
            cell = _cell(row)
            print(f"{row.name}: {row.state}{': ' + cell if cell else ''}")
    totals = ", ".join(f"{v} {k}" for k, v in st.totals.items() if v)
    where = job.spec.out or "next to each .blend"
    print(f"job {st.id} finished: {totals}; outputs in {where}")
    if not st.ok:
        print(f"some tasks failed: orbitfarm logs {job.path}; orbitfarm retry {job.path}",
              file=sys.stderr)
        return 1
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from .. import jobs

    job = jobs.open_job(args.job)
    ids = jobs.retry(job)
    st = jobs.status(job, refresh=False)
    if ids:
        print(f"resubmitted {len(ids)} task(s): {', '.join(ids[:20])}"
              + (" ..." if len(ids) > 20 else ""))
    else:
        print("nothing to retry" + (f"; {len(st.exhausted)} task(s) reached --max-attempts "
                                    f"({job.spec.max_attempts})" if st.exhausted else ""))
    if args.wait and ids:
        return _wait(job, 0, 2.0, None)
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from .. import jobs

    job = jobs.open_job(args.job)
    ids = jobs.cancel(job)
    print(f"cancelled {len(ids)} task(s) of job {job.id}")
    from ..report import keep_current

    keep_current(job, jobs.status(job))  # the page stops reloading: the job has ended
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from .. import jobs

    sys.stdout.write(jobs.logs(jobs.open_job(args.job), args.task, args.tail))
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from .. import jobs

    found = jobs.recent_jobs(args.limit)
    if args.json:
        print(json.dumps([vars(j) for j in found], indent=1, ensure_ascii=False, allow_nan=False))
        return 0
    if not found:
        print("no jobs yet (orbitfarm submit ...)")
        return 0
    for j in found:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created))
        gone = "" if j.exists else "  (directory gone)"
        print(f"{j.id}  {when}  {j.target:<10} {j.subjects:>5} subjects {j.tasks:>6} tasks  "
              f"{j.path}{gone}")
    return 0


def cmd_targets(args: argparse.Namespace) -> int:
    from ..targets import make_target, profiles, target_class
    from ..targets.base import TargetError

    found = profiles.load_profiles(args.config)
    default = profiles.default_profile_name(args.config)
    if args.json:
        print(json.dumps({"default": default, "targets": found}, indent=1, ensure_ascii=False, allow_nan=False))
        return 0
    for name, profile in found.items():
        try:
            target_class(profile["kind"]).check_profile(profile)  # misspelt or mistyped keys
            description = make_target(profile).describe()
        except TargetError as exc:
            description = f"unavailable: {exc}"
        mark = "*" if name == default else " "
        print(f"{mark} {name:<16} {description}")
    files = profiles.config_files(args.config)
    print("profiles from: " + (", ".join(str(f) for f in files) if files else
                               f"built-in only (add some in {profiles.user_config_file()})"))
    return 0


def _bar(fraction: float, width: int = 24) -> str:
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _duration(seconds: float) -> str:
    from .. import jobs

    return jobs.duration(seconds)
