"""The runner keeps the job's web page current by running `orbitfarm report` as a child.

A child process, not a call: the report code imports jobs/, which imports the targets (an
import loop), and a slow page (thumbnails of a big job) must never hold up launching workers.
At most one child at a time, started at most every EVERY seconds; `final` waits for its page.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ...files import layout
from ...launch.runtime import boot_expression

EVERY = 5.0
FINAL_TIMEOUT = 600.0  # the last page of a big job: its thumbnails (2 min) and every timing


def report_argv(job_path: Path, final: bool) -> list[str]:
    """`orbitfarm report JOBDIR` from the job's own code, reading task states only: bounded
    like `wait`'s pages while tasks run (--auto), the command's own way at the end."""
    return [sys.executable, "-c", boot_expression("submitter.cli", "main"), "--",
            str(layout.code_dir(job_path)), "report", str(job_path),
            *(["--no-refresh"] if final else ["--auto"])]


class PageUpdates:
    """Throttled, non-blocking rewrites of JOBDIR/report.html while the runner works."""

    def __init__(self, job_path: Path) -> None:
        self.job_path = job_path
        self.child: subprocess.Popen | None = None
        self.last = -EVERY

    def tick(self) -> None:
        """Start a rewrite if none runs and the last one started EVERY seconds ago."""
        if self.child is not None and self.child.poll() is None:
            return
        now = time.monotonic()
        if now - self.last < EVERY:
            return
        self.last = now
        self.child = self._start(final=False)

    def final(self) -> None:
        """The last page, with its thumbnails; waits for it (the runner is about to exit)."""
        if self.child is not None:
            self.child.wait()
        child = self._start(final=True)
        if child is not None:
            try:
                child.wait(timeout=FINAL_TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def _start(self, final: bool) -> subprocess.Popen | None:
        try:
            return subprocess.Popen(report_argv(self.job_path, final), cwd=str(self.job_path),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        except OSError as exc:  # never turn bookkeeping into a crash
            print(f"orbitfarm local runner: page not updated: {exc}", file=sys.stderr)
            return None
