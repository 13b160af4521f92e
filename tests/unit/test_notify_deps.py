"""A broken Discord set-up (deleted secret, bad URL) never stops the email."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers._notify_deps import (
    END_MARGIN_SECONDS,
    NotifyDeps,
    UnavailableWebhook,
    send_deadline,
)
from tests.unit.test_notify_messages import finding
from trailwarden.models.settings import NotifySettings
from trailwarden.notify import messages
from trailwarden.notify.service import deliver


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


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_send_deadline_is_the_invocations_remaining_time_minus_a_margin() -> None:
    assert send_deadline(Context(10_000), clock=lambda: 100.0) == 107.0
    assert send_deadline(object()) is None


def test_a_trickling_discord_is_cut_before_the_lambda_would_time_out() -> None:
    import time

    from trailwarden.models.errors import NotificationFailed
    from trailwarden_local.discord_sink import DiscordSink

    with DiscordSink() as sink:
        sink.trickle_next(0.05, count=3)
        deps = NotifyDeps(
            settings=NotifySettings(discord_secret_name="tw"),  # 5 s per attempt, 3 attempts
            sns=Sns(),
            secrets=Secrets(sink.url),  # type: ignore[arg-type]
        )
        context = Context(int((END_MARGIN_SECONDS + 0.5) * 1000))  # 0.5 s left to send
        started = time.monotonic()

        webhook = deps.discord(send_deadline(context))
        assert webhook is not None
        with pytest.raises(NotificationFailed):
            webhook.post({"content": "x" * 300})

        assert time.monotonic() - started < END_MARGIN_SECONDS
