"""Deliver one message to a Discord webhook (Execute Webhook) through the shared
:class:`~trailwarden.notify.webhook.WebhookTransport`.

Discord's own behaviour (developer docs):

* ``POST {webhook_url}?wait=true`` so Discord confirms the message was saved
  and returns it (its ``id`` ends up in :class:`DeliveryResult`).
* ``allowed_mentions = {"parse": []}`` is always sent: alert text quotes
  attacker-controlled strings and must never ping anyone; the payload is clamped to
  Discord's limits once more.
* 429: ``retry_after`` seconds from the JSON body, else the ``Retry-After`` header.
* Errors are JSON ``{"code", "message"}`` (10015: unknown webhook).

The same transport also speaks to Discord's bot API (approvals in Discord, see
:mod:`trailwarden.approvals.discord_app`): ``authorization`` sends ``Authorization:
Bot <token>`` (scrubbed like the URL), ``method`` may be ``PATCH`` (editing the
interaction's original message) and ``wait=False`` leaves the query alone.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from trailwarden.notify import text
from trailwarden.notify.webhook import (
    DEFAULT_USER_AGENT,
    DeliveryResult,
    WebhookTransport,
    _json,
    _Outcome,
    _seconds,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["DEFAULT_USER_AGENT", "DeliveryResult", "DiscordWebhook"]


def _with_wait(parts: urllib.parse.SplitResult) -> str:
    query = [
        (k, v)
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if k != "wait"
    ]
    query.append(("wait", "true"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query), fragment=""))


class DiscordWebhook(WebhookTransport):
    """POST messages to one Discord webhook with bounded, polite retries."""

    platform = "Discord"

    def __init__(self, url: str, *, wait: bool = True, **kwargs: Any) -> None:
        self._wait = wait
        super().__init__(url, **kwargs)

    def _target(self, parts: urllib.parse.SplitResult) -> str:
        return _with_wait(parts) if self._wait else super()._target(parts)

    def _path_token(self, parts: urllib.parse.SplitResult) -> str:
        return super()._path_token(parts) if self._wait else ""  # the webhook token

    def _prepare(self, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        return text.clamp_message({**payload, "allowed_mentions": {"parse": []}})

    def _retry_after(self, outcome: _Outcome) -> float | None:
        data = _json(outcome.body)
        value = data.get("retry_after") if isinstance(data, dict) else None
        seconds = _seconds(value) if isinstance(value, int | float) else None
        return seconds if seconds is not None else super()._retry_after(outcome)

    def _error_detail(self, body: bytes) -> str:
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

    def _message_id(self, body: bytes) -> str | None:
        data = _json(body)
        mid = data.get("id") if isinstance(data, dict) else None
        return None if mid is None else str(mid)
