"""The local HTTP server every chat stand-in shares (Discord, Slack, Teams).

One :class:`WebhookServer` listens on ``127.0.0.1`` (random port), records every request
with the status it answered, and answers with the platform's default (a subclass's
``_default``) unless a test or the demo programmed something else:

- ``respond_with(...)``: canned ``(status, body, extra headers)`` answers for the next
  requests (``body``: a JSON object, a text such as Slack's ``ok``, or ``None``);
- ``stall_next`` / ``trickle_next``: a late answer, or one byte at a time;
- ``fail_with(status)``: every request gets ``status`` until :meth:`recover` (a 429
  carries ``Retry-After``);
- ``hang()``: every request is read, recorded and never answered until :meth:`recover`
  or :meth:`stop` (the client's own timeout is what ends it);
- ``program("hang" | 500 | None)``: one of the two above from a sample's setup.

Requests are recorded per server, so each platform's stand-in holds only its own.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl
    from types import TracebackType

_MAX_BODY = 8 << 20
# How long a hung request waits at most (the client times out long before).
HANG_SECONDS = 60.0

Body = Mapping[str, Any] | str | None
Response = tuple[int, Body, Mapping[str, str] | None]
NO_ANSWER = None  # what ``answers`` holds for a request that was never answered


@dataclass(frozen=True)
class SinkRequest:
    """One request as received. Header names are lower-cased (``user-agent``)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sink: WebhookServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that time out and hang up are expected here."""


def _encode(status: int, payload: Body) -> tuple[bytes, str | None]:
    """The body bytes and their content type (none for 204/no body)."""
    if payload is None or status == 204:
        return b"", None
    if isinstance(payload, str):
        return payload.encode(), "text/plain; charset=utf-8"
    return json.dumps(payload).encode(), "application/json"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def version_string(self) -> str:
        return self.server.sink.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, _MAX_BODY)) if length > 0 else b""
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        split = urllib.parse.urlsplit(self.path)
        request = SinkRequest(
            method=self.command,
            path=split.path,
            query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            json=parsed,
        )
        answer, trickle = self.server.sink._record(request)
        if answer is None:  # hung: the client gave up; close without a word
            self.close_connection = True
            return
        status, payload, extra = answer
        with contextlib.suppress(OSError):  # the client may have timed out and hung up
            if trickle > 0:
                self._trickle(status, payload, extra, trickle)
            else:
                self._reply(status, payload, extra)

    def _trickle(
        self, status: int, payload: Body, extra: Mapping[str, str] | None, interval: float
    ) -> None:
        """The whole response (status line first), one byte every ``interval`` seconds."""
        data, content_type = _encode(status, payload)
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        head += [f"Content-Type: {content_type or 'application/json'}"]
        head += [f"Content-Length: {len(data)}"]
        head += [f"{name}: {value}" for name, value in (extra or {}).items()]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data
        stopping = self.server.sink._stopping
        for byte in raw:
            self.wfile.write(bytes([byte]))
            if stopping.wait(interval):
                return
        self.close_connection = True

    def _reply(self, status: int, payload: Body, extra: Mapping[str, str] | None) -> None:
        data, content_type = _encode(status, payload)
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)


class WebhookServer:
    """A local HTTP server standing in for one platform's webhook. Thread-safe.

    Subclasses set ``name`` (the sink name), ``server_version`` and ``path``, and
    answer with ``_default(request)``."""

    name = "webhook"
    server_version = "LocalWebhook/1.0"

    def __init__(self, *, path: str = "/", tls: ssl.SSLContext | None = None) -> None:
        """``tls``: serve HTTPS with this server context (the URL stays ``http://``;
        callers swap the scheme and use a host name the certificate names)."""
        self.path = path
        self._cond = threading.Condition()
        self._requests: list[SinkRequest] = []
        self._answers: list[int | None] = []
        self._responses: deque[Response] = deque()
        self._stalls: deque[float] = deque()
        self._trickles: deque[float] = deque()
        self._failing: Response | None = None
        self._hung: threading.Event | None = None  # set: released
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tls = tls

    # lifecycle -----------------------------------------------------------
    def start(self) -> Any:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        server.sink = self
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{self.name}-sink",
            daemon=True,
        )
        self._server = server
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes stalled and hung handlers
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # introspection -------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The webhook URL (what the platform's secret holds)."""
        return self.base_url + self.path

    @property
    def requests(self) -> list[SinkRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def answers(self) -> list[int | None]:
        """The status answered to each request, in order (``None``: never answered)."""
        with self._cond:
            return list(self._answers)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[SinkRequest]:
        """Block until at least ``count`` requests arrived; ``TimeoutError`` otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= count, timeout):
                got = len(self._requests)
                raise TimeoutError(f"expected {count} request(s) within {timeout}s, got {got}")
            return list(self._requests)

    # scripting -----------------------------------------------------------
    def respond_with(self, *responses: Response) -> None:
        """Queue canned ``(status, body, extra_headers)`` answers for the next requests."""
        with self._cond:
            self._responses.extend(responses)

    def stall_next(self, seconds: float, count: int = 1) -> None:
        """Delay the next ``count`` responses by ``seconds`` (to provoke client timeouts)."""
        with self._cond:
            self._stalls.extend([seconds] * count)

    def trickle_next(self, interval: float, count: int = 1) -> None:
        """Send the next ``count`` responses one byte every ``interval`` seconds."""
        with self._cond:
            self._trickles.extend([interval] * count)

    def fail_with(self, status: int, *, retry_after: float = 1.0) -> None:
        """Answer every request with ``status`` (the platform's error body) until
        :meth:`recover`; a 429 carries ``Retry-After: retry_after``."""
        extra = {"Retry-After": f"{retry_after:g}"} if status == 429 else None
        with self._cond:
            self._failing = (status, self._error_body(status), extra)

    def hang(self) -> None:
        """Never answer (read, record, stall) until :meth:`recover` or :meth:`stop`."""
        with self._cond:
            self._hung = threading.Event()

    def program(self, mode: int | str | None) -> None:
        """From a sample's setup: ``"hang"``, an HTTP status to fail with, or ``None``
        (answer normally)."""
        self.recover()
        if mode == "hang":
            self.hang()
        elif mode is not None:
            self.fail_with(int(mode))

    def recover(self) -> None:
        """Undo :meth:`fail_with` and :meth:`hang` (releasing hung requests)."""
        with self._cond:
            self._failing = None
            hung, self._hung = self._hung, None
        if hung is not None:
            hung.set()

    def clear(self) -> None:
        """Forget recorded requests, queued responses, stalls, trickles and modes."""
        self.recover()
        with self._cond:
            self._requests.clear()
            self._answers.clear()
            self._responses.clear()
            self._stalls.clear()
            self._trickles.clear()

    # server side ---------------------------------------------------------
    def _record(self, request: SinkRequest) -> tuple[Response | None, float]:
        """The answer for ``request`` (``None``: hang) and its trickle interval."""
        with self._cond:
            index = len(self._requests)
            self._requests.append(request)
            self._answers.append(NO_ANSWER)
            self._cond.notify_all()
            hung = self._hung
            stall = self._stalls.popleft() if self._stalls else 0.0
            trickle = self._trickles.popleft() if self._trickles else 0.0
            canned = self._responses.popleft() if self._responses else self._failing
        if hung is not None:
            self._wait(hung, HANG_SECONDS)
            return None, 0.0
        if stall > 0:
            self._stopping.wait(stall)
        answer = canned if canned is not None else self._default(request)
        with self._cond:
            if index < len(self._requests) and self._requests[index] is request:  # not cleared
                self._answers[index] = answer[0]
        return answer, trickle

    def _wait(self, released: threading.Event, seconds: float) -> None:
        """Until ``released`` is set, the server stops, or ``seconds`` pass."""
        step = 0.05
        waited = 0.0
        while waited < seconds and not released.is_set() and not self._stopping.is_set():
            released.wait(step)
            waited += step

    def _default(self, request: SinkRequest) -> Response:
        return (200, None, None) if request.path == self.path else (404, None, None)

    def _error_body(self, status: int) -> Body:
        """The body the platform sends with an error ``status``."""
        return None
