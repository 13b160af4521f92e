"""A local stand-in for a Discord webhook, for tests and the demo.

It listens on ``127.0.0.1`` (random port), records every request, and answers
like Discord's Execute Webhook: ``200`` with a message object when the query
has ``wait=true``, else ``204``; ``404 Unknown Webhook`` for any other path.
It also plays a Discord application's bot API under ``/api/v10`` (see
:attr:`DiscordSink.api_base_url`): ``POST /channels/{id}/messages`` with ``Authorization:
Bot <bot_token>`` (401 otherwise) creates a message, and ``PATCH
/webhooks/{application}/{interaction token}/messages/@original`` edits one.

Tests can queue canned answers (429 with ``retry_after``, 5xx, ...), stall
responses to provoke client timeouts, and trickle a response one byte at a time
(each byte well within a per-read timeout, the whole far beyond any sane one)::

    with DiscordSink() as sink:
        sink.respond_with((429, {"retry_after": 0.05, "global": False}, None))
        DiscordWebhook(sink.url).post({"content": "hi"})
        assert len(sink.wait_for(2)) == 2
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl
    from types import TracebackType

_MAX_BODY = 8 << 20
_DISCORD_EPOCH_MS = 1_420_070_400_000
_CHANNEL_ID = "100000000000000001"
API_PATH = "/api/v10"
_BOT_MESSAGES = re.compile(r"^/api/v10/channels/([0-9]{17,20})/messages$")
_ORIGINAL = re.compile(r"^/api/v10/webhooks/([0-9]{17,20})/[^/]+/messages/@original$")

Response = tuple[int, Mapping[str, Any] | None, Mapping[str, str] | None]


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
    sink: DiscordSink

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that time out and hang up are expected here."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "DiscordSink/1.0"

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
        (status, payload, extra), trickle = self.server.sink._record(request)
        with contextlib.suppress(OSError):  # the client may have timed out and hung up
            if trickle > 0:
                self._trickle(status, payload, extra, trickle)
            else:
                self._reply(status, payload, extra)

    def _trickle(
        self,
        status: int,
        payload: Mapping[str, Any] | None,
        extra: Mapping[str, str] | None,
        interval: float,
    ) -> None:
        """The whole response (status line first), one byte every ``interval`` seconds."""
        data = b"" if payload is None or status == 204 else json.dumps(payload).encode()
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        head += [f"{name}: {value}" for name, value in (extra or {}).items()]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data
        stopping = self.server.sink._stopping
        for byte in raw:
            self.wfile.write(bytes([byte]))
            if stopping.wait(interval):
                return
        self.close_connection = True

    def _reply(
        self, status: int, payload: Mapping[str, Any] | None, extra: Mapping[str, str] | None
    ) -> None:
        data = b"" if payload is None or status == 204 else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)


class DiscordSink:
    """Local HTTP server standing in for one Discord webhook. Thread-safe."""

    def __init__(
        self,
        *,
        webhook_id: str = "123456",
        token: str = "local-token",  # noqa: S107 - fake token of a local stand-in
        tls: ssl.SSLContext | None = None,
        bot_token: str = "local-bot-token",  # noqa: S107 - fake token of a local stand-in
    ) -> None:
        """``tls``: serve HTTPS with this server context (the URL stays ``http://``;
        callers swap the scheme and use a host name the certificate names)."""
        self.webhook_id = webhook_id
        self.token = token
        self.path = f"/api/webhooks/{webhook_id}/{token}"
        self.bot_token = bot_token
        self._cond = threading.Condition()
        self._requests: list[SinkRequest] = []
        self._responses: deque[Response] = deque()
        self._stalls: deque[float] = deque()
        self._trickles: deque[float] = deque()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count()
        self._tls = tls

    # lifecycle -----------------------------------------------------------
    def start(self) -> DiscordSink:
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
            name="discord-sink",
            daemon=True,
        )
        self._server = server
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes stalled handlers
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> DiscordSink:
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
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("DiscordSink is not started")
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}{self.path}"

    @property
    def api_base_url(self) -> str:
        """The bot API's base (what an application secret's ``api_base_url`` names)."""
        if self._server is None:
            raise RuntimeError("DiscordSink is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{API_PATH}"

    @property
    def requests(self) -> list[SinkRequest]:
        with self._cond:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[SinkRequest]:
        """Block until at least ``count`` requests arrived; ``TimeoutError`` otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= count, timeout):
                got = len(self._requests)
                raise TimeoutError(f"expected {count} request(s) within {timeout}s, got {got}")
            return list(self._requests)

    # scripting -----------------------------------------------------------
    def respond_with(self, *responses: Response) -> None:
        """Queue canned ``(status, json_body, extra_headers)`` answers for the next requests."""
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

    def clear(self) -> None:
        """Forget recorded requests, queued responses, stalls and trickles."""
        with self._cond:
            self._requests.clear()
            self._responses.clear()
            self._stalls.clear()
            self._trickles.clear()

    # server side ---------------------------------------------------------
    def _record(self, request: SinkRequest) -> tuple[Response, float]:
        """The answer for ``request`` and its trickle interval (0: all at once)."""
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()
            stall = self._stalls.popleft() if self._stalls else 0.0
            trickle = self._trickles.popleft() if self._trickles else 0.0
            canned = self._responses.popleft() if self._responses else None
        if stall > 0:
            self._stopping.wait(stall)
        return (canned if canned is not None else self._default(request)), trickle

    def _default(self, request: SinkRequest) -> Response:
        bot = self._bot_api(request)
        if bot is not None:
            return bot
        if request.path != self.path:
            return 404, {"message": "Unknown Webhook", "code": 10015}, None
        if request.method != "POST":
            return 405, {"message": "405: Method Not Allowed", "code": 0}, None
        if request.query.get("wait") != ["true"]:
            return 204, None, None
        body = request.json if isinstance(request.json, dict) else {}
        return 200, self._message(body), None

    def _bot_api(self, request: SinkRequest) -> Response | None:
        body = request.json if isinstance(request.json, dict) else {}
        if _BOT_MESSAGES.match(request.path) and request.method == "POST":
            if request.headers.get("authorization") != f"Bot {self.bot_token}":
                return 401, {"message": "401: Unauthorized", "code": 0}, None
            return 200, {**self._message(body), "components": body.get("components", [])}, None
        if _ORIGINAL.match(request.path) and request.method == "PATCH":
            return 200, {**self._message(body), "components": body.get("components", [])}, None
        return None

    def _message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        ms = int(time.time() * 1000) - _DISCORD_EPOCH_MS
        snowflake = (ms << 22) | (next(self._ids) & 0xFFF)
        return {
            "id": str(snowflake),
            "type": 0,
            "channel_id": _CHANNEL_ID,
            "webhook_id": self.webhook_id,
            "author": {"id": self.webhook_id, "username": body.get("username") or "Trailwarden"},
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "timestamp": now.isoformat(),
        }
