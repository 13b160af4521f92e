"""Slack and Teams render within their sink's ``limits``: 600 fields still make a message
the platform takes (Slack at most 50 blocks, Teams under its byte budget), with the
approval link and a note of how many fields were left out."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from tests.unit.test_slack import LINK, notice
from trailwarden.notify import slack, teams
from trailwarden.notify.sinks import Limits, Notice


def many(count: int = 600, name: str = "field {i}", value: str = "v{i}") -> Notice:
    base = notice()
    fields = tuple((name.format(i=i), value.format(i=i)) for i in range(count))
    return base._replace(message=replace(base.message, fields=fields))


def size(payload: Any) -> int:
    return len(json.dumps(payload, separators=(",", ":")).encode())


def all_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in all_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in all_strings(v)]
    return [node] if isinstance(node, str) else []


def test_600_fields_in_slack_stay_within_50_blocks_with_the_link_and_a_note() -> None:
    sink = slack.SlackSink(webhook=None)  # type: ignore[arg-type]

    payload = sink.render(many())

    assert len(payload["blocks"]) <= slack.BLOCKS_LIMIT
    strings = all_strings(payload)
    assert LINK in strings
    shown = sum(len(b.get("fields", [])) for b in payload["blocks"])
    assert f"{600 - shown} more fields not shown" in strings


def test_600_fields_in_teams_stay_within_the_byte_budget_with_the_link_and_a_note() -> None:
    sink = teams.TeamsSink(webhook=None)  # type: ignore[arg-type]

    for notice_ in (many(), many(name="A rather long field name {i}", value="\ud55c" * 40)):
        payload = sink.render(notice_)

        assert size(payload) <= teams.TOTAL_BYTES
        content = payload["attachments"][0]["content"]
        assert content["actions"][0]["url"] == LINK
        (facts,) = [b for b in content["body"] if b["type"] == "FactSet"]
        assert f"{600 - len(facts['facts'])} more fields not shown" in all_strings(content)


def test_teams_renders_within_the_sinks_own_limits() -> None:
    sink = teams.TeamsSink(webhook=None)  # type: ignore[arg-type]
    sink.limits = Limits(title=10, text=5, fields=3, total=6000)

    payload = sink.render(many(20, value="0123456789{i}"))

    content = payload["attachments"][0]["content"]
    (facts,) = [b for b in content["body"] if b["type"] == "FactSet"]
    assert len(facts["facts"]) == 3
    assert all(len(f["value"]) <= 5 for f in facts["facts"])
    assert len(content["body"][0]["text"]) <= 10
    assert size(payload) <= 6000
    assert "17 more fields not shown" in all_strings(content)


def test_slack_renders_within_the_sinks_own_limits() -> None:
    sink = slack.SlackSink(webhook=None)  # type: ignore[arg-type]
    sink.limits = Limits(title=10, text=5, fields=3, total=1000)

    payload = sink.render(many(20, value="0123456789{i}"))

    fields = [f for b in payload["blocks"] for f in b.get("fields", [])]
    assert len(fields) == 3
    assert all(len(f["text"].split("\n", 1)[1]) <= 5 for f in fields)
    assert len(payload["blocks"][0]["text"]["text"]) <= 10
    assert "17 more fields not shown" in all_strings(payload)
