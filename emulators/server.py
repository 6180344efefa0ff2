"""A small threaded HTTP server on 127.0.0.1 that network emulators build on.

An emulator subclasses `Emulator` and implements `route(request) -> Reply`. Faults are scripted:
`fail_next(status, headers, times, path=...)` makes the next matching requests fail before the
route sees them, which is how tests produce 429s with reset headers and 5xx errors.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    status: int
    headers: dict[str, str]
    times: int
    path: str | None
    body: Any


class Emulator:
    """Start with `with EmulatorSubclass() as emu:`; `emu.url` is its base URL."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                emulator._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(
        self, status: int, headers: dict[str, str] | None = None, times: int = 1, path: str | None = None,
        body: Any = None,
    ) -> None:
        """The next `times` requests (whose path contains `path`, if given) get this status."""
        with self._lock:
            self._faults.append(_Fault(status, headers or {}, times, path, body))

    def route(self, request: Request) -> Reply:
        raise NotImplementedError

    def hits(self, path_part: str) -> list[Request]:
        return [r for r in self.requests if path_part in r.path]

    def _fault_for(self, request: Request) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and (fault.path is None or fault.path in request.path):
                    fault.times -= 1
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(
            method=handler.command,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
        )
        self.requests.append(request)
        fault = self._fault_for(request)
        if fault is not None:
            reply = Reply(fault.status, fault.body if fault.body is not None else {"error": "injected"}, fault.headers)
        else:
            try:
                reply = self.route(request)
            except Exception as e:  # noqa: BLE001 - an emulator bug shows up as a 500 in the client
                reply = Reply(500, {"error": repr(e)})
        body = reply.body
        headers = dict(reply.headers)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, str):
            body = body.encode()
        handler.send_response(reply.status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)
