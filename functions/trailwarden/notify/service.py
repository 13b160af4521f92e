"""What every function that notifies shares: its IAM actions, the webhook protocol and
reading a webhook URL from its secret. Delivery itself is :mod:`trailwarden.notify.sinks`
(``deliver_all`` over the sinks the settings choose)."""

from __future__ import annotations

import json
from typing import Any, Protocol

from trailwarden.models.errors import NotificationFailed

# Secrets Manager only when a webhook secret is configured (the template grants it under
# the same condition).
NOTIFY_ACTIONS = frozenset({"sns:Publish", "secretsmanager:GetSecretValue"})


class Webhook(Protocol):
    def post(self, payload: dict[str, Any]) -> Any: ...


def webhook_url_from_secret(secret: str, platform: str) -> str:
    """The secret holds the webhook URL, plain or as JSON ``{"url": ...}`` (Discord, Slack
    and Teams alike). The error names the platform, never the secret's content."""
    text = secret.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        value = parsed.get("url", "") if isinstance(parsed, dict) else ""
        text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise NotificationFailed(f"the {platform} webhook secret holds no URL")
    return text
