"""A local stand-in for a Discord webhook, for tests and the demo.

It listens on ``127.0.0.1`` (random port), records every request, and answers
like Discord's Execute Webhook: ``200`` with a message object when the query
has ``wait=true``, else ``204``; ``404 Unknown Webhook`` for any other path.
It also plays a Discord application's bot API under ``/api/v10`` (see
:attr:`DiscordStandIn.api_base_url`): ``POST /channels/{id}/messages`` with ``Authorization:
Bot <bot_token>`` (401 otherwise) creates a message, and ``PATCH
/webhooks/{application}/{interaction token}/messages/@original`` edits one.

The server, its recording and its scripting (``fail_with``, ``hang``, ``program``) are
:class:`~trailwarden_local.webhook_server.WebhookServer`'s. Tests can queue canned
answers (429 with ``retry_after``, 5xx, ...), stall responses to provoke client
timeouts, and trickle a response one byte at a time (each byte well within a per-read
timeout, the whole far beyond any sane one)::

    with DiscordStandIn() as sink:
        sink.respond_with((429, {"retry_after": 0.05, "global": False}, None))
        DiscordWebhook(sink.url).post({"content": "hi"})
        assert len(sink.wait_for(2)) == 2
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trailwarden_local.webhook_server import Response, SinkRequest, WebhookServer

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping

__all__ = ["API_PATH", "DiscordStandIn", "Response", "SinkRequest"]

_DISCORD_EPOCH_MS = 1_420_070_400_000
_CHANNEL_ID = "100000000000000001"
API_PATH = "/api/v10"
_BOT_MESSAGES = re.compile(r"^/api/v10/channels/([0-9]{17,20})/messages$")
_ORIGINAL = re.compile(r"^/api/v10/webhooks/([0-9]{17,20})/[^/]+/messages/@original$")


class DiscordStandIn(WebhookServer):
    """Local HTTP server standing in for one Discord webhook. Thread-safe."""

    name = "discord"
    server_version = "DiscordStandIn/1.0"

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
        super().__init__(path=f"/api/webhooks/{webhook_id}/{token}", tls=tls)
        self.webhook_id = webhook_id
        self.token = token
        self.bot_token = bot_token
        self._ids = itertools.count()

    def start(self) -> DiscordStandIn:
        super().start()
        return self

    def __enter__(self) -> DiscordStandIn:
        return self.start()

    @property
    def api_base_url(self) -> str:
        """The bot API's base (what an application secret's ``api_base_url`` names)."""
        return self.base_url + API_PATH

    # server side ---------------------------------------------------------
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

    def _error_body(self, status: int) -> Mapping[str, Any] | None:
        if status == 429:
            return {"message": "You are being rate limited.", "retry_after": 1.0, "global": False}
        return {"message": f"{status}: error", "code": 0}

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
