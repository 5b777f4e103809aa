"""Web commands: `report` (write a job's page) and `serve` (job directories on localhost)."""

from __future__ import annotations

import argparse
import webbrowser
from pathlib import Path

THUMBS_BUDGET = 120.0  # seconds of thumbnail making for `orbitfarm report` (big jobs: in turns)


def register(sub: argparse._SubParsersAction) -> None:
    from ..report.serve import DEFAULT_BIND, DEFAULT_PORT

    p = sub.add_parser(
        "report", help="write the job's web page (JOBDIR/report.html)",
        description="Write JOBDIR/report.html: progress, per-subject states and thumbnails, "
                    "failed tasks with their logs, timings, settings and the commands to retry, "
                    "cancel or follow the job. Static: opens from a file path.")
    p.add_argument("job", metavar="JOB", help="job id or job directory")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.add_argument("--no-refresh", dest="refresh", action="store_false",
                   help="read the task states only; do not ask the target about running tasks")
    p.add_argument("--thumbs-budget", type=float, default=THUMBS_BUDGET, metavar="SECONDS",
                   help="stop making thumbnails after this long; the rest come with the next "
                        "write (default %(default)g)")
    # How the local runner writes it while tasks run: states only, bounded extras.
    p.add_argument("--auto", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser(
        "serve", help="serve job directories read-only on localhost, with a live index",
        description="Serve DIR (default: the current folder) read-only over HTTP: an index of "
                    "the jobs under it at /, and their report.html pages, images and logs.")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help="TCP port (default %(default)s; 0 picks a free one)")
    p.add_argument("--bind", default=DEFAULT_BIND, metavar="ADDRESS",
                   help="address to listen on (default %(default)s: this machine only)")
    p.set_defaults(handler=cmd_serve)


def cmd_report(args: argparse.Namespace) -> int:
    from .. import jobs
    from ..report import write_report
    from ..report.write import AUTO_THUMBS_BUDGET

    job = jobs.open_job(args.job)
    try:
        if args.auto:
            path = write_report(job, refresh=False, thumbs_budget=AUTO_THUMBS_BUDGET)
        else:  # asked for by a person: every subject's timings (auto writes read them in turns)
            path = write_report(job, refresh=args.refresh, thumbs_budget=args.thumbs_budget,
                                timings_limit=None)
    except OSError as exc:  # a read-only or full job directory
        raise jobs.JobError(f"cannot write the page into {job.path}: {exc}") from None
    print(path)
    if args.open:
        webbrowser.open(path.as_uri())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ..report.serve import make_server

    root = Path(args.dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    server = make_server(root, args.port, args.bind)
    port = server.server_address[1]
    print(f"serving {root.resolve()} read-only at http://{args.bind}:{port}/ (Ctrl-C stops)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
