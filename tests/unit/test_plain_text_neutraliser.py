"""Email and approval page: hostile strings from the event come out plain and inert.

Both go through one neutraliser (notify/text.py ``plain_lines``): no bidi, zero-width,
control or filler characters survive, and an injected line ("\\nDecision : approved")
stays visibly part of the value it came in.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from trailwarden.approvals import page
from trailwarden.approvals.request import approval_message, page_summary
from trailwarden.models.findings import Finding, Severity, Verdict
from trailwarden.notify import email, text

SEOUL = ZoneInfo("Asia/Seoul")
INJECTED = "\nDecision : approved\nApproved by : security-lead"
INVISIBLE = [
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u202a",
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u2069",
    "\u200e",  # LRM
    "\u061c",  # ARABIC LETTER MARK
    "\u200b",  # ZERO WIDTH SPACE
    "\u200c",
    "\u200d",
    "\u2060",  # WORD JOINER
    "\ufeff",  # BOM
    "\u00ad",  # SOFT HYPHEN
    "\u180e",
    "\U000e0041",  # TAG LATIN CAPITAL LETTER A
    "\u3164",  # HANGUL FILLER
    "\x1b[31m",  # ANSI escape (the ESC is dropped; "[31m" stays visible)
    "\x00",
    "\x7f",
    "\x85",  # NEL: a line break
    "\u2028",
    "\ue000",  # private use
]


def hostile(value: str) -> str:
    return "".join(INVISIBLE) + value + INJECTED


def finding(**changes: Any) -> Finding:
    base: dict[str, Any] = {
        "workflow": "waf-protected-ip",
        "event_id": "e4f7a2b1-6666-4c2d-9e3f-000000000601",
        "event_name": "UpdateIPSet",
        "event_time": "2026-11-24T14:35:10Z",
        "region": "us-east-1",
        "account": "123456789012",
        "verdict": Verdict.APPROVAL,
        "severity": Severity.CRITICAL,
        "reason": hostile("minsu.kim changed WAF IP set gpj.exe"),
        "resource_type": "AWS::WAFv2::IPSet",
        "resource_id": "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/blocklist/abc",
        "actor": {
            "type": "AssumedRole",
            "arn": hostile("arn:aws:sts::123456789012:assumed-role/x/minsu"),
            "sourceIp": "198.51.100.7",
            "userAgent": hostile("curl/8"),
        },
        "facts": {"ipSetName": hostile("blocklist")},
    }
    base.update(changes)
    return Finding(**base)


def _invisible_in(rendered: str) -> list[str]:
    return [
        f"U+{ord(ch):04X}"
        for ch in rendered
        if (ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn"))
        or ch in "\u3164\u115f\u1160\uffa0"
    ]


def _lines_posing_as_fields(rendered: str) -> list[str]:
    """Lines that begin (after indentation) with an injected "Label : value"."""
    return [
        line for line in rendered.splitlines() if re.match(r"^\s*(Decision|Approved by)\s*:", line)
    ]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_email_drops_invisible_characters_and_marks_injected_lines(lang: str) -> None:
    message = approval_message(finding(), "https://x/approvals/abc", 1795534512, lang, SEOUL)

    body = email.body(message)

    assert _invisible_in(body) == []
    assert _lines_posing_as_fields(body) == []
    assert f"{text.CONTINUATION}Decision : approved" in body
    assert "minsu.kim changed WAF IP set gpj.exe" in body  # the text itself stays readable


def test_approval_page_drops_invisible_characters_and_marks_injected_lines() -> None:
    message = approval_message(finding(), "https://x/approvals/abc", 1795534512, "en", SEOUL)

    confirmation = page.confirmation(page_summary(message), "n" * 43, 1795534512, "en", SEOUL)
    body = confirmation.body

    assert _invisible_in(body) == []
    cells = re.findall(r"<td>(.*?)</td>", body, re.DOTALL)
    assert any(f"{text.CONTINUATION}Decision : approved" in cell for cell in cells)
    for cell in cells:  # every injected line inside a cell is marked as a continuation
        assert all(line.startswith(text.CONTINUATION) for line in cell.split("\n")[1:])
    title = re.search(r"<h1>(.*?)</h1>", body, re.DOTALL)
    assert title is not None
    assert "\n" not in title.group(1)


def test_pages_for_decided_requests_neutralise_the_stored_summary_too() -> None:
    summary = {"title": hostile("t"), "summary": hostile("s"), "fields": [["Who", hostile("w")]]}

    for rendered in (
        page.decided("approved", summary, 1795534512, hostile("198.51.100.7"), "en", SEOUL),
        page.message("expired", 410, "en", summary),
        page.unconfirmed("approved", summary, None, "en"),
    ):
        assert _invisible_in(rendered.body) == []
        assert _lines_posing_as_fields(rendered.body) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\u202eexe.gpj", "aexe.gpj"),
        ("pay\u200bpal", "paypal"),
        ("tab\tand   spaces", "tab and spaces"),
        ("one\r\ntwo\u2029three", "one \u23ce two \u23ce three"),
        ("\n\n  \n", ""),
        ("보안 경보", "보안 경보"),
        (None, ""),
        (42, "42"),
    ],
)
def test_plain_is_one_readable_line(raw: object, expected: str) -> None:
    assert text.plain(raw) == expected


def test_plain_block_marks_every_line_after_the_first() -> None:
    assert text.plain_block("first\n\nDecision : approved\n x") == (
        f"first\n{text.CONTINUATION}Decision : approved\n{text.CONTINUATION}x"
    )
