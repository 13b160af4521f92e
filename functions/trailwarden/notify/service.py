"""Deliver a Message by email (SNS) and Discord. Discord failing never blocks email."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from trailwarden.models.errors import NotificationFailed

if TYPE_CHECKING:
    from collections.abc import Sequence

    from trailwarden.notify.messages import Message

logger = Logger(child=True)

NOTIFY_ACTIONS = frozenset({"sns:Publish", "secretsmanager:GetSecretValue"})


class Webhook(Protocol):
    def post(self, payload: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Delivery:
    email: str
    discord: str

    def to_dict(self) -> dict[str, str]:
        return {"email": self.email, "discord": self.discord}


def webhook_url_from_secret(secret: str) -> str:
    """The secret holds the webhook URL, plain or as JSON ``{"url": ...}``."""
    text = secret.strip()
    if text.startswith("{"):
        value = json.loads(text).get("url", "")
        text = value if isinstance(value, str) else ""
    if not text:
        raise NotificationFailed("the Discord webhook secret holds no URL")
    return text


def deliver(
    message: Message,
    *,
    sns: Any,
    topic_arn: str,
    discord: Webhook | None,
    warnings: Sequence[str] = (),
) -> Delivery:
    """Send both; raise NotificationFailed only when no channel delivered.

    ``warnings`` (the settings' careless entries) are added to the message here, once
    for every kind of message and both channels."""
    # Here, not at import: the backstop imports NOTIFY_ACTIONS and delivers only on a finding.
    from trailwarden.notify import email
    from trailwarden.notify.embeds import discord_payload
    from trailwarden.notify.messages import with_settings_warnings

    message = with_settings_warnings(message, warnings)
    email_status = "not configured"
    if topic_arn:
        try:
            sns.publish(
                TopicArn=topic_arn, Subject=email.subject(message), Message=email.body(message)
            )
            email_status = "sent"
        except (ClientError, BotoCoreError) as err:
            email_status = f"failed: {type(err).__name__}"
            logger.error("email publish failed", extra={"error": type(err).__name__})
    discord_status = "not configured"
    if discord is not None:
        try:
            discord.post(discord_payload(message))
            discord_status = "sent"
        except NotificationFailed as err:
            discord_status = f"failed: {err}"
            logger.warning("discord delivery failed", extra={"error": str(err)})
    if "sent" not in (email_status, discord_status):
        raise NotificationFailed(
            f"no channel delivered (email {email_status}, discord {discord_status})"
        )
    return Delivery(email_status, discord_status)
