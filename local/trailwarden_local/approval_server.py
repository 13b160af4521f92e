"""The approval endpoint, served locally over real HTTP on 127.0.0.1.

In AWS, API Gateway's HTTP API routes ``GET`` and ``POST /approvals/{id}`` to the
ApprovalFunction with a payload v2.0 event. Locally, :class:`ApprovalServer` does the
same: it turns each request into that event (source IP = the TCP peer, body base64
encoded as API Gateway sends form posts), invokes the function through the engine
(moto's Lambda API -> the handler in-process) and writes the function's response back.
``POST /discord/interactions`` (only when the app has a DiscordInteractionsFunction, i.e.
DiscordApplicationSecretName is set) goes to that function the same way.
Other paths and methods get API Gateway's ``404 {"message":"Not Found"}``; a function
error gets its ``500 {"message":"Internal Server Error"}``. Throttling is not emulated.

The server starts before the app (the functions need its URL in APPROVAL_BASE_URL),
so the app is attached afterwards with :meth:`ApprovalServer.attach`.

PIN-SENSITIVE (moto 5.2.x): the engine switches ``os.environ`` per invocation, which is
process-wide. This server invokes from its own thread, and the ApprovalFunction's
SendTaskSuccess wakes the waiting execution *during* that invocation; the execution's
thread would then create boto3 clients (which copy ``os.environ``) while this thread
restores the environment. So while a server is attached, moto's
``CallbackEndpoint.wait`` returns only once the approval invocation that notified it has
finished. AWS gives no ordering between SendTaskSuccess returning and the execution
moving on, so this stays faithful.

:class:`ApprovalClient` is what the demo and the tests use to act like a human: fetch
the link (GET), read the page's nonce, and POST a decision, all over HTTP.
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from trailwarden_local.engine import LocalApp

FUNCTION = "ApprovalFunction"
ROUTE = re.compile(r"^/approvals/([^/]+)$")
INTERACTIONS_FUNCTION = "DiscordInteractionsFunction"
INTERACTIONS_PATH = "/discord/interactions"
MAX_BODY = 64 * 1024
_ROUTED_METHODS = ("GET", "POST")


@dataclass(frozen=True)
class Served:
    """One request the server answered (the opaque id is not kept)."""

    method: str
    routed: bool
    status: int
    source_ip: str
    user_agent: str


def http_api_event(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    source_ip: str,
    approval_id: str,
    account_id: str,
    route: str = "/approvals/{id}",
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2.0 event for the ``/approvals/{id}`` routes (or,
    with ``route``, another one)."""
    now = datetime.now(UTC)
    lowered = {k.lower(): v for k, v in headers.items()}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": account_id,
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "pathParameters": {"id": approval_id} if approval_id else {},
        "isBase64Encoded": False,
    }
    if body and lowered.get("content-type", "").startswith("application/json"):
        event["body"] = body.decode("utf-8")  # API Gateway passes JSON as text
    elif body:
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    return event


class ApprovalServer:
    """``with ApprovalServer() as server: LocalApp(..., {"APPROVAL_BASE_URL": server.url})``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, function: str = FUNCTION) -> None:
        self.function = function
        self.served: list[Served] = []
        self._app: LocalApp | None = None
        self._lock = threading.Lock()
        self._invoking = threading.Lock()  # held for a whole ApprovalFunction invocation
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def attach(self, app: LocalApp | None) -> None:
        with self._lock:
            self._app = app
        if app is None:
            _CallbackGate.remove(self._invoking)
        else:
            _CallbackGate.add(self._invoking)

    def start(self) -> ApprovalServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="approval-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        _CallbackGate.remove(self._invoking)
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ApprovalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ serving

    def _respond(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes, peer: str
    ) -> tuple[int, dict[str, str], bytes]:
        parsed = urllib.parse.urlsplit(raw_path)
        match = ROUTE.match(parsed.path)
        with self._lock:
            app = self._app
        interactions = parsed.path == INTERACTIONS_PATH and method == "POST"
        if interactions and app is not None and INTERACTIONS_FUNCTION in app.functions:
            event = http_api_event(
                method,
                parsed.path,
                parsed.query,
                headers,
                body,
                peer,
                "",
                app.account_id,
                INTERACTIONS_PATH,
            )
            return self._invoke(app, INTERACTIONS_FUNCTION, event)
        if match is None or method not in _ROUTED_METHODS or app is None:
            return 404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}'
        event = http_api_event(
            method,
            parsed.path,
            parsed.query,
            headers,
            body,
            peer,
            urllib.parse.unquote(match.group(1)),
            app.account_id,
        )
        return self._invoke(app, self.function, event)

    def _invoke(
        self, app: LocalApp, function: str, event: dict[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        with self._invoking:
            result = app.invoke(function, event)
        payload = result.payload if isinstance(result.payload, dict) else {}
        if result.function_error or "statusCode" not in payload:
            return (
                500,
                {"Content-Type": "application/json"},
                b'{"message":"Internal Server Error"}',
            )
        text = str(payload.get("body") or "")
        out = base64.b64decode(text) if payload.get("isBase64Encoded") else text.encode("utf-8")
        response_headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
        response_headers.setdefault("Content-Type", "application/json")
        return int(payload["statusCode"]), response_headers, out

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self.send_error(413)
                    return
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                status, response_headers, out = server._respond(
                    self.command, self.path, headers, body, self.client_address[0]
                )
                server.served.append(
                    Served(
                        method=self.command,
                        routed=bool(ROUTE.match(urllib.parse.urlsplit(self.path).path)),
                        status=status,
                        source_ip=self.client_address[0],
                        user_agent=headers.get("User-Agent", ""),
                    )
                )
                self.send_response(status)
                for key, value in response_headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the path holds the opaque id; ``served`` records what matters."""

        return Handler


class _CallbackGate:
    """Wraps moto's CallbackEndpoint.wait while any server is attached (see module doc)."""

    _locks: ClassVar[list[threading.Lock]] = []
    _original: ClassVar[Any] = None
    _guard = threading.Lock()

    @classmethod
    def add(cls, lock: threading.Lock) -> None:
        from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

        with cls._guard:
            if lock in cls._locks:
                return
            cls._locks.append(lock)
            if cls._original is None:
                original = CallbackEndpoint.wait
                cls._original = original
                locks = cls._locks

                def wait(endpoint: Any, timeout: float | None = None) -> Any:
                    outcome = original(endpoint, timeout)
                    for held in list(locks):
                        with held:  # the invocation that sent the outcome has finished
                            pass
                    return outcome

                CallbackEndpoint.wait = wait  # type: ignore[method-assign,assignment]

    @classmethod
    def remove(cls, lock: threading.Lock) -> None:
        from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

        with cls._guard:
            if lock in cls._locks:
                cls._locks.remove(lock)
            if not cls._locks and cls._original is not None:
                CallbackEndpoint.wait = cls._original  # type: ignore[method-assign]
                cls._original = None


# ---------------------------------------------------------------------- the human side

_LINK = re.compile(r"https?://[^\s<>\"')]+/approvals/[A-Za-z0-9_-]+")
_NONCE = re.compile(r'name="nonce" value="([^"]+)"')


def approval_links(discord_bodies: Iterable[Any]) -> list[str]:
    """Every approval link in the Discord payloads, in order."""
    links: list[str] = []
    for body in discord_bodies:
        links += _LINK.findall(json.dumps(body))
    return links


@dataclass(frozen=True)
class PageResponse:
    status: int
    headers: Mapping[str, str]
    text: str

    @property
    def nonce(self) -> str | None:
        found = _NONCE.search(self.text)
        return html.unescape(found.group(1)) if found else None


@dataclass
class ApprovalClient:
    """A human with a browser, minus the browser: GET the link, POST the decision."""

    user_agent: str = "trailwarden-demo/1.0 (a human clicking the link)"
    timeout: float = 10.0
    history: list[tuple[str, int]] = field(default_factory=list)

    def _send(self, request: urllib.request.Request) -> PageResponse:
        request.add_header("User-Agent", self.user_agent)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            status, headers, raw = err.code, dict(err.headers), err.read()
        self.history.append((request.get_method(), status))
        return PageResponse(status, headers, raw.decode("utf-8", "replace"))

    def get(self, link: str) -> PageResponse:
        return self._send(urllib.request.Request(link, method="GET"))  # noqa: S310

    def post(self, link: str, form: Mapping[str, str]) -> PageResponse:
        data = urllib.parse.urlencode(dict(form)).encode("ascii")
        request = urllib.request.Request(link, data=data, method="POST")  # noqa: S310
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        return self._send(request)

    def decide(self, link: str, page: PageResponse, decision: str) -> PageResponse:
        """POST the decision with the nonce of a page this client fetched."""
        return self.post(link, {"decision": decision, "nonce": page.nonce or ""})


def wait_for_link(discord_bodies: Any, seen: int, timeout: float = 30.0) -> str:
    """Poll the Discord stand-in's bodies (a callable returning the list) for a new link."""
    deadline = time.monotonic() + timeout
    while True:
        links = approval_links(discord_bodies()[seen:])
        if links:
            return links[-1]
        if time.monotonic() > deadline:
            raise TimeoutError(f"no approval link reached Discord within {timeout}s")
        time.sleep(0.02)
