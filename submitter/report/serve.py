"""`orbitfarm serve`: job directories over read-only HTTP on localhost, with a live job index.

GET and HEAD only. A request path is percent-decoded to bytes, resolved with every symlink
followed, and served only if it is a regular file inside the served folder: `..`, absolute
paths, encoded slashes and symlinks that lead out all end in 404, and so do job.yaml and
notify.log (they may hold a notification URL's token). Binds 127.0.0.1 unless told
otherwise. "/" is an index of the jobs found under the folder, their state read at each request
(and the page reloads itself), each linking to its report.html.
"""

from __future__ import annotations

import mimetypes
import os
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

from ..files import layout
from ..files.jobdir import JobDir
from ..jobs.job_status import status
from .page import CSS, REFRESH_SECONDS, href, text

DEFAULT_BIND = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_DEPTH = 8  # how deep under the served folder jobs are looked for
MAX_JOBS = 500
# Folders that never hold a job directory (a subject's outputs, a job's own insides).
_NOT_JOBS = {layout.RGB_DIR, layout.DEPTH_DIR, layout.DEPTH16_DIR, layout.INPUTS_DIR,
             layout.STATE_DIR, layout.LOG_DIR, "colmap", "__pycache__", "node_modules"}
_TYPES = {".log": "text/plain; charset=utf-8", ".json": "application/json",
          ".yaml": "text/plain; charset=utf-8", ".html": "text/html; charset=utf-8",
          ".exr": "application/octet-stream"}
# Files that may hold secrets (a --notify URL with a token) are never served.
_PRIVATE = {layout.JOB_FILE, layout.NOTIFY_LOG}
# The pages are static: nothing may run or load from elsewhere, even if escaping failed.
_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


def find_jobs(root: Path) -> list[Path]:
    """Job directories (job.yaml + plan.json) under root, newest first."""
    found: list[Path] = []
    base_depth = len(root.parts)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if layout.JOB_FILE in files and layout.PLAN_FILE in files:
            found.append(here)
            dirs[:] = []
            if len(found) >= MAX_JOBS:
                break
            continue
        dirs[:] = sorted(d for d in dirs if d not in _NOT_JOBS
                         and len(here.parts) - base_depth < MAX_DEPTH)
    return sorted(found, key=lambda p: p.name, reverse=True)


def index_page(root: Path) -> str:
    """The live index: one row per job with its state now."""
    rows = []
    for path in find_jobs(root):
        rel = os.path.relpath(path, root)
        try:
            st = status(JobDir(path), refresh=False)
        except Exception as exc:  # noqa: BLE001 - one unreadable job is one row, not a 500
            rows.append(f"<tr><td>{text(rel)}</td><td class=failed colspan=3>unreadable: "
                        f"{text(exc)}</td></tr>")
            continue
        state = ("finished" if st.ok else "finished with failures") if st.finished else "running"
        page = f"{rel}/{layout.REPORT_FILE}"
        link = (f'<a href="{href(page)}">{text(st.id)}</a>'
                if (path / layout.REPORT_FILE).is_file()
                else f"{text(st.id)} <span class=muted>(no page yet: orbitfarm report "
                     f"{text(path)})</span>")
        totals = ", ".join(f"{n} {k}" for k, n in st.totals.items() if n)
        rows.append(f"<tr><td>{link}</td><td>{state}</td><td>{st.frames_done}/"
                    f"{st.frames_total}</td><td>{text(totals)}</td><td>{text(st.target)}</td>"
                    f"</tr>")
    body = ("".join(rows) if rows else
            '<tr><td colspan="5">no jobs under this folder yet</td></tr>')
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
            f"<title>orbitfarm jobs</title><style>{CSS}</style></head><body>"
            f"<h1>orbitfarm jobs</h1><p>under {text(root)} &middot; as of {stamp}</p>"
            f'<table id="jobs"><tr><th>job</th><th>state</th><th>frames</th><th>subjects</th>'
            f"<th>target</th></tr>{body}</table></body></html>")


def resolve(root: Path, url_path: str) -> Path | None:
    """The file a URL path names inside root (symlinks followed), or None."""
    raw = unquote_to_bytes(urlsplit(url_path).path)
    if b"\0" in raw:
        return None
    rel = os.fsdecode(raw).lstrip("/")
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, rel))
    if os.path.commonpath([real_root, target]) != real_root or not os.path.isfile(target):
        return None
    if os.path.basename(target) in _PRIVATE:
        return None
    return Path(target)


class _Handler(BaseHTTPRequestHandler):
    root: Path  # set on the subclass make_server builds
    server_version = "orbitfarm-serve"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass  # a quiet server: the terminal shows the URL, not every image request

    def do_HEAD(self) -> None:  # noqa: N802 - the base class's naming
        self._answer(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        if urlsplit(self.path).path in ("/", "/index.html"):
            body = index_page(self.root).encode("utf-8", "replace")
            kind = "text/html; charset=utf-8"
        else:
            path = resolve(self.root, self.path)
            if path is None:
                self.send_error(HTTPStatus.NOT_FOUND, "not found (or outside the served folder)")
                return
            try:
                body = path.read_bytes()
            except OSError:
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            kind = _TYPES.get(path.suffix.lower()) or (mimetypes.guess_type(path.name)[0]
                                                       or "application/octet-stream")
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", _POLICY)
        self.end_headers()
        if not head:
            self.wfile.write(body)


def make_server(root: Path, port: int = DEFAULT_PORT,
                bind: str = DEFAULT_BIND) -> ThreadingHTTPServer:
    """A server for root (not yet serving); port 0 picks a free one."""
    handler = type("Handler", (_Handler,), {"root": root.resolve()})
    server = ThreadingHTTPServer((bind, port), handler)
    server.daemon_threads = True
    return server
