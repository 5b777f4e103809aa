"""A stand-in HTTP server for a cloud service: ThreadingHTTPServer on 127.0.0.1 in a thread,
recording every request (method, path, query, headers, body) and answering through a handler
function the test gives. Used through conftest.py's `standin` fixture; service modules build
their handlers with Request and Reply from here. A stand-in that keeps jobs the test moves
through states is a Service (a handler with a lock); what it refuses (`require`) is answered in
the service's own error shape and recorded, so the test fails whichever way orbitfarm takes it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request a stand-in received."""

    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    raw_query: str  # as sent (some SDKs put a whole quoted JSON document there)
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str = "") -> str:
        """The query parameter's last value (default when absent)."""
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class Reply:
    """What a stand-in answers: a status, a JSON-able body (or raw bytes) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return b"" if self.body is None else json.dumps(self.body).encode()


Handler = Callable[[Request], Reply]


class Refused(Exception):
    """What the SDK sent is not what the service accepts (see `require`)."""

    reply: Reply | None = None  # the service's error answer, set by Service


def require(condition: Any, message: str) -> None:
    if not condition:
        raise Refused(message)


class Service:
    """A stateful handler: a subclass routes requests (route) and answers refusals in the
    service's documented error shape (error_reply). One request at a time, so tests can move
    its jobs through states (under `self.lock`) while the SDK polls."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            try:
                return self.route(request)
            except Refused as exc:
                exc.reply = self.error_reply(400, str(exc))
                raise

    def route(self, request: Request) -> Reply:
        raise NotImplementedError

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, {"message": message})


class StandIn:
    """A local HTTP server standing in for a cloud service; records what reached it."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.errors: list[str] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                request = Request(self.command, url.path, parse_qs(url.query), url.query,
                                  {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length) if length else b"")
                outer.requests.append(request)
                try:
                    reply = outer.handler(request)
                except Refused as exc:  # answered as the service refuses; the test sees .errors
                    outer.errors.append(f"{request.method} {request.path}: {exc}")
                    reply = exc.reply or Reply(400, {"message": str(exc)})
                except Exception as exc:  # the test sees it in .errors, the SDK gets a 500
                    outer.errors.append(f"{request.method} {request.path}: {exc!r}")
                    reply = Reply(500, {"message": f"stand-in error: {exc}"})
                data = reply.encoded()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the requests are recorded instead

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def calls(self, method: str | None = None, path_part: str = "") -> list[Request]:
        """The recorded requests with this method whose path contains path_part."""
        return [r for r in self.requests
                if (method is None or r.method == method) and path_part in r.path]

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
