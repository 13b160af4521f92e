"""Microsoft Teams through a Workflows (Power Automate) webhook: one Adaptive Card.

Office 365 connectors (incoming webhooks) are being retired; a Teams channel's Workflows
app ("Post to a channel when a webhook request is received") takes a ``message`` whose
attachment is an Adaptive Card (learn.microsoft.com, "Create incoming webhooks with
Workflows for Microsoft Teams"; Adaptive Cards 1.4 schema: TextBlock, FactSet,
Action.OpenUrl). The card: the title as a TextBlock, the summary, the fields as a
FactSet, the footer, and the approval link as an ``Action.OpenUrl`` button.

Neutralising: TextBlock and FactSet text is a Markdown subset (bold, italic, links
``[x](url)``, lists, headings). Backslash escapes are not used: Teams clients have
rendered them inconsistently (microsoft/AdaptiveCards#5590, #5758; iOS showed ``< > &``
as HTML, #5439). Every character that could start markup is swapped for a look-alike
that no renderer parses, so the text reads the same and cannot format:

- ``*`` -> U+2217 asterisk operator (bold, italic, list marker)
- ``_`` and ``~`` at a word's edge -> U+FF3F full-width low line, U+223C tilde operator
  (italic, strike-through; inside a word, as in ``snake_case``, they stay)
- backtick -> U+02CB modifier letter grave accent (code)
- ``[`` ``]`` -> U+FF3B, U+FF3D full-width brackets (link text, ``![image](url)``)
- ``<`` ``>`` ``&`` -> U+FF1C, U+FF1E, U+FF06 full-width (HTML, ``<at>``, entities)
- backslash -> U+FF3C full-width reverse solidus (escapes)
- ``{`` ``}`` -> U+FF5B, U+FF5D full-width braces (``{{DATE(...)}}`` text functions)
- at a line's start: ``#`` -> U+FF03, ``-`` -> U+2010 hyphen, ``+`` -> U+FF0B,
  ``1.`` -> ``1`` U+2024 one dot leader (headings, lists)

Bare ``scheme://`` links and host names are defanged (``http[:]//evil[.]example``),
so nothing auto-links;
``@everyone``-style words get a full-width at sign. Mentions in Adaptive Cards need
``<at>`` tags plus explicit ``msteams.entities``; none are ever sent, and ``<`` is never
sent from the event anyway. Control, bidi and zero-width characters are dropped
(:mod:`text`).

Size: Teams refuses messages over about 28 KB; the card is kept under
:data:`TOTAL_BYTES` of JSON (as sent: ASCII with ``\\u`` escapes), long values cut first.
A Workflows webhook answers 202 Accepted.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from trailwarden.notify import text
from trailwarden.notify.sinks import Limits, fit

if TYPE_CHECKING:
    from trailwarden.notify.service import Webhook
    from trailwarden.notify.sinks import Notice

TITLE_LIMIT = 300
TEXT_LIMIT = 3000
FACT_TITLE_LIMIT = 200
FACT_VALUE_LIMIT = 1500
URL_LIMIT = 2048
TOTAL_BYTES = 27_000  # under Teams' ~28 KB message limit, envelope included

# A FactSet has no documented number of facts: only the whole card's size counts.
LIMITS = Limits(title=TITLE_LIMIT, text=FACT_VALUE_LIMIT, fields=0, total=TOTAL_BYTES)

# The look-alikes listed in the module's docstring (which says why each).
LOOKALIKES = {
    "*": "\u2217",
    "`": "\u02cb",
    "[": "\uff3b",
    "]": "\uff3d",
    "<": "\uff1c",
    ">": "\uff1e",
    "&": "\uff06",
    "\\": "\uff3c",
    "{": "\uff5b",
    "}": "\uff5d",
}
_ALWAYS = str.maketrans(LOOKALIKES)
_AT_EDGE = {"_": "\uff3f", "~": "\u223c"}
_MARKER_AT_EDGE = re.compile(r"(?<![^\W_])[_~]|[_~](?![^\W_])")
_LINE_START = {"#": "\uff03", "-": "\u2010", "+": "\uff0b"}
_LIST_MARKER = re.compile(r"^(?:[#\-+]|\d+\.)", re.MULTILINE)
_SCHEME = re.compile(r":(?=//)")
_MASS_MENTION = re.compile(r"@(?=(?:channel|here|everyone|team)\b)", re.IGNORECASE)


def _line_start(match: re.Match[str]) -> str:
    marker = match.group()
    if marker in _LINE_START:
        return _LINE_START[marker]
    return marker[:-1] + "\u2024"  # "1." -> "1" + one dot leader


def neutralize(value: object) -> str:
    """``value`` as inert Teams Markdown: no link, mention, formatting or hidden character
    (look-alikes, never backslash escapes: see the module's list)."""
    s = text.plain_block(value)
    s = s.translate(_ALWAYS)
    s = _MARKER_AT_EDGE.sub(lambda m: _AT_EDGE[m.group()], s)
    s = _LIST_MARKER.sub(_line_start, s)
    s = _SCHEME.sub("[:]", s)
    s = text.defang_hosts(s)
    return _MASS_MENTION.sub("\uff20", s)


def _size(payload: Any) -> int:
    return len(json.dumps(payload, separators=(",", ":")).encode())


def _card(
    notice: Notice,
    title: str,
    summary: str,
    facts: list[tuple[str, str]],
    footer: str,
    hidden: int = 0,
) -> dict[str, Any]:
    message = notice.message
    ok = notice.stage == "closed" and notice.status in ("remediated", "already-clean")
    colour = (
        "Good"
        if ok
        else {"critical": "Attention", "high": "Attention"}.get(
            str(message.severity), "Warning" if str(message.severity) == "medium" else "Default"
        )
    )
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": title or text.EMPTY_FIELD,
            "size": "Large",
            "weight": "Bolder",
            "color": colour,
            "wrap": True,
        },
        {"type": "TextBlock", "text": summary or text.EMPTY_FIELD, "wrap": True},
    ]
    if facts:
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": n, "value": v or text.EMPTY_FIELD} for n, v in facts],
            }
        )
    if hidden:
        body.append(
            {
                "type": "TextBlock",
                "text": text.more_fields_note(hidden),
                "isSubtle": True,
                "wrap": True,
            }
        )
    body.append(
        {
            "type": "TextBlock",
            "text": footer or text.EMPTY_FIELD,
            "size": "Small",
            "isSubtle": True,
            "wrap": True,
        }
    )
    actions = [
        {"type": "Action.OpenUrl", "title": text.truncate(neutralize(label), 100), "url": url}
        for label, url in message.links
        if len(url) <= URL_LIMIT and url.startswith(("https://", "http://"))
    ]
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": content,
            }
        ],
    }


def teams_payload(notice: Notice, limits: Limits = LIMITS) -> dict[str, Any]:
    """The card, cut to ``limits``: ``title``, ``text`` (a fact's value), ``fields`` (how
    many facts; 0: as many as fit) and ``total``, the JSON's bytes as sent. Facts that
    cannot fit even cut short are left out, and the card says how many."""
    message = notice.message
    budget = limits.total or TOTAL_BYTES
    title = text.truncate(neutralize(message.title), limits.title or TITLE_LIMIT)
    summary = text.truncate(neutralize(message.summary), TEXT_LIMIT)
    fields = message.fields[: limits.fields] if limits.fields else message.fields
    names = [text.truncate(neutralize(n), FACT_TITLE_LIMIT) for n, _v in fields]
    value_limit = limits.text or FACT_VALUE_LIMIT
    values = [text.truncate(neutralize(v), value_limit) for _n, v in fields]
    footer = text.truncate(neutralize(message.footer), TEXT_LIMIT)
    # So many facts that even cut short they would not fit: keep those whose shortest
    # form fills at most half the budget (the rest of it for their values).
    base = _size(_card(notice, title, summary, [], footer, len(fields)))
    keep, used = 0, base
    for name in names:
        used += _size({"title": text.truncate(name, 20), "value": text.EMPTY_FIELD}) + 1
        if used > base + (budget - base) // 2:
            break
        keep += 1
    names, values = names[:keep], values[:keep]
    hidden = len(message.fields) - keep

    def card() -> dict[str, Any]:
        facts = list(zip(names, values, strict=True))
        return _card(notice, title, summary, facts, footer, hidden)

    payload = card()
    # Over the size: cut the longest texts (values and summary) until it fits; JSON's
    # \u escapes make a character cost up to 6 bytes, so this may take a few rounds.
    for _round in range(40):
        excess = _size(payload) - budget
        if excess <= 0:
            break
        current = sum(map(len, [summary, *values]))
        if current == 0:  # only names and the title are left to cut
            names = [text.truncate(n, 20) for n in names]
            title = text.truncate(title, 100)
        else:
            target = max(min(current - excess, current * 9 // 10), 0)
            summary, *values = fit([summary, *values], target)
        payload = card()
    # The last word: facts dropped from the end until the card fits, whatever it holds.
    while _size(payload) > budget and names:
        drop = max(1, len(names) // 10)
        names, values, hidden = names[:-drop], values[:-drop], hidden + drop
        payload = card()
    return payload


class TeamsSink:
    """A Teams channel's Workflows webhook."""

    name = "teams"
    tells_people = True
    limits = LIMITS

    def __init__(self, webhook: Webhook) -> None:
        self.webhook = webhook

    def __repr__(self) -> str:
        return "TeamsSink()"

    def render(self, notice: Notice) -> dict[str, Any]:
        return teams_payload(notice, self.limits)

    def deliver(self, rendered: dict[str, Any]) -> str:
        self.webhook.post(rendered)
        return "sent"
