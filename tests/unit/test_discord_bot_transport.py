"""The Discord transport speaking to the bot API: Bot authorization, PATCH, no ?wait."""

from __future__ import annotations

import pytest

from trailwarden.models.errors import NotificationFailed
from trailwarden.notify.discord import DiscordWebhook
from trailwarden_local.discord_standin import DiscordStandIn

CHANNEL = "100000000000000001"


def test_bot_message_is_posted_with_the_bot_token_and_a_user_agent_without_wait() -> None:
    with DiscordStandIn(bot_token="b0t-t0ken") as sink:
        bot = DiscordWebhook(
            f"{sink.api_base_url}/channels/{CHANNEL}/messages",
            authorization="Bot b0t-t0ken",
            wait=False,
        )

        result = bot.post({"content": "@everyone approve?", "components": []})

        (request,) = sink.requests
        assert result.status == 200 and result.message_id
        assert request.headers["authorization"] == "Bot b0t-t0ken"
        assert request.headers["user-agent"].startswith("trailwarden")
        assert request.query == {}
        assert request.json["allowed_mentions"] == {"parse": []}


def test_bot_429_is_waited_out_like_the_webhooks() -> None:
    with DiscordStandIn(bot_token="b0t-t0ken") as sink:
        sink.respond_with((429, {"retry_after": 0.01, "global": False}, None))
        bot = DiscordWebhook(
            f"{sink.api_base_url}/channels/{CHANNEL}/messages",
            authorization="Bot b0t-t0ken",
            wait=False,
            sleep=lambda _s: None,
        )

        assert bot.post({"content": "x"}).attempts == 2


def test_a_refused_bot_token_never_appears_in_the_error() -> None:
    with DiscordStandIn(bot_token="right") as sink:
        sink.respond_with((401, {"message": "401: Unauthorized Bot wr0ng-t0ken", "code": 0}, None))
        bot = DiscordWebhook(
            f"{sink.api_base_url}/channels/{CHANNEL}/messages",
            authorization="Bot wr0ng-t0ken",
            wait=False,
        )

        with pytest.raises(NotificationFailed) as failure:
            bot.post({"content": "x"})

        assert "wr0ng-t0ken" not in str(failure.value)


def test_original_message_is_edited_with_patch() -> None:
    with DiscordStandIn() as sink:
        url = f"{sink.api_base_url}/webhooks/500000000000000005/itoken/messages/@original"

        DiscordWebhook(url, method="PATCH", wait=False).post(
            {"content": "Approved", "components": []}
        )

        (request,) = sink.requests
        assert (request.method, request.json["components"]) == ("PATCH", [])
