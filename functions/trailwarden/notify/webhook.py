"""One webhook transport for Discord, Slack and Microsoft Teams (Workflows), stdlib only.

A :class:`WebhookTransport` POSTs one JSON payload to one webhook URL:

* Any 2xx is success (Discord 200/204, Slack 200 ``ok``, Teams Workflows 202).
* 429: wait the platform's delay (:meth:`WebhookTransport._retry_after`: the
  ``Retry-After`` header; Discord also sends a JSON ``retry_after``) and try again,
  unless that is longer than ``max_retry_after``. 5xx, timeouts and connection errors:
  exponential backoff with jitter. Other 4xx are final (Discord 404 = the webhook was
  deleted; Slack answers ``invalid_payload``, ``no_service``... as plain text).
  A timeout may hide a message the platform did save, so a retry can duplicate an
  alert; for alerting, a duplicate beats a lost message.
* Redirects are not followed.
* Time is bounded, not only per socket read (a response trickled one byte a second
  never trips a per-read timeout): every attempt has a total deadline, ``timeout``
  seconds from its start, checked before every read and write of the connection; and
  the whole send has an optional ``deadline`` (the caller's clock, e.g. the Lambda's
  remaining time minus a margin) that caps attempts and back-off waits alike; and
  ``budget`` seconds, counted from the start of a send, cap it further, so each sink
  gets its own share of the invocation: a hanging Teams cannot eat Slack's time.

Platform differences live in subclasses: :class:`trailwarden.notify.discord.DiscordWebhook`
(``?wait=true``, ``allowed_mentions``, JSON errors and ``retry_after``).

The webhook URL embeds its token, so it is a secret: it never appears in log
records, exception messages or ``repr``.

``authorization`` sends an ``Authorization`` header (scrubbed like the URL; Discord's
bot API uses it) and ``method`` may be ``PATCH``.
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


def _validated_split(url: str, platform: str) -> urllib.parse.SplitResult:
    error = f"{platform} webhook URL must be https:// (http:// only for 127.0.0.1/localhost)"
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


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # includes UnicodeDecodeError
        return None


def _seconds(value: Any) -> float | None:
    """A non-negative number of seconds, or None (an HTTP-date, junk: use our backoff)."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:
        return None
    return None if math.isnan(seconds) else max(seconds, 0.0)


class WebhookTransport:
    """POST JSON payloads to one webhook with bounded, polite retries."""

    platform = "Webhook"  # names the platform in errors and logs (never the URL)

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
        budget: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        method: str = "POST",
        authorization: str | None = None,
    ) -> None:
        """``timeout``: seconds one attempt may take in total (connect, send, the whole
        response). ``deadline``: a ``clock()`` time by which the whole send must end.
        ``budget``: seconds the whole send may take from the moment it starts."""
        parts = _validated_split(url, self.platform)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if method not in ("POST", "PATCH"):
            raise ValueError("method must be POST or PATCH")
        self._url = self._target(parts)
        self._method = method
        self._authorization = authorization
        # Strings to scrub from anything the platform sends back: the URL and its tokens.
        self._secrets = tuple(
            s
            for s in (
                url,
                self._url,
                parts.path,
                self._path_token(parts),
                parts.query,
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
        self._budget = budget
        self._send_deadline = deadline
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
        return f"{type(self).__name__}(host={self._host!r})"

    # --- platform hooks ------------------------------------------------------------

    def _target(self, parts: urllib.parse.SplitResult) -> str:
        """The URL requests go to (the fragment is never sent)."""
        return urllib.parse.urlunsplit(parts._replace(fragment=""))

    def _path_token(self, parts: urllib.parse.SplitResult) -> str:
        """The URL's last path segment (webhook URLs end with their token)."""
        return parts.path.rstrip("/").rpartition("/")[2]

    def _prepare(self, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """The payload as sent (Discord adds ``allowed_mentions``)."""
        return payload

    def _retry_after(self, outcome: _Outcome) -> float | None:
        """Seconds to wait after a 429: the ``Retry-After`` header (delta-seconds)."""
        return _seconds((outcome.headers or {}).get("Retry-After"))

    def _error_detail(self, body: bytes) -> str:
        """A short, printable excerpt of an error body (Slack: ``invalid_payload``...)."""
        try:
            raw = body[:400].decode("utf-8", errors="replace")
        except Exception:  # pragma: no cover - decode with "replace" does not raise
            return ""
        shown = text.truncate(text.plain(raw), 120)
        return f": {shown!r}" if shown else ""

    def _message_id(self, body: bytes) -> str | None:
        return None

    # --- sending -----------------------------------------------------------------

    def post(self, payload: Mapping[str, Any]) -> DeliveryResult:
        """Send ``payload`` (JSON); raise ``NotificationFailed`` on give-up."""
        body = json.dumps(self._prepare(payload), separators=(",", ":")).encode()
        if self._budget is not None:  # this send's own share, from now
            own = self._clock() + self._budget
            self._send_deadline = own if self._deadline is None else min(self._deadline, own)
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
                result = DeliveryResult(status, attempt, self._message_id(outcome.body))
                logger.info(
                    f"{self.platform} message delivered",
                    extra={"status": status, "attempts": attempt, "message_id": result.message_id},
                )
                return result
            if status == 429:
                delay = self._retry_after(outcome)
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
                    f"{self.platform} delivery failed, retrying",
                    extra={"reason": reason, "attempt": attempt, "retry_in_s": round(delay, 3)},
                )
                self._sleep(delay)
        raise self._failure(reason, status, self._max_attempts)

    def _time_left(self, wanted: float) -> float:
        """``wanted`` seconds, or less if the whole send's deadline comes first."""
        if self._send_deadline is None:
            return wanted
        return min(wanted, self._send_deadline - self._clock())

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
        detail = self._scrub(self._error_detail(outcome.body))
        if status == 404:
            return f"webhook not found (HTTP 404{detail}); it was deleted or the URL is wrong"
        if status == 401:
            return f"webhook token rejected (HTTP 401{detail})"
        if status is not None and 300 <= status < 400:
            return f"unexpected redirect (HTTP {status}); redirects are not followed"
        return f"rejected by {self.platform} (HTTP {status}{detail})"

    def _scrub(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, "[redacted]")
        return value

    def _failure(self, reason: str, status: int | None, attempts: int) -> NotificationFailed:
        message = f"{self.platform} webhook delivery failed after {attempts} attempt(s): {reason}"
        logger.error(message, extra={"status": status, "attempts": attempts})
        return NotificationFailed(message)


class SlackWebhook(WebhookTransport):
    """A Slack incoming webhook: 200 ``ok``; errors are plain text (``invalid_payload``,
    ``no_service``, ``channel_is_archived``...); 429 with ``Retry-After``."""

    platform = "Slack"


class TeamsWebhook(WebhookTransport):
    """A Teams Workflows (Power Automate) webhook: 202 Accepted; 429 with ``Retry-After``.
    The URL's query carries its signature (``sig=...``): scrubbed like the path, and its
    value alone too (an error body may quote just the signature)."""

    platform = "Teams"

    def _path_token(self, parts: urllib.parse.SplitResult) -> str:
        # the path ends in ".../paths/invoke": the secret is the query's sig
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        return next((value for key, value in query if key == "sig"), "")
