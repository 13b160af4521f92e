"""Deliver one message to a Discord webhook (Execute Webhook), stdlib only.

Behaviour follows Discord's developer docs:

* ``POST {webhook_url}?wait=true`` so Discord confirms the message was saved
  and returns it (its ``id`` ends up in :class:`DeliveryResult`).
* ``allowed_mentions = {"parse": []}`` is always sent: alert text quotes
  attacker-controlled strings and must never ping anyone.
* 429: wait ``retry_after`` seconds from the JSON body (else the
  ``Retry-After`` header) and try again, unless that is longer than
  ``max_retry_after``. 5xx, timeouts and connection errors: exponential
  backoff with jitter. Other 4xx are final (404 = the webhook was deleted).
  A timeout may hide a message Discord did save, so a retry can duplicate an
  alert; for alerting, a duplicate beats a lost message.
* Redirects are not followed.
* Time is bounded, not only per socket read (a response trickled one byte a second
  never trips a per-read timeout): every attempt has a total deadline, ``timeout``
  seconds from its start, checked before every read and write of the connection; and
  the whole send has an optional ``deadline`` (the caller's clock, e.g. the Lambda's
  remaining time minus a margin) that caps attempts and back-off waits alike.

The webhook URL embeds its token, so it is a secret: it never appears in log
records, exception messages or ``repr``.

The same transport also speaks to Discord's bot API (approvals in Discord, see
:mod:`trailwarden.approvals.discord_app`): ``authorization`` sends ``Authorization:
Bot <token>`` (scrubbed like the URL), ``method`` may be ``PATCH`` (editing the
interaction's original message) and ``wait=False`` leaves the query alone.
"""

from __future__ import annotations

import http.client
import io
import json
import math
import random
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from trailwarden.models.errors import NotificationFailed
from trailwarden.notify import text

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

logger = Logger(child=True)

DEFAULT_USER_AGENT = "trailwarden-notifier/0.1 (+https://github.com/trailwarden)"
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_RESPONSE_BYTES = 1 << 20
_jitter = random.SystemRandom()


@dataclass(frozen=True)
class DeliveryResult:
    status: int  # final HTTP status (2xx)
    attempts: int
    message_id: str | None  # from the ?wait=true response body, if any


@dataclass(frozen=True)
class _Outcome:
    status: int | None  # None: no HTTP response (timeout, connection error)
    body: bytes = b""
    headers: Mapping[str, str] | None = None
    error: str = ""  # short, URL-free description when status is None


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Turn every 3xx into an ``HTTPError`` instead of re-sending the body elsewhere."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


class _DeadlineSocket:
    """A connected socket whose every read and write must finish by ``deadline``.

    Before each ``recv_into``/``sendall`` the socket's timeout is set to the time left,
    and once none is left it raises ``TimeoutError``: a total deadline, where the
    socket's own timeout only bounds each single read. ``close`` waits for the
    response's file objects, as a real socket does (urllib closes the connection while
    the response is still being read).
    """

    def __init__(self, sock: socket.socket, deadline: float, clock: Callable[[], float]):
        self._sock = sock
        self._deadline = deadline
        self._clock = clock
        self._io_refs = 0
        self._closed = False

    def _arm(self) -> None:
        left = self._deadline - self._clock()
        if left <= 0:
            raise TimeoutError("attempt deadline reached")
        self._sock.settimeout(left)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        if nbytes or flags:
            return self._sock.recv_into(buffer, nbytes, flags)
        return self._sock.recv_into(buffer)  # what SocketIO calls (TLS sockets included)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._arm()
        self._sock.sendall(data, flags)

    def makefile(self, mode: str = "rb", *_args: Any, **_kwargs: Any) -> IO[bytes]:
        if mode != "rb":
            raise ValueError("only 'rb' is supported")
        self._io_refs += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _deadline_connection(
    base: type[http.client.HTTPConnection],
    deadline: Callable[[], float],
    clock: Callable[[], float],
) -> Any:
    """``base`` whose socket, once connected (TLS included), keeps ``deadline()``."""

    class DeadlineConnection(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            connected: Any = self.sock  # type: ignore[has-type]
            self.sock = _DeadlineSocket(connected, deadline(), clock)

    return DeadlineConnection


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: Callable[[], float], clock: Callable[[], float]) -> None:
        super().__init__()
        self._connection = _deadline_connection(http.client.HTTPConnection, deadline, clock)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Callable[[], float], clock: Callable[[], float]) -> None:
        self._tls = ssl.create_default_context()  # certificate and hostname checks on
        super().__init__(context=self._tls)
        self._connection = _deadline_connection(http.client.HTTPSConnection, deadline, clock)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req, context=self._tls)


def _validated_split(url: str) -> urllib.parse.SplitResult:
    error = "Discord webhook URL must be https:// (http:// only for 127.0.0.1/localhost)"
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise ValueError(error) from None
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url) or not host or parts.username:
        raise ValueError(error)
    if parts.scheme == "https" or (parts.scheme == "http" and host in _LOCAL_HOSTS):
        return parts
    raise ValueError(error)


def _with_wait(parts: urllib.parse.SplitResult) -> str:
    query = [
        (k, v)
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if k != "wait"
    ]
    query.append(("wait", "true"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query), fragment=""))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # includes UnicodeDecodeError
        return None


def _retry_after(outcome: _Outcome) -> float | None:
    """Seconds to wait after a 429: JSON ``retry_after``, else ``Retry-After``."""
    data = _json(outcome.body)
    value = data.get("retry_after") if isinstance(data, dict) else None
    if not isinstance(value, int | float) or isinstance(value, bool):
        value = (outcome.headers or {}).get("Retry-After")
    try:
        seconds = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:  # e.g. an HTTP-date: fall back to our own backoff
        return None
    return None if math.isnan(seconds) else max(seconds, 0.0)


def _discord_error(body: bytes) -> str:
    """``code``/``message`` of a Discord JSON error body, for operators."""
    data = _json(body)
    if not isinstance(data, dict):
        return ""
    detail = []
    if isinstance(data.get("code"), int):
        detail.append(f"code {data['code']}")
    if isinstance(data.get("message"), str):
        detail.append(repr(text.truncate(data["message"], 120)))
    return f": {', '.join(detail)}" if detail else ""


class DiscordWebhook:
    """POST messages to one Discord webhook with bounded, polite retries."""

    def __init__(
        self,
        url: str,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 5.0,
        max_attempts: int = 4,
        backoff_seconds: float = 1.0,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        method: str = "POST",
        authorization: str | None = None,
        wait: bool = True,
    ) -> None:
        """``timeout``: seconds one attempt may take in total (connect, send, the whole
        response). ``deadline``: a ``clock()`` time by which the whole send must end."""
        parts = _validated_split(url)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if method not in ("POST", "PATCH"):
            raise ValueError("method must be POST or PATCH")
        self._url = (
            _with_wait(parts) if wait else urllib.parse.urlunsplit(parts._replace(fragment=""))
        )
        self._method = method
        self._authorization = authorization
        # Strings to scrub from anything Discord sends back: the URL and the token.
        self._secrets = tuple(
            s
            for s in (
                url,
                self._url,
                parts.path,
                parts.path.rstrip("/").rpartition("/")[2] if wait else "",  # webhook token
                authorization,
                (authorization or "").rpartition(" ")[2],
            )
            if s
        )
        self._host = parts.hostname or ""
        self._user_agent = user_agent
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._deadline = deadline
        self._clock = clock
        self._attempt_deadline = 0.0
        handlers: list[urllib.request.BaseHandler] = [
            _RefuseRedirects(),
            _DeadlineHTTPHandler(lambda: self._attempt_deadline, clock),
            _DeadlineHTTPSHandler(lambda: self._attempt_deadline, clock),
        ]
        if self._host in _LOCAL_HOSTS:  # never send loopback traffic to an env proxy
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"DiscordWebhook(host={self._host!r})"

    def post(self, payload: Mapping[str, Any]) -> DeliveryResult:
        """Send ``payload`` (Execute Webhook JSON); raise ``NotificationFailed`` on give-up."""
        message = text.clamp_message({**payload, "allowed_mentions": {"parse": []}})
        body = json.dumps(message, separators=(",", ":")).encode()
        reason = "no attempt made"
        status: int | None = None
        for attempt in range(1, self._max_attempts + 1):
            budget = self._time_left(self._timeout)
            if budget <= 0:
                raise self._failure(
                    f"{reason}; no time left before the deadline", status, attempt - 1
                )
            outcome = self._send(body, budget)
            status = outcome.status
            if status is not None and 200 <= status < 300:
                message_id = _json(outcome.body)
                mid = message_id.get("id") if isinstance(message_id, dict) else None
                result = DeliveryResult(status, attempt, None if mid is None else str(mid))
                logger.info(
                    "Discord message delivered",
                    extra={"status": status, "attempts": attempt, "message_id": result.message_id},
                )
                return result
            if status == 429:
                delay = _retry_after(outcome)
                reason = "rate limited (HTTP 429)"
                if delay is None:
                    delay = self._backoff_delay(attempt)
                elif delay > self._max_retry_after:
                    reason += f", retry_after {delay:g}s exceeds {self._max_retry_after:g}s"
                    raise self._failure(reason, status, attempt)
            elif status is None or status >= 500:
                reason = outcome.error if status is None else f"server error (HTTP {status})"
                delay = self._backoff_delay(attempt)
            else:
                raise self._failure(self._final_reason(outcome), status, attempt)
            if attempt < self._max_attempts:
                if self._time_left(delay) < delay:
                    reason += "; no time left for another attempt before the deadline"
                    raise self._failure(reason, status, attempt)
                logger.warning(
                    "Discord delivery failed, retrying",
                    extra={"reason": reason, "attempt": attempt, "retry_in_s": round(delay, 3)},
                )
                self._sleep(delay)
        raise self._failure(reason, status, self._max_attempts)

    def _time_left(self, wanted: float) -> float:
        """``wanted`` seconds, or less if the whole send's deadline comes first."""
        if self._deadline is None:
            return wanted
        return min(wanted, self._deadline - self._clock())

    def _backoff_delay(self, attempt: int) -> float:
        base = self._backoff * 2.0 ** (attempt - 1)
        return min(base + _jitter.uniform(0, self._backoff), self._max_retry_after)

    def _send(self, body: bytes, budget: float) -> _Outcome:
        """One attempt, over by ``budget`` seconds from now whatever the server does."""
        self._attempt_deadline = self._clock() + budget
        headers = {"Content-Type": "application/json", "User-Agent": self._user_agent}
        if self._authorization:
            headers["Authorization"] = self._authorization
        request = urllib.request.Request(  # noqa: S310 - scheme validated in __init__
            self._url, data=body, method=self._method, headers=headers
        )
        try:
            with self._opener.open(request, timeout=budget) as response:
                return _Outcome(response.status, response.read(_MAX_RESPONSE_BYTES))
        except urllib.error.HTTPError as err:
            try:
                error_body = err.read(_MAX_RESPONSE_BYTES)
            except (OSError, http.client.HTTPException):
                error_body = b""  # the status is what matters
            finally:
                err.close()
            return _Outcome(err.code, error_body, dict(err.headers.items()))
        except urllib.error.URLError as err:
            cause = err.reason
            kind = "timeout" if isinstance(cause, TimeoutError) else "connection error"
            return _Outcome(None, error=f"{kind} ({type(cause).__name__})")
        except TimeoutError as err:
            return _Outcome(None, error=f"timeout ({type(err).__name__})")
        except (OSError, http.client.HTTPException) as err:
            return _Outcome(None, error=f"connection error ({type(err).__name__})")

    def _final_reason(self, outcome: _Outcome) -> str:
        status = outcome.status
        detail = self._scrub(_discord_error(outcome.body))
        if status == 404:
            return f"webhook not found (HTTP 404{detail}); it was deleted or the URL is wrong"
        if status == 401:
            return f"webhook token rejected (HTTP 401{detail})"
        if status is not None and 300 <= status < 400:
            return f"unexpected redirect (HTTP {status}); redirects are not followed"
        return f"rejected by Discord (HTTP {status}{detail})"

    def _scrub(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, "[redacted]")
        return value

    def _failure(self, reason: str, status: int | None, attempts: int) -> NotificationFailed:
        message = f"Discord webhook delivery failed after {attempts} attempt(s): {reason}"
        logger.error(message, extra={"status": status, "attempts": attempts})
        return NotificationFailed(message)
