"""A plain local webhook on 127.0.0.1 for the Slack and Teams transport tests: records every
request and answers what the test queued (any status, plain-text or JSON body, headers),
or hangs until the test ends. Default answer: 200 ``ok`` (Slack's)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType

Answer = tuple[int, bytes, dict[str, str]]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hook: LocalWebhook

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that give up and hang up are expected."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        hook = self.server.hook
        answer = hook.record(
            Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        if answer is None:  # hang: never answer while the test runs
            hook.released.wait(30)
            return
        status, payload, headers = answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class LocalWebhook:
    def __init__(self, path: str = "/services/T0001/B0002/s3cr3tTOKENxyz") -> None:
        self.path = path
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.hook = self
        self.released = threading.Event()
        self._answers: deque[Answer | None] = deque()
        self._received: list[Received] = []
        self._cond = threading.Condition()
        self.default: Answer = (200, b"ok", {"Content-Type": "text/plain"})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def answer(self, *answers: Answer) -> None:
        self._answers.extend(answers)

    def hang(self, count: int = 1) -> None:
        self._answers.extend([None] * count)

    def record(self, received: Received) -> Answer | None:
        with self._cond:
            self._received.append(received)
            self._cond.notify_all()
            return self._answers.popleft() if self._answers else self.default

    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self._received)} of {count} requests arrived")
                self._cond.wait(left)
            return list(self._received)

    def __enter__(self) -> LocalWebhook:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
