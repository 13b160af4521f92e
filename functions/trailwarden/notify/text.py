"""Make attacker-controlled text safe: plain text for email and the approval page,
inert markdown for Discord, and small enough for a Discord webhook.

Everything an alert quotes from CloudTrail (user names, role session names,
resource tags, user agents, error messages) is chosen by whoever made the API
call, so it is treated as hostile. :func:`plain_lines` (with :func:`plain` and
:func:`plain_block`) is the one neutraliser of the plain-text channels, the SNS
email and the approval page: it drops control, bidi, zero-width and other
invisible characters, collapses whitespace, and lets a value's extra lines never
pass for lines of our own (they are marked as continuations, so an injected
``"\nDecision : approved"`` reads as part of the value it came in). For Discord,
:func:`neutralize` makes it render as plain text, and :func:`clamp_message` keeps
a webhook payload inside Discord's documented message and embed limits so a long
value cannot make Discord reject the whole alert with a 400.

Lengths are counted in Python ``str`` characters (code points). Stdlib only.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

ELLIPSIS = "\u2026"
ZWSP = "\u200b"
EMPTY_FIELD = "-"

# Discord's documented limits (Message resource: content and embed limits;
# Execute Webhook: up to 10 embeds per message).
LIMITS: Mapping[str, int] = MappingProxyType(
    {
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
)

# Bidi overrides/isolates and marks can make text display differently from what
# it is (e.g. reversing a file extension); BOM is invisible. Dropped outright.
_INVISIBLE = dict.fromkeys(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]
)
_NEWLINES = re.compile(r"\r\n|[\r\u2028\u2029\x85]")
_HSPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# <@id> users, <@!id>, <@&id> roles, <#id> channels, </cmd:id> commands,
# <:name:id>/<a:name:id> emoji, <t:unix> timestamps, <id:customize> guild nav.
_ANGLE_TOKEN = re.compile(r"<(?=[@#/:]|[A-Za-z]+:)")
_MASS_MENTION = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
# Markdown specials (Discord escapes any ASCII punctuation with a backslash).
_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()])")
# "scheme://" -> "scheme\://" so bare links are not auto-linked (phishing).
_AUTOLINK = re.compile(r":(?=//)")
# "- item" at the start of a line ("-# subtext" is already broken by escaping "#").
_LIST_MARKER = re.compile(r"^-(?=\s)", re.MULTILINE)


def _strip_controls(s: str) -> str:
    """Drops what :func:`_printable` drops (as Slack's and Teams' neutralisers do):
    controls, bidi, zero-width space/joiners, word joiner, soft hyphen, BOM, tags, and
    private-use, surrogate and unassigned code points. ``neutralize`` inserts its own
    zero-width space afterwards, to break mentions."""
    s = s.translate(_INVISIBLE).translate(_BLANK_LETTERS)
    return "".join(ch for ch in s if _printable(ch))


def neutralize(s: str) -> str:
    """Return ``s`` made inert for Discord markdown and mentions.

    Strips control, bidi and zero-width characters (newlines are kept), collapses runs of
    spaces and blank lines, breaks ``@everyone``/``@here`` and ``<@..>``-style
    tokens with a zero-width space, backslash-escapes markdown (so masked links
    ``[text](url)`` and spoilers cannot form) and defangs ``scheme://`` links.
    """
    s = _NEWLINES.sub("\n", s)
    s = _HSPACE.sub(" ", s)  # tabs and other whitespace become one space
    s = _strip_controls(s)
    s = "\n".join(line.strip() for line in s.split("\n"))
    s = _BLANK_LINES.sub("\n\n", s).strip()
    s = _MASS_MENTION.sub("@" + ZWSP, s)
    s = _ANGLE_TOKEN.sub("<" + ZWSP, s)
    s = _MARKDOWN.sub(r"\\\1", s)
    s = _AUTOLINK.sub(r"\\:", s)
    return _LIST_MARKER.sub(r"\\-", s)


# Hangul fillers render as nothing: favourite "invisible" names. Not used in real text.
_BLANK_LETTERS = dict.fromkeys([0x115F, 0x1160, 0x3164, 0xFFA0])
CONTINUATION = "\u21b3 "  # "↳ ": marks a value's second and later lines
LINE_JOIN = " \u23ce "  # " ⏎ ": where a one-line rendering folded a line break


def _printable(ch: str) -> bool:
    # Cc: C0/C1 controls (ESC sequences, NUL, DEL...); Cf: format characters, which
    # include every bidi control (U+202A-202E, U+2066-2069, LRM/RLM/ALM), zero-width
    # space/joiners, word joiner, soft hyphen, BOM and tag characters; Co/Cs/Cn:
    # private use, surrogates, unassigned.
    return ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs", "Cn")


def plain_lines(value: object) -> list[str]:
    """``value`` as the lines a human should see: invisible characters dropped, every
    run of whitespace one space, no blank lines. Always at least one (maybe empty)."""
    s = _text(value)
    s = _HSPACE.sub(" ", _NEWLINES.sub("\n", s)).translate(_BLANK_LETTERS)
    s = "".join(ch for ch in s if _printable(ch))
    lines = [" ".join(line.split()) for line in s.split("\n")]
    return [line for line in lines if line] or [""]


def plain(value: object) -> str:
    """One line of plain text (a title, a label, an address); line breaks shown as ⏎."""
    return LINE_JOIN.join(plain_lines(value))


def plain_block(value: object) -> str:
    """Plain text whose second and later lines start with ``CONTINUATION``."""
    first, *rest = plain_lines(value)
    return "".join([first, *(f"\n{CONTINUATION}{line}" for line in rest)])


# A host name: labels of letters, digits and hyphens joined by dots, ending in a
# letters-only top-level label ("evil.example", "www.evil.example", "xn--e1a.com");
# not a version ("2.15.0") nor an IP address, which chat clients do not link.
_HOST = re.compile(
    r"(?<![\w.-])(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[\w-]+)(?![\w-])"
)


def defang_hosts(s: str) -> str:
    """Every host-looking word with its dots as ``[.]`` (``evil[.]example``): Slack and
    Teams auto-link bare host names, which would make event text a clickable link."""
    return _HOST.sub(lambda m: m.group().replace(".", "[.]"), s)


def more_fields_note(hidden: int) -> str:
    """Said where fields were left out to stay within a platform's limits."""
    return f"{hidden} more field{'s' if hidden != 1 else ''} not shown"


def truncate(s: str, limit: int) -> str:
    """Cut ``s`` to at most ``limit`` characters, ending with "…" when cut."""
    if len(s) <= limit:
        return s
    if limit <= 0:
        return ""
    return s[: limit - 1] + ELLIPSIS


def _text(value: object) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _clamp_embed(embed: dict[str, Any]) -> dict[str, Any]:
    for key in ("title", "description"):
        if key in embed:
            embed[key] = truncate(_text(embed[key]), LIMITS[key])
    for key, sub, limit in (("footer", "text", "footer_text"), ("author", "name", "author_name")):
        part = embed.get(key)
        if isinstance(part, dict) and sub in part:
            part[sub] = truncate(_text(part[sub]), LIMITS[limit])
    fields = embed.get("fields")
    if isinstance(fields, list):
        clamped = []
        for raw in fields[: LIMITS["fields"]]:
            field = dict(raw) if isinstance(raw, Mapping) else {}
            for key, limit in (("name", "field_name"), ("value", "field_value")):
                value = truncate(_text(field.get(key)), LIMITS[limit])
                field[key] = value if value.strip() else EMPTY_FIELD
            clamped.append(field)
        embed["fields"] = clamped
    return embed


# A field whose whole value is a link is one of ours (the approval page): event text
# never holds "://" once neutralised (it becomes ":\//"), so this cannot be forged.
_OUR_LINK = re.compile(r"https?://\S+")


def _is_link_field(field: Mapping[str, Any]) -> bool:
    value = field.get("value")
    return isinstance(value, str) and bool(_OUR_LINK.fullmatch(value))


def _slots(embeds: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, int]]:
    """Every counted text as (container, key, shortest allowed), cheapest cut first.
    A link field's value is counted but never cut (floor: its own length)."""
    rev = embeds[::-1]
    fields = [f for e in rev if isinstance(e.get("fields"), list) for f in reversed(e["fields"])]
    events = [f for f in fields if not _is_link_field(f)]
    links = [f for f in fields if _is_link_field(f)]
    parts = [
        *((e, "description", 0) for e in rev),
        *((f, "value", 1) for f in events),
        *((f, "value", len(f["value"])) for f in links),
        *((e["footer"], "text", 0) for e in rev if isinstance(e.get("footer"), dict)),
        *((e["author"], "name", 0) for e in rev if isinstance(e.get("author"), dict)),
        *((f, "name", 1) for f in fields),
        *((e, "title", 0) for e in rev),
    ]
    return [(c, k, floor) for c, k, floor in parts if isinstance(c.get(k), str)]


def embeds_length(embeds: list[dict[str, Any]]) -> int:
    """Characters Discord counts towards the 6000 total across ``embeds``."""
    return sum(len(c[k]) for c, k, _floor in _slots(embeds))


def _enforce_total(embeds: list[dict[str, Any]]) -> None:
    excess = embeds_length(embeds) - LIMITS["embeds_total"]
    for container, key, floor in _slots(embeds):
        if excess <= 0:
            break
        current = len(container[key])
        keep = max(floor, current - excess)
        if keep < current:
            container[key] = truncate(container[key], keep)
            excess -= current - keep
    for embed in embeds:  # drop what was cut to nothing: Discord rejects empty text
        for key in ("title", "description"):
            if embed.get(key) == "":
                del embed[key]
        for key, sub in (("footer", "text"), ("author", "name")):
            part = embed.get(key)
            if isinstance(part, dict) and part.get(sub) == "":
                del embed[key]


def clamp_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a webhook ``payload`` that fits Discord's limits.

    Content is cut to 2000 characters, at most 10 embeds are kept, each embed's
    title, description, fields (count, name, value), footer text and author
    name are cut to their limits, and the 6000-character total across all
    embeds is met by cutting descriptions, then field values, from the last
    embed backwards (then footers, author names, field names and titles if it
    must). A field whose value is only a link (our approval link) is never cut.
    Empty field names/values become "-".
    """
    message = copy.deepcopy(dict(payload))
    if "content" in message and message["content"] is not None:
        message["content"] = truncate(_text(message["content"]), LIMITS["content"])
    raw_embeds = message.get("embeds")
    if isinstance(raw_embeds, list):
        embeds = [
            _clamp_embed(dict(e)) for e in raw_embeds[: LIMITS["embeds"]] if isinstance(e, Mapping)
        ]
        _enforce_total(embeds)
        message["embeds"] = embeds
    return message
