"""A stand-in HTTP service on 127.0.0.1 for the cloud target tests (the real services cannot
be reached from here). A subclass routes requests; every request is recorded, and whatever a
route finds wrong with what the official SDK sent is kept in `problems` and answered with an
error, so the test fails on it whichever way orbitfarm handles the error."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Problem(Exception):
    """What the SDK sent is not what the service accepts: answered 400, remembered."""


class StandIn:
    """Start with `with Subclass() as service:`; `service.url`, `service.requests`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.problems: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query,
                                                       keep_blank_values=True).items()}
                request = Request(self.command, split.path, query,
                                  {k.lower(): v for k, v in self.headers.items()}, body)
                with outer.lock:
                    outer.requests.append(request)
                    try:
                        answer = outer.route(request)
                    except Problem as exc:
                        outer.problems.append(f"{request.method} {request.path}: {exc}")
                        answer = outer.error_answer(400, str(exc))
                data = answer.body if isinstance(answer.body, bytes) else \
                    json.dumps(answer.body).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json", **answer.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def calls(self, method: str, prefix: str = "") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def route(self, request: Request) -> Answer:
        raise NotImplementedError

    def error_answer(self, status: int, message: str) -> Answer:
        return Answer(status, {"message": message})


def require(condition: Any, message: str) -> None:
    if not condition:
        raise Problem(message)
