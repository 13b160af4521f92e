"""A broken Discord set-up (deleted secret, bad URL) never stops the email."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers._notify_deps import NotifyDeps, UnavailableWebhook
from tests.unit.test_notify_messages import finding
from trailwarden.notify import messages
from trailwarden.notify.service import deliver
from trailwarden.settings import NotifySettings


class Secrets:
    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self, _name: str, max_age: int) -> Any:
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


class Sns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.published.append(kwargs)
        return {"MessageId": "1"}


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(RuntimeError("ResourceNotFoundException"), id="secret-deleted"),
        pytest.param("ftp://not-a-webhook", id="not-https"),
        pytest.param('{"url": 5}', id="json-without-a-url"),
    ],
)
def test_broken_discord_set_up_still_sends_the_email(secret: Any) -> None:
    sns = Sns()
    deps = NotifyDeps(
        settings=NotifySettings(topic_arn="arn:aws:sns:us-east-1:1:t", discord_secret_name="tw"),
        sns=sns,
        secrets=Secrets(secret),  # type: ignore[arg-type]
    )

    webhook = deps.discord()
    delivery = deliver(
        messages.detected(finding(), "en", ZoneInfo("UTC")),
        sns=sns,
        topic_arn="arn:t",
        discord=webhook,
    )

    assert isinstance(webhook, UnavailableWebhook)
    assert delivery.email == "sent"
    assert delivery.discord.startswith("failed: Discord webhook unavailable")
    assert "not-a-webhook" not in delivery.discord
    assert len(sns.published) == 1
