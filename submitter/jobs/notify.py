"""Webhook notifications: POST a small JSON summary; a failed POST is logged, never fatal."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from .secrets import redact

log = logging.getLogger("orbitfarm.notify")


def post(url: str, payload: dict[str, Any], timeout: float = 10.0) -> bool:
    """POST payload as JSON to url; True on a 2xx answer. Never raises."""
    try:
        import requests

        answer = requests.post(url, json=payload, timeout=timeout)
        if 200 <= answer.status_code < 300:
            return True
        log.warning("notification to %s answered HTTP %s", redact(url), answer.status_code)
    except Exception as exc:  # network, DNS, missing requests: the job must go on
        # the exception text may quote the URL (and its token) too
        log.warning("notification to %s failed: %s", redact(url),
                    str(exc).replace(url, redact(url)))
    return False


def once(marker_dir: Path, event: str) -> bool:
    """True exactly once per event and job, across processes (an exclusive marker file)."""
    marker_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(marker_dir / event, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def notify_event(url: str | None, marker_dir: Path, event: str, payload: dict[str, Any],
                 log_file: Path | None = None) -> None:
    """Send `payload` once for `event`; failures are appended to log_file."""
    if not url or not once(marker_dir, event):
        return
    if not post(url, payload) and log_file is not None:
        with open(log_file, "a", encoding="utf-8") as fh:
            fh.write(f"notification {event} to {redact(url)} failed (see warnings); "
                     "the job is unaffected\n")
