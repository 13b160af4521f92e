"""Teams: an Adaptive Card where no event string can link, mention, format or hide, under
Teams' ~28 KB; the transport against a local Workflows-like webhook (202, 429, a hang)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from tests.unit.fakes import HOST_NAME_CASES
from tests.unit.test_notify_messages import finding
from tests.unit.test_slack import HIDDEN, HOSTILE, LINK, Sleep
from trailwarden.models.errors import NotificationFailed
from trailwarden.notify import messages, teams
from trailwarden.notify.sinks import Notice
from trailwarden.notify.webhook import TeamsWebhook
from trailwarden_local.chat_standins import TeamsStandIn

if TYPE_CHECKING:
    from collections.abc import Iterator

SIGNATURE = "S1gnatureS3cret"  # the webhook URL's secret part (its sig)
MARKDOWN_HOSTILE = (
    HOSTILE + "\n# Approved\n- item\n1. first\n**bold** <at>Alice</at> &amp; ![i](http://x/i.png)"
)


def notice(reason: str = MARKDOWN_HOSTILE, **changes: Any) -> Notice:
    found = finding(reason=reason, **changes)
    message = messages.detected(found, "en", ZoneInfo("UTC"))
    message = replace(message, links=(("Review and decide", LINK),))
    return Notice(message, found, "raised", "approval")


def card(payload: dict[str, Any]) -> dict[str, Any]:
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachment["content"]
    return content


def shown_texts(content: dict[str, Any]) -> list[str]:
    found = [b["text"] for b in content["body"] if b["type"] == "TextBlock"]
    for block in content["body"]:
        for fact in block.get("facts", []):
            found += [fact["title"], fact["value"]]
    return found


# Markdown specials that may format: every one of these, and "_"/"~" at a word's edge.
_SPECIALS = re.compile(r"[*`\[\]<>&\\{}]|(?<![^\W_])[_~]|[_~](?![^\W_])")


def unescaped(value: str) -> list[str]:
    """Markdown specials left in ``value`` (none may be: look-alikes replace them), but
    for our own defanging brackets ("http[:]//", "evil[.]example"): never before "("."""
    return _SPECIALS.findall(value.replace("[:]//", "").replace("[.]", ""))


def test_no_event_string_can_link_mention_format_or_hide_in_the_card() -> None:
    hostile = notice(
        actor={"type": "IAMUser", "arn": f"arn:aws:iam::1:user/{MARKDOWN_HOSTILE}"},
        resource_id="[x](http://evil.example)",
    )

    payload = teams.teams_payload(hostile)

    content = card(payload)
    rendered = json.dumps(payload, ensure_ascii=False)
    assert "msteams" not in content or "entities" not in content["msteams"]  # nobody mentioned
    for text in shown_texts(content):
        assert unescaped(text) == [], text
        assert "http://evil" not in text and "http://x" not in text  # nothing auto-links
        assert not re.search(r"(?m)^(#|[-+] |\d+\. )", text), text  # no heading, no list
    assert "@everyone" not in rendered
    assert not any(ch in rendered for ch in HIDDEN)


def test_the_card_is_adaptive_card_1_4_with_a_fact_set_and_the_approval_link() -> None:
    content = card(teams.teams_payload(notice()))

    assert content["type"] == "AdaptiveCard"
    assert content["version"] == "1.4"
    title = content["body"][0]
    assert title["type"] == "TextBlock" and title["weight"] == "Bolder"
    (facts,) = [b for b in content["body"] if b["type"] == "FactSet"]
    assert {"title": "Workflow", "value": "ami-exposure"} in facts["facts"]
    assert content["actions"] == [
        {"type": "Action.OpenUrl", "title": "Review and decide", "url": LINK}
    ]


def test_ten_thousand_character_names_keep_the_card_under_teams_size_limit() -> None:
    base = notice()
    long = "\ud55c" * 10_000  # non-ASCII: 6 bytes each as sent (\\uXXXX)
    message = replace(
        base.message,
        title="T" * 10_000,
        summary="[x](http://evil) " * 1_000,
        fields=tuple((f"{long}{i}", f"{long} <b>{i}</b>") for i in range(40)),
        footer="f" * 10_000,
    )

    payload = teams.teams_payload(base._replace(message=message))

    sent = json.dumps(payload, separators=(",", ":")).encode()
    assert len(sent) <= teams.TOTAL_BYTES
    content = card(payload)
    assert content["actions"][0]["url"] == LINK  # the link survives the cuts
    assert len(content["body"][0]["text"]) <= teams.TITLE_LIMIT
    (facts,) = [b for b in content["body"] if b["type"] == "FactSet"]
    assert len(facts["facts"]) == 40


# --- transport ---------------------------------------------------------------------


@pytest.fixture
def hook() -> Iterator[TeamsStandIn]:
    with TeamsStandIn(signature=SIGNATURE) as running:
        yield running


def test_202_accepted_is_a_delivery(hook: TeamsStandIn) -> None:
    sink = teams.TeamsSink(TeamsWebhook(hook.url))

    status = sink.deliver(sink.render(notice()))

    (received,) = hook.requests
    assert status == "sent"
    assert received.json["type"] == "message"
    assert received.query["sig"] == [SIGNATURE]  # the signed query goes to Teams


def test_429_retry_after_is_honoured(hook: TeamsStandIn) -> None:
    hook.respond_with(
        (429, {"error": {"code": "WorkflowTriggeredTooFrequently"}}, {"Retry-After": "1"})
    )
    sleep = Sleep()

    result = TeamsWebhook(hook.url, sleep=sleep).post({"type": "message"})

    assert (result.status, result.attempts) == (202, 2)
    assert sleep.calls == [1.0]


def test_500_is_retried_then_fails_without_the_signature(hook: TeamsStandIn) -> None:
    hook.respond_with(*[(500, "sig=S1gnatureS3cret oops", None)] * 2)

    with pytest.raises(NotificationFailed, match=r"Teams .*2 attempt\(s\).*HTTP 500") as caught:
        TeamsWebhook(hook.url, sleep=Sleep(), max_attempts=2).post({"type": "message"})

    assert "S1gnatureS3cret" not in str(caught.value)
    assert len(hook.requests) == 2


def test_the_signature_value_alone_never_reaches_the_error(hook: TeamsStandIn) -> None:
    hook.respond_with((401, '{"error":{"message":"signature S1gnatureS3cret is invalid"}}', None))

    with pytest.raises(NotificationFailed, match=r"HTTP 401") as caught:
        TeamsWebhook(hook.url, sleep=Sleep(), max_attempts=1).post({"type": "message"})

    assert "S1gnatureS3cret" not in str(caught.value)
    assert "[redacted]" in str(caught.value)


def test_a_hanging_teams_is_cut_at_the_deadline(hook: TeamsStandIn) -> None:
    hook.hang()
    started = time.monotonic()

    with pytest.raises(NotificationFailed, match=r"timeout|deadline") as caught:
        TeamsWebhook(hook.url, timeout=5.0, deadline=started + 0.5, backoff_seconds=0.01).post(
            {"type": "message"}
        )

    assert time.monotonic() - started < 2.0
    assert "S1gnatureS3cret" not in str(caught.value)


def test_teams_text_uses_look_alikes_never_backslash_escapes() -> None:
    raw = "**bold** [x](http://evil.example) <b>&amp; {{DATE(x)}} `c` _it_ ~s~ a\\b snake_case"

    shown = teams.neutralize(raw)

    assert "\\" not in shown  # Teams clients render backslash escapes inconsistently
    assert shown == (
        "\u2217\u2217bold\u2217\u2217 \uff3bx\uff3d(http[:]//evil[.]example) "
        "\uff1cb\uff1e\uff06amp; \uff5b\uff5bDATE(x)\uff5d\uff5d \u02cbc\u02cb "
        "\uff3fit\uff3f \u223cs\u223c a\uff3cb snake_case"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("# Approved", "\uff03 Approved"),
        ("- item", "\u2010 item"),
        ("+ item", "\uff0b item"),
        ("1. first", "1\u2024 first"),
        ("ami-exposure", "ami-exposure"),
    ],
)
def test_line_start_markers_become_look_alikes_and_words_stay(raw: str, expected: str) -> None:
    assert teams.neutralize(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), HOST_NAME_CASES)
def test_bare_host_names_are_defanged_so_teams_cannot_auto_link_them(
    raw: str, expected: str
) -> None:
    assert teams.neutralize(raw) == expected
