"""The local Slack and Teams stand-ins answer like the platforms, record per platform,
and fail on demand (429 with Retry-After, 5xx, hang past the client's timeout)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import pytest

from trailwarden_local.chat_standins import SlackStandIn, TeamsStandIn
from trailwarden_local.discord_standin import DiscordStandIn

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        yield running


@pytest.fixture
def teams() -> Iterator[TeamsStandIn]:
    with TeamsStandIn() as running:
        yield running


def post(url: str, body: object, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_slack_answers_200_ok_as_text_and_records_the_block_kit_body(slack: SlackStandIn) -> None:
    body = {"text": "fallback", "blocks": [{"type": "header", "text": {"type": "plain_text"}}]}

    status, headers, answer = post(slack.url, body)

    assert (status, answer) == (200, b"ok")
    assert headers["Content-Type"].startswith("text/plain")
    (received,) = slack.requests
    assert received.json == body
    assert received.path.startswith("/services/")
    assert slack.answers == [200]


def test_slack_refuses_a_body_without_text_or_blocks_and_an_unknown_path(
    slack: SlackStandIn,
) -> None:
    assert post(slack.url, {"attachments": []})[::2] == (400, b"no_text")
    assert post(slack.url, b"not json")[::2] == (400, b"invalid_payload")
    assert post(slack.base_url + "/services/T0/B0/wrong", {"text": "x"})[::2] == (
        404,
        b"no_service",
    )


def test_teams_answers_202_with_no_body_and_needs_the_signature(teams: TeamsStandIn) -> None:
    card = {"type": "message", "attachments": [{"contentType": "x", "content": {}}]}

    accepted = post(teams.url, card)
    unsigned = post(teams.url.split("?")[0], card)

    assert accepted[::2] == (202, b"")
    assert unsigned[0] == 401
    assert teams.answers == [202, 401]
    assert [r.json for r in teams.requests] == [card, card]


@pytest.mark.parametrize(
    "make", [SlackStandIn, TeamsStandIn, DiscordStandIn], ids=lambda c: c.__name__
)
def test_429_carries_retry_after_until_the_sink_recovers(make: type[SlackStandIn]) -> None:
    with make() as sink:
        sink.fail_with(429, retry_after=0.5)

        limited = post(sink.url, {"text": "x", "content": "x"})
        again = post(sink.url, {"text": "x", "content": "x"})
        sink.recover()
        fine = post(sink.url, {"text": "x", "content": "x"})

        assert limited[0] == again[0] == 429
        assert limited[1]["Retry-After"] == "0.5"
        assert fine[0] in (200, 202, 204)
        assert sink.answers == [429, 429, fine[0]]


@pytest.mark.parametrize("make", [SlackStandIn, TeamsStandIn], ids=lambda c: c.__name__)
def test_program_500_answers_every_request_with_a_server_error(make: type[SlackStandIn]) -> None:
    with make() as sink:
        sink.program(500)

        statuses = [post(sink.url, {"text": "x"})[0] for _ in range(3)]

        assert statuses == [500, 500, 500]
        assert sink.answers == [500, 500, 500]


@pytest.mark.parametrize("make", [SlackStandIn, TeamsStandIn], ids=lambda c: c.__name__)
def test_a_hung_sink_records_the_request_and_the_client_times_out(make: type[SlackStandIn]) -> None:
    with make() as sink:
        sink.program("hang")

        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            post(sink.url, {"text": "x"}, timeout=0.2)

        sink.wait_for(1)
        assert sink.answers == [None]
        sink.program(None)  # released: the next request is answered again
        assert post(sink.url, {"text": "x"})[0] in (200, 202)


def test_each_platform_records_only_its_own_requests(
    slack: SlackStandIn, teams: TeamsStandIn
) -> None:
    post(slack.url, {"text": "to slack"})

    assert len(slack.requests) == 1
    assert teams.requests == []
