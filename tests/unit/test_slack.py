"""Slack: a Block Kit message where no event string can ping, link, format or hide, within
Block Kit's limits; the transport against a local webhook (429, 500, a hang)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from tests.unit.fakes import HOST_NAME_CASES
from tests.unit.test_notify_messages import finding
from trailwarden.models.errors import NotificationFailed
from trailwarden.notify import messages, slack
from trailwarden.notify.sinks import Notice
from trailwarden.notify.webhook import DEFAULT_USER_AGENT, SlackWebhook
from trailwarden_local.chat_standins import SlackStandIn

if TYPE_CHECKING:
    from collections.abc import Iterator

LINK = "https://abc.execute-api.us-east-1.amazonaws.com/approvals/Zm9vYmFyYmF6"
HOSTILE = (
    "<!channel> <!here> <@U0123> <!subteam^S1> @everyone @channel "
    "[x](http://evil.example) <http://evil.example|click> *urgent* _approve_ ~no~ `rm` "
    "a\u200bb\u200c\u2060 \u202egnp.exe\u202c \u2066iso\u2069 \ufeff"
)
HIDDEN = ("\u200b", "\u200c", "\u2060", "\u202e", "\u202c", "\u2066", "\u2069", "\ufeff")


def notice(*, reason: str = HOSTILE, links: bool = True, **changes: Any) -> Notice:
    found = finding(reason=reason, **changes)
    message = messages.detected(found, "en", ZoneInfo("UTC"))
    if links:
        message = replace(message, links=(("Review and decide", LINK),))
    return Notice(message, found, "raised", "approval")


def texts(payload: dict[str, Any]) -> list[str]:
    """Every string Slack will read as mrkdwn or show as text."""
    found: list[str] = [payload["text"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload["blocks"])
    return found


def hostile_notice() -> Notice:
    return notice(
        actor={
            "type": "IAMUser",
            "arn": f"arn:aws:iam::123456789012:user/{HOSTILE}",
            "sourceIp": "<!here>",
            "userAgent": "[click](http://evil.example)",
        },
        resource_id="ami-0a1b2c3d4e5f60718 <@U0123>",
    )


# --- neutralising ----------------------------------------------------------------


def test_no_event_string_can_mention_link_or_hide_in_the_slack_message() -> None:
    payload = slack.slack_payload(hostile_notice())

    rendered = json.dumps(payload, ensure_ascii=False)
    for token in ("<!channel>", "<!here>", "<@U0123>", "<!subteam", "<http://evil.example|click>"):
        assert token not in rendered
    for word in ("@everyone", "@channel", "@here"):
        assert word not in rendered
    assert "http://evil.example" not in rendered  # defanged: nothing auto-links
    assert not any(ch in rendered for ch in HIDDEN)
    for text in texts(payload):
        stripped = text.replace(f"<{LINK}|Review and decide>", "")
        assert "<" not in stripped and ">" not in stripped, text
    assert "&lt;!channel&gt;" in rendered  # still readable, as text


def test_formatting_markers_at_a_words_edge_are_defused_but_snake_case_stays() -> None:
    shown = slack.neutralize("*urgent* _approve_ ~no~ `rm` ```code``` svc_reporting_job a*b x`y`z")

    assert "svc_reporting_job" in shown and "a*b" in shown
    for marked in ("*urgent*", "_approve_", "~no~", "`rm`", "```"):
        assert marked not in shown
    assert "`" not in shown
    assert "urgent" in shown and "approve" in shown


def test_a_value_cannot_start_a_quote_or_pass_for_a_line_of_our_own() -> None:
    shown = slack.neutralize("ok\n> Decision: approved\nDecision: approved")

    assert "\n>" not in shown and "\n&gt;" not in shown
    assert "\nDecision" not in shown  # continuation lines are marked


def test_previews_are_off_and_the_fallback_text_is_neutralised_too() -> None:
    payload = slack.slack_payload(hostile_notice())

    assert payload["unfurl_links"] is False
    assert payload["unfurl_media"] is False
    assert "<!channel>" not in payload["text"]
    assert len(payload["text"]) <= slack.FALLBACK_LIMIT


# --- limits --------------------------------------------------------------------------


def huge_notice(fields: int = 60) -> Notice:
    base = notice()
    long = "n" * 10_000
    message = replace(
        base.message,
        title="T" * 10_000,
        summary="<!channel> " * 1_000,
        fields=tuple((f"{long} {i}", f"{long} &<> {i}") for i in range(fields)),
        footer="f" * 10_000,
        links=(("R" * 500, LINK),),
    )
    return base._replace(message=message)


def test_ten_thousand_character_names_stay_within_block_kits_limits() -> None:
    payload = slack.slack_payload(huge_notice())

    blocks = payload["blocks"]
    assert len(blocks) <= slack.BLOCKS_LIMIT
    assert len(blocks[0]["text"]["text"]) <= slack.HEADER_LIMIT
    for block in blocks:
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= slack.SECTION_TEXT_LIMIT
            assert len(block.get("fields", [])) <= slack.FIELDS_PER_SECTION
            for field in block.get("fields", []):
                assert len(field["text"]) <= slack.FIELD_TEXT_LIMIT
        if block["type"] == "context":
            assert len(block["elements"]) <= slack.CONTEXT_ELEMENTS_LIMIT
            assert all(len(e["text"]) <= slack.SECTION_TEXT_LIMIT for e in block["elements"])
    body = [b.get("text", {}).get("text", "") for b in blocks[1:] if b["type"] == "section"]
    body += [f["text"] for b in blocks for f in b.get("fields", [])]
    assert sum(map(len, body)) <= slack.TOTAL_LIMIT + slack.SECTION_TEXT_LIMIT  # + the link
    assert "<!channel>" not in json.dumps(payload)


def test_the_approval_link_survives_a_crowded_message_as_a_button_and_a_link() -> None:
    payload = slack.slack_payload(huge_notice())

    (link,) = [b for b in payload["blocks"] if "accessory" in b]
    button = link["accessory"]
    assert button["type"] == "button"
    assert button["url"] == LINK
    assert len(button["text"]["text"]) <= slack.BUTTON_TEXT_LIMIT
    assert f"<{LINK}|" in link["text"]["text"]


def test_a_link_slack_would_refuse_is_left_out_rather_than_break_the_message() -> None:
    base = notice()
    message = replace(base.message, links=(("Review", "https://x.example/" + "a" * 3000),))

    payload = slack.slack_payload(base._replace(message=message))

    assert not any("accessory" in b for b in payload["blocks"])


def test_fields_fill_sections_of_at_most_ten() -> None:
    base = notice(links=False)
    message = replace(base.message, fields=tuple((f"n{i}", f"v{i}") for i in range(23)))

    payload = slack.slack_payload(base._replace(message=message))

    sections = [b["fields"] for b in payload["blocks"] if "fields" in b]
    assert [len(s) for s in sections] == [10, 10, 3]
    assert sections[0][0] == {"type": "mrkdwn", "text": "*n0*\nv0"}


# --- transport ---------------------------------------------------------------------


@pytest.fixture
def hook() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        yield running


class Sleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_a_slack_message_is_posted_with_an_explicit_user_agent(hook: SlackStandIn) -> None:
    sink = slack.SlackSink(SlackWebhook(hook.url))

    status = sink.deliver(sink.render(notice()))

    (received,) = hook.requests
    assert status == "sent"
    assert received.headers["user-agent"] == DEFAULT_USER_AGENT
    assert received.headers["content-type"] == "application/json"
    assert received.json["blocks"][0]["type"] == "header"


def test_429_retry_after_header_is_honoured(hook: SlackStandIn) -> None:
    hook.respond_with((429, "rate_limited", {"Retry-After": "2"}))
    sleep = Sleep()

    result = SlackWebhook(hook.url, sleep=sleep, backoff_seconds=0.0).post({"text": "x"})

    assert result.attempts == 2
    assert sleep.calls == [2.0]
    assert len(hook.requests) == 2


def test_a_retry_after_longer_than_the_budget_is_not_waited_for(hook: SlackStandIn) -> None:
    hook.respond_with((429, "rate_limited", {"Retry-After": "5"}))
    sleep = Sleep()

    with pytest.raises(NotificationFailed, match="no time left"):
        SlackWebhook(hook.url, sleep=sleep, budget=1.0).post({"text": "x"})

    assert sleep.calls == []
    assert len(hook.requests) == 1


def test_500_is_retried_then_fails(hook: SlackStandIn) -> None:
    hook.respond_with(*[(500, "internal error", None)] * 3)
    sleep = Sleep()

    with pytest.raises(NotificationFailed, match=r"Slack .*3 attempt\(s\).*HTTP 500"):
        SlackWebhook(hook.url, sleep=sleep, max_attempts=3, backoff_seconds=0.01).post(
            {"text": "x"}
        )

    assert len(hook.requests) == 3
    assert len(sleep.calls) == 2


def test_invalid_payload_is_final_and_says_why(hook: SlackStandIn) -> None:
    hook.respond_with((400, "invalid_payload", None))

    with pytest.raises(NotificationFailed, match="invalid_payload") as caught:
        SlackWebhook(hook.url, sleep=Sleep()).post({"text": "x"})

    assert "HTTP 400" in str(caught.value)
    assert len(hook.requests) == 1


def test_a_hanging_slack_is_cut_at_its_budget(hook: SlackStandIn) -> None:
    hook.hang()
    started = time.monotonic()

    with pytest.raises(NotificationFailed, match=r"timeout|deadline"):
        SlackWebhook(hook.url, timeout=5.0, budget=0.6, backoff_seconds=0.01).post({"text": "x"})

    assert time.monotonic() - started < 2.0


def test_the_webhook_url_never_reaches_logs_or_errors(
    hook: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = hook.path.rsplit("/", 1)[1]
    hook.respond_with((404, f"no_service {hook.url} {token}", None))
    transport = SlackWebhook(hook.url, sleep=Sleep())

    with pytest.raises(NotificationFailed) as caught:
        transport.post({"text": "x"})

    shown = [str(caught.value), repr(caught.value), repr(transport), caplog.text]
    shown += [repr(vars(r)) for r in caplog.records]
    assert caplog.records
    for text in shown:
        assert token not in text
        assert hook.path not in text


@pytest.mark.parametrize(("raw", "expected"), HOST_NAME_CASES)
def test_bare_host_names_are_defanged_so_slack_cannot_auto_link_them(
    raw: str, expected: str
) -> None:
    assert slack.neutralize(raw) == expected
