"""Secrets by reference: a webhook URL (credentials, tokens) never lands in job.yaml, a log or
any file others can read.

`--notify` / a profile's `notify:` take one of
    env:NAME        the URL is in environment variable NAME (read when notifying)
    file:PATH       the URL is the first line of PATH, a file only its owner may read (0600)
    https://...     a literal URL: the job keeps a private copy (JOBDIR/notify.secret, 0600)
                    and job.yaml says `file:notify.secret`
Logs show a redacted URL (scheme and host only). `file:` paths that are relative are relative
to the job directory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

from ..files import layout

ENV = "env:"
FILE = "file:"
_URL = ("http://", "https://")


class SecretError(ValueError):
    """A secret reference that cannot be used; the message says why and what to do."""


def is_reference(value: str) -> bool:
    return value.startswith((ENV, FILE))


def check(value: str, job_path: str | Path | None = None) -> None:
    """Raise SecretError unless `value` is a usable URL or reference (it is resolved once)."""
    if not isinstance(value, str) or not (value.startswith(_URL) or is_reference(value)):
        raise SecretError(f"notify must be an http(s) URL, env:VARIABLE or file:PATH, "
                          f"got {redact(str(value))!r}")
    if is_reference(value):
        resolve(value, job_path)


def resolve(value: str, job_path: str | Path | None = None) -> str:
    """The URL a reference stands for (a literal URL is itself)."""
    if value.startswith(ENV):
        name = value[len(ENV):]
        url = os.environ.get(name, "").strip()
        if not url:
            raise SecretError(f"notify: environment variable {name} is not set here")
    elif value.startswith(FILE):
        path = Path(os.path.expanduser(value[len(FILE):]))
        if not path.is_absolute() and job_path is not None:
            path = Path(job_path) / path
        try:
            mode = path.stat().st_mode
            url = (path.read_text(encoding="utf-8").strip().splitlines() or [""])[0].strip()
        except OSError as exc:
            raise SecretError(f"notify: cannot read {path}: {exc.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretError(f"notify: {path} can be read by others; `chmod 600 {path}`")
    else:
        url = value
    if not url.startswith(_URL):
        raise SecretError(f"notify: {value} does not hold an http(s) URL")
    return url


def private_reference(value: str | None) -> tuple[str | None, str | None]:
    """What a job stores for `value`, and the literal URL it must keep privately (or None)."""
    if not value or is_reference(value):
        return value, None
    return FILE + layout.NOTIFY_SECRET, value


def write_private(job_path: str | Path, url: str) -> None:
    """The job's private copy of a literal URL: created 0600, never readable by others."""
    path = Path(job_path) / layout.NOTIFY_SECRET
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(url + "\n")


def redact(url: str) -> str:
    """A URL as logs may show it: scheme and host, no credentials, path or query."""
    if is_reference(url):
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<url>"
    return f"{parts.scheme}://{host}{port}/..."
