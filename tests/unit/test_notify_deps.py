"""A broken webhook set-up (deleted secret, bad URL) never stops the email; the sinks the
settings choose, in their order."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers._notify_deps import END_MARGIN_SECONDS, NotifyDeps, send_deadline
from tests.unit.fakes import RecordingSns
from tests.unit.test_notify_messages import finding
from trailwarden.models.settings import NotifySettings
from trailwarden.notify import messages
from trailwarden.notify.sinks import Notice, UnavailableSink, deliver_all


class Secrets:
    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self, _name: str, max_age: int) -> Any:
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(RuntimeError("ResourceNotFoundException"), id="secret-deleted"),
        pytest.param("ftp://not-a-webhook", id="not-https"),
        pytest.param('{"url": 5}', id="json-without-a-url"),
    ],
)
@pytest.mark.parametrize(
    ("sink", "setting", "platform"),
    [
        ("discord", "discord_secret_name", "Discord"),
        ("slack", "slack_secret_name", "Slack"),
        ("teams", "teams_secret_name", "Teams"),
    ],
)
def test_broken_webhook_set_up_still_sends_the_email(
    secret: Any, sink: str, setting: str, platform: str
) -> None:
    sns = RecordingSns()
    settings = NotifySettings(topic_arn="arn:aws:sns:us-east-1:1:t", **{setting: "tw"})
    deps = NotifyDeps(settings=settings, sns=sns, secrets=Secrets(secret))  # type: ignore[arg-type]

    email_sink, broken = deps.sinks()
    notice = Notice(messages.detected(finding(), "en", ZoneInfo("UTC")), finding(), "raised", "x")
    delivery = deliver_all(notice, [email_sink, broken])

    assert isinstance(broken, UnavailableSink)
    assert broken.name == sink
    assert delivery["email"] == "sent"
    assert delivery[sink].startswith(f"failed: {platform} webhook unavailable")
    assert "not-a-webhook" not in delivery[sink]
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
    from trailwarden_local.discord_standin import DiscordStandIn

    with DiscordStandIn() as sink:
        sink.trickle_next(0.05, count=3)
        deps = NotifyDeps(
            settings=NotifySettings(discord_secret_name="tw"),  # 5 s per attempt, 3 attempts
            sns=RecordingSns(),
            secrets=Secrets(sink.url),  # type: ignore[arg-type]
        )
        context = Context(int((END_MARGIN_SECONDS + 0.5) * 1000))  # 0.5 s left to send
        started = time.monotonic()

        (webhook,) = deps.sinks(send_deadline(context))
        with pytest.raises(NotificationFailed):
            webhook.deliver({"content": "x" * 300})

        assert time.monotonic() - started < END_MARGIN_SECONDS
