"""Slack incoming webhook: one Block Kit message, every event string made inert.

Block Kit limits (docs.slack.dev/reference/block-kit/blocks/header-block,
.../section-block, .../context-block, .../reference/block-kit/block-elements/button-element
and docs.slack.dev/reference/block-kit/blocks: "up to 50 blocks in each message"):
header text 150 characters; section text 3,000; a section's ``fields`` at most 10, each
text 2,000; button text 75, button URL 3,000; context at most 10 elements. The top-level
``text`` (the notification fallback) is truncated by Slack after 40,000 characters; we
send at most 3,000.

Neutralising (docs.slack.dev/messaging/formatting-message-text, "Escaping text"): Slack
parses ``<...>`` as links and mentions (``<!channel>``, ``<!here>``, ``<@U0123>``,
``<http://evil|click>``), so ``&``, ``<`` and ``>`` become ``&amp;``, ``&lt;``,
``&gt;``; then nothing in the text can ping or hide a link. Mrkdwn has no backslash
escape, so a formatting character that could open or close bold, italic, strike or
code (``*``, ``_``, ``~`` at a word's edge; every backtick) is swapped for a look-alike
that Slack does not parse; one inside a word (``snake_case``, ``a*b``) stays. Bare
``scheme://`` links and host names are defanged (``http[:]//evil[.]example``) so
nothing auto-links, and ``@channel``-style words get a full-width at sign. Control,
bidi and zero-width characters are dropped (:mod:`text`), and a value's extra lines are
marked as continuations so they cannot pass for our own lines.
Previews are off (``unfurl_links``/``unfurl_media``: unfurlers would fetch links).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trailwarden.notify import text
from trailwarden.notify.sinks import Limits, fit

if TYPE_CHECKING:
    from trailwarden.notify.service import Webhook
    from trailwarden.notify.sinks import Notice

HEADER_LIMIT = 150
SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
FIELDS_PER_SECTION = 10
BLOCKS_LIMIT = 50
BUTTON_TEXT_LIMIT = 75
URL_LIMIT = 3000
CONTEXT_ELEMENTS_LIMIT = 10
FALLBACK_LIMIT = 3000
NAME_LIMIT = 100  # a field's name (our own labels are short)
# Our own bound on the summary and fields of one message together, so a message full of
# 10,000-character values stays readable (and far below Slack's message size limits).
TOTAL_LIMIT = 12_000

# Fields: every block but the header, summary and context can be a section of ten.
LIMITS = Limits(
    title=HEADER_LIMIT,
    text=FIELD_TEXT_LIMIT,
    fields=(BLOCKS_LIMIT - 3) * FIELDS_PER_SECTION,
    total=TOTAL_LIMIT,
)

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Look-alikes that mrkdwn does not parse: asterisk operator, full-width low line, tilde
# operator, modifier letter grave accent.
_LOOKALIKE = {"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb"}
# A marker at a word's edge (not between two letters or digits) may format; a backtick
# may open code anywhere.
_MARKER_AT_EDGE = re.compile(r"`|(?<![^\W_])[*_~]|[*_~](?![^\W_])")
_SCHEME = re.compile(r":(?=//)")
_MASS_MENTION = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_QUOTE_START = re.compile(r"^&gt;", re.MULTILINE)


def neutralize(value: object) -> str:
    """``value`` as inert Slack mrkdwn: no mention, link, formatting or hidden character."""
    s = text.plain_block(value)
    s = s.translate(_ESCAPES)
    s = _MARKER_AT_EDGE.sub(lambda m: _LOOKALIKE[m.group()], s)
    s = _SCHEME.sub("[:]", s)
    s = text.defang_hosts(s)
    s = _MASS_MENTION.sub("\uff20", s)
    return _QUOTE_START.sub("\u203a", s)  # "&gt;" opening a line would quote it


def _plain(value: object, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text.truncate(neutralize(value), limit), "emoji": False}


def _mrkdwn(value: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": value}


def _link_block(label: str, url: str) -> dict[str, Any] | None:
    """Our own approval link: a mrkdwn link and a button (both open the page; a GET there
    decides nothing). A URL Slack would refuse is left out rather than break the message."""
    if len(url) > URL_LIMIT or not url.startswith(("https://", "http://")):
        return None
    shown = text.truncate(neutralize(label), BUTTON_TEXT_LIMIT)
    return {
        "type": "section",
        "text": _mrkdwn(f"<{url.translate(_ESCAPES)}|{shown}>"),
        "accessory": {
            "type": "button",
            "text": {"type": "plain_text", "text": shown, "emoji": False},
            "url": url,
            "action_id": "trailwarden-open-link",
        },
    }


def slack_payload(notice: Notice, limits: Limits = LIMITS) -> dict[str, Any]:
    """The Block Kit message, cut to ``limits`` (never beyond Block Kit's own): ``title``
    the header, ``text`` a field's value, ``fields`` how many are shown (the others are
    counted in the footer), ``total`` the summary and fields together."""
    message = notice.message
    links = [b for b in (_link_block(label, url) for label, url in message.links) if b]
    # header, summary, context and the links are always there; fields fill the rest.
    room = (BLOCKS_LIMIT - 3 - len(links)) * FIELDS_PER_SECTION
    if limits.fields:
        room = min(room, limits.fields)
    shown = message.fields[:room]
    hidden = len(message.fields) - len(shown)
    value_limit = min(limits.text or FIELD_TEXT_LIMIT, FIELD_TEXT_LIMIT)
    names = [text.truncate(neutralize(n), NAME_LIMIT) or text.EMPTY_FIELD for n, _v in shown]
    values = [text.truncate(neutralize(v), value_limit) or text.EMPTY_FIELD for _n, v in shown]
    summary = text.truncate(neutralize(message.summary), SECTION_TEXT_LIMIT)
    # "*name*\n" adds 4 characters to every field.
    cut = fit([summary, *names, *values], (limits.total or TOTAL_LIMIT) - 4 * len(shown))
    summary, names, values = cut[0], cut[1 : len(shown) + 1], cut[len(shown) + 1 :]
    texts = [f"*{n}*\n{v}" for n, v in zip(names, values, strict=True)]
    fields = [_mrkdwn(text.truncate(t, FIELD_TEXT_LIMIT)) for t in texts]
    title_limit = min(limits.title or HEADER_LIMIT, HEADER_LIMIT)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(message.title, title_limit)},
        {"type": "section", "text": _mrkdwn(summary or text.EMPTY_FIELD)},
    ]
    blocks += [
        {"type": "section", "fields": fields[i : i + FIELDS_PER_SECTION]}
        for i in range(0, len(fields), FIELDS_PER_SECTION)
    ]
    blocks += links
    footer = text.truncate(neutralize(message.footer), SECTION_TEXT_LIMIT)
    context = [_mrkdwn(footer or text.EMPTY_FIELD)]
    if hidden:
        context.insert(0, _mrkdwn(text.more_fields_note(hidden)))
    blocks.append({"type": "context", "elements": context})
    fallback = neutralize(text.plain(message.title) + " - " + text.plain(message.summary))
    return {
        "text": text.truncate(fallback, FALLBACK_LIMIT),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


class SlackSink:
    """A Slack incoming webhook (Slack app -> Incoming Webhooks)."""

    name = "slack"
    tells_people = True
    limits = LIMITS

    def __init__(self, webhook: Webhook) -> None:
        self.webhook = webhook

    def __repr__(self) -> str:
        return "SlackSink()"

    def render(self, notice: Notice) -> dict[str, Any]:
        return slack_payload(notice, self.limits)

    def deliver(self, rendered: dict[str, Any]) -> str:
        self.webhook.post(rendered)
        return "sent"
