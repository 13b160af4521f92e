"""Attacker-controlled text is made inert and messages fit Discord's limits."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from trailwarden.notify.text import (
    ELLIPSIS,
    LIMITS,
    ZWSP,
    clamp_message,
    embeds_length,
    neutralize,
    truncate,
)

# --- neutralize ---------------------------------------------------------------

MENTIONS = [
    ("@everyone", f"@{ZWSP}everyone"),
    ("@here", f"@{ZWSP}here"),
    ("ping @EVERYONE now", f"ping @{ZWSP}EVERYONE now"),
    ("<@&1>", f"<{ZWSP}@&1\\>"),
    ("<@123456789012345678>", f"<{ZWSP}@123456789012345678\\>"),
    ("<@!42>", f"<{ZWSP}@!42\\>"),
    ("<#99>", f"<{ZWSP}\\#99\\>"),
    ("</ban:1>", f"<{ZWSP}/ban:1\\>"),
    ("<t:1700000000:R>", f"<{ZWSP}t:1700000000:R\\>"),
]


@pytest.mark.parametrize(("raw", "expected"), MENTIONS)
def test_mentions_are_broken(raw: str, expected: str) -> None:
    out = neutralize(raw)
    assert out == expected
    assert not re.search(r"@(everyone|here)|<[@#/]|<t:", out, re.IGNORECASE)


def test_email_addresses_are_left_readable() -> None:
    assert neutralize("alice@example.com") == "alice@example.com"


MARKDOWN = [
    ("**bold**", r"\*\*bold\*\*"),
    ("__under__", r"\_\_under\_\_"),
    ("~~strike~~", r"\~\~strike\~\~"),
    ("`code`", r"\`code\`"),
    ("||spoiler||", r"\|\|spoiler\|\|"),
    ("> quote", r"\> quote"),
    ("# Heading", r"\# Heading"),
    ("-# subtext", r"-\# subtext"),
    ("- list item", r"\- list item"),
    ("back\\slash", r"back\\slash"),
    ("a-b i-0abc", "a-b i-0abc"),
]


@pytest.mark.parametrize(("raw", "expected"), MARKDOWN)
def test_markdown_is_escaped(raw: str, expected: str) -> None:
    assert neutralize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "[Reset your MFA](https://evil.example/login)",
        "[https://console.aws.amazon.com](https://evil.example)",
        "see <https://evil.example>",
    ],
)
def test_masked_and_bare_links_are_neutralised(raw: str) -> None:
    out = neutralize(raw)
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", out), "masked link survived"
    assert not re.search(r"(?<!\\)://", out), "bare link would be auto-linked"
    assert "evil.example" in out, "the text itself stays readable"


def test_masked_link_exact_rendering() -> None:
    assert neutralize("[x](https://e.example)") == r"\[x\]\(https\://e.example\)"


CONTROL_AND_SPACE = [
    ("a\x00b\x07c\x1bd", "abcd"),
    ("keep\nnewline", "keep\nnewline"),
    ("crlf\r\nline\rend", "crlf\nline\nend"),
    ("tabs\t\tand     spaces", "tabs and spaces"),
    ("many\n\n\n\n\n\nblank lines", "many\n\nblank lines"),
    ("  padded  \n  lines  ", "padded\nlines"),
    ("evil\u202etxt.exe", "eviltxt.exe"),
    ("\u2066isolate\u2069 \ufeffbom", "isolate bom"),
    ("nbsp\u00a0\u3000wide", "nbsp wide"),
    ("", ""),
]


@pytest.mark.parametrize(("raw", "expected"), CONTROL_AND_SPACE)
def test_control_characters_are_stripped_and_whitespace_collapsed(raw: str, expected: str) -> None:
    assert neutralize(raw) == expected


# --- truncate -----------------------------------------------------------------

TRUNCATE = [
    ("abc", 3, "abc"),
    ("abcd", 3, "ab" + ELLIPSIS),
    ("abc", 1, ELLIPSIS),
    ("abc", 0, ""),
    ("", 0, ""),
    ("x" * 2000, 2000, "x" * 2000),
    ("x" * 2001, 2000, "x" * 1999 + ELLIPSIS),
    ("é" * 257, 256, "é" * 255 + ELLIPSIS),
]


@pytest.mark.parametrize(("raw", "limit", "expected"), TRUNCATE)
def test_truncate_cuts_to_limit_with_ellipsis(raw: str, limit: int, expected: str) -> None:
    out = truncate(raw, limit)
    assert out == expected
    assert len(out) <= limit


# --- clamp_message ------------------------------------------------------------


def test_limits_are_discords_documented_values() -> None:
    assert dict(LIMITS) == {
        "content": 2000,
        "embeds": 10,
        "title": 256,
        "description": 4096,
        "fields": 25,
        "field_name": 256,
        "field_value": 1024,
        "footer_text": 2048,
        "author_name": 256,
        "embeds_total": 6000,
    }


def _embed_with(slot: str, value: str) -> dict[str, Any]:
    if slot == "footer_text":
        return {"footer": {"text": value}}
    if slot == "author_name":
        return {"author": {"name": value}}
    if slot == "field_name":
        return {"fields": [{"name": value, "value": "v"}]}
    if slot == "field_value":
        return {"fields": [{"name": "n", "value": value}]}
    return {slot: value}


def _read(embed: dict[str, Any], slot: str) -> str:
    if slot == "footer_text":
        return str(embed["footer"]["text"])
    if slot == "author_name":
        return str(embed["author"]["name"])
    if slot == "field_name":
        return str(embed["fields"][0]["name"])
    if slot == "field_value":
        return str(embed["fields"][0]["value"])
    return str(embed[slot])


EMBED_SLOTS = ["title", "description", "field_name", "field_value", "footer_text", "author_name"]


@pytest.mark.parametrize("slot", EMBED_SLOTS)
@pytest.mark.parametrize("extra", [0, 1, 5000])
def test_each_embed_text_is_clamped_to_its_limit(slot: str, extra: int) -> None:
    limit = LIMITS[slot]
    message = clamp_message({"embeds": [_embed_with(slot, "y" * (limit + extra))]})
    out = _read(message["embeds"][0], slot)
    assert len(out) == limit
    assert out.endswith(ELLIPSIS) == (extra > 0)


@pytest.mark.parametrize(("length", "expected"), [(2000, 2000), (2001, 2000), (9000, 2000)])
def test_content_is_clamped_to_2000(length: int, expected: int) -> None:
    assert len(clamp_message({"content": "c" * length})["content"]) == expected


def test_eleven_embeds_become_ten() -> None:
    message = clamp_message({"embeds": [{"title": f"e{i}"} for i in range(11)]})
    assert [e["title"] for e in message["embeds"]] == [f"e{i}" for i in range(10)]


def test_more_than_25_fields_are_cut_to_25() -> None:
    fields = [{"name": f"n{i}", "value": "v"} for i in range(30)]
    message = clamp_message({"embeds": [{"fields": fields}]})
    assert [f["name"] for f in message["embeds"][0]["fields"]] == [f"n{i}" for i in range(25)]


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_empty_field_name_or_value_becomes_dash(empty: str | None) -> None:
    message = clamp_message({"embeds": [{"fields": [{"name": empty, "value": empty}, {}]}]})
    assert message["embeds"][0]["fields"] == [
        {"name": "-", "value": "-"},
        {"name": "-", "value": "-"},
    ]


def test_total_is_enforced_by_cutting_descriptions_from_the_last_embed_backwards() -> None:
    embeds = [{"title": f"t{i}", "description": "d" * 4096} for i in range(3)]
    message = clamp_message({"embeds": embeds})
    out = message["embeds"]
    assert embeds_length(out) == 6000
    assert out[0]["description"] == "d" * 4096  # the first embed is kept whole
    assert out[1]["description"].endswith(ELLIPSIS)
    assert "description" not in out[2]  # cut to nothing, so removed (not sent empty)
    assert [e["title"] for e in out] == ["t0", "t1", "t2"]


def test_total_cuts_field_values_once_descriptions_are_gone() -> None:
    embeds = [
        {"title": f"t{i}", "fields": [{"name": "n", "value": "v" * 1024}] * 2} for i in range(5)
    ]
    out = clamp_message({"embeds": embeds})["embeds"]
    assert embeds_length(out) <= 6000
    assert out[0]["fields"][0]["value"] == "v" * 1024
    assert out[-1]["fields"][-1]["value"] == ELLIPSIS
    assert all(f["value"] for e in out for f in e["fields"])


def test_worst_case_message_still_fits_6000_with_no_empty_field() -> None:
    big = {
        "title": "T" * 300,
        "description": "D" * 5000,
        "footer": {"text": "F" * 3000},
        "author": {"name": "A" * 300},
        "fields": [{"name": "N" * 300, "value": "V" * 2000} for _ in range(30)],
    }
    message = clamp_message({"content": "C" * 3000, "embeds": [big] * 11})
    out = message["embeds"]
    assert len(out) == 10
    assert len(message["content"]) == 2000
    assert embeds_length(out) <= 6000
    for embed in out:
        assert len(embed["fields"]) == 25
        assert all(f["name"] and f["value"] for f in embed["fields"])
        for key in ("title", "description"):
            assert embed.get(key, "x") != ""


def test_message_within_limits_is_unchanged_and_input_is_not_mutated() -> None:
    payload: dict[str, Any] = {
        "content": "hello",
        "username": "Trailwarden",
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": "t",
                "description": "d",
                "color": 15158332,
                "fields": [{"name": "n", "value": "v", "inline": True}],
                "footer": {"text": "f"},
                "author": {"name": "a"},
            }
        ],
    }
    before = copy.deepcopy(payload)
    assert clamp_message(payload) == before
    big = {"embeds": [{"description": "d" * 5000}]}
    clamp_message(big)
    assert len(big["embeds"][0]["description"]) == 5000
    assert payload == before
