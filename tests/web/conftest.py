"""The job's web page in a real headless browser: Debian's chromium driven by Playwright.

Playwright's own browser downloads are not reachable here, so it drives the system Chromium
(tools/system_deps.sh --web installs it; `make test-web` does all of it). Screenshots go to
$ORBITFARM_ARTIFACTS/web/ (else a temp folder) for people to look at.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("ORBITFARM_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make test-web` (installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("no playwright in this venv: run `make test-web`")
    with sync_playwright() as p:
        # --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture()
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.dialogs = []  # a page that runs a script (alert) would land here
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    base = os.environ.get("ORBITFARM_ARTIFACTS")
    folder = Path(base) / "web" if base else tmp_path_factory.mktemp("web-shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def serve() -> Iterator[Any]:
    """serve(root) -> base URL of `orbitfarm serve root` on a free loopback port."""
    from orbitfarm.submitter.report.serve import make_server

    servers = []

    def start(root: Path) -> str:
        server = make_server(Path(root), port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        host, port = server.server_address[:2]
        return f"http://{host}:{port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
