"""Discord's embed: the approval link is never the text cut to fit 6,000 characters, and
no event string can mention, link, format or hide (the hostile strings the Slack and
Teams tests use)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from tests.unit.test_slack import HIDDEN, HOSTILE, LINK, notice
from trailwarden.notify import text
from trailwarden.notify.embeds import discord_payload
from trailwarden.notify.text import clamp_message, embeds_length


def crowded(count: int = 6, length: int = 1024) -> Any:
    base = notice()
    fields = tuple((f"field {i}", chr(ord("a") + i) * length) for i in range(count))
    return replace(base.message, fields=fields)


def link_values(payload: dict[str, Any]) -> list[str]:
    return [f["value"] for e in payload["embeds"] for f in e["fields"] if f["value"] == LINK]


def test_the_approval_link_survives_an_embed_over_6000_characters() -> None:
    message = crowded()  # 6 fields of 1,024: over the total once the link is added
    message = replace(message, summary="s" * 4096)

    payload = discord_payload(message)

    assert link_values(payload) == [LINK]
    assert embeds_length(payload["embeds"]) <= text.LIMITS["embeds_total"]
    event_values = [f["value"] for f in payload["embeds"][0]["fields"] if f["value"] != LINK]
    assert any(v.endswith(text.ELLIPSIS) for v in event_values)  # event text cut instead


def test_the_transport_clamp_never_cuts_the_link_either() -> None:
    embed = {
        "title": "t",
        "fields": [{"name": f"f{i}", "value": "v" * 1024} for i in range(6)]
        + [{"name": "Review and decide", "value": LINK}],
    }

    clamped = clamp_message({"embeds": [embed]})

    assert clamped["embeds"][0]["fields"][-1]["value"] == LINK
    assert embeds_length(clamped["embeds"]) <= text.LIMITS["embeds_total"]


def test_an_event_value_cannot_pass_for_our_link_to_escape_the_cut() -> None:
    message = replace(crowded(), fields=(("x", "https://evil.example/" + "a" * 6000),))

    payload = discord_payload(message)
    values = [f["value"] for f in payload["embeds"][0]["fields"]]

    assert values[0].endswith(text.ELLIPSIS)  # neutralised (https\://), so cut
    assert values[-1] == LINK


def all_text(payload: dict[str, Any]) -> str:
    embed = payload["embeds"][0]
    parts = [embed.get("title", ""), embed.get("description", ""), embed["footer"]["text"]]
    parts += [f["name"] + "\n" + f["value"] for f in embed["fields"] if f["value"] != LINK]
    return "\n".join(parts)


def test_no_event_string_can_mention_link_format_or_hide_in_the_discord_embed() -> None:
    found = notice(reason=HOSTILE)
    message = replace(
        found.message, title=HOSTILE, fields=((HOSTILE, HOSTILE), *found.message.fields)
    )
    shown = all_text(discord_payload(message))

    for hidden in ("\u200c", "\u200d", "\u2060", "\u00ad", *HIDDEN[3:]):
        assert hidden not in shown, repr(hidden)
    assert "@everyone" not in shown
    assert "@\u200beveryone" in shown  # broken by our own zero-width space, on purpose
    assert "<@" not in shown  # <@U0123> broken with a zero-width space
    assert "<!channel>" not in shown  # "<!channel\\>": Discord has no such mention anyway
    assert "[x](http" not in shown
    assert "http://" not in shown
    assert "*urgent*" not in shown
    assert "\u202e" not in shown


def test_zero_width_characters_cannot_smuggle_a_mention_past_the_breaker() -> None:
    raw = "@\u200deveryone @\u2060here a\u00adb c\u200bd \u200cx"

    shown = text.neutralize(raw)

    assert shown == "@\u200beveryone @\u200bhere ab cd x"


def test_a_10000_character_name_keeps_the_embed_within_discords_limits() -> None:
    long = "n" * 10_000
    found = notice(reason=long)
    message = replace(found.message, title=long, fields=((long, long), *found.message.fields))

    payload = discord_payload(message)

    embed = payload["embeds"][0]
    assert len(embed["title"]) <= text.LIMITS["title"]
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in embed["fields"])
    assert embeds_length(payload["embeds"]) <= text.LIMITS["embeds_total"]
    assert link_values(payload) == [LINK]
    json.dumps(payload)
