"""SNS email: readable plain text (SNS email is not HTML).

Every string goes through :mod:`trailwarden.notify.text`'s plain-text neutraliser (the
one the approval page uses): no control, bidi or zero-width characters, and a value's
extra lines are indented and marked, so they cannot pass for fields of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.notify import text

if TYPE_CHECKING:
    from trailwarden.notify.messages import Message

SUBJECT_LIMIT = 100  # SNS rejects subjects over 100 characters


def _one_line(text: str) -> str:
    return " ".join(text.split())


def subject(message: Message) -> str:
    """SNS subjects must be one line of printable ASCII, under 100 characters."""
    raw = _one_line(message.subject or message.title)
    line = "".join(ch for ch in raw if 32 <= ord(ch) < 127).strip() or "trailwarden alert"
    return line if len(line) < SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 4] + "..."


def body(message: Message) -> str:
    title = text.plain(message.title)
    lines = [title, "=" * min(len(title), 72), "", text.plain(message.summary), ""]
    fields = [(text.plain(name), text.plain_lines(value)) for name, value in message.fields]
    width = max((len(name) for name, _ in fields), default=0)
    for name, (first, *rest) in fields:
        lines.append(f"{name.ljust(width)} : {first or '-'}")
        lines += [" " * (width + 3) + text.CONTINUATION + extra for extra in rest]
    for label, url in message.links:  # our own: the approval link
        lines += ["", f"{label}:", url]
    lines += ["", "--", text.plain(message.footer)]
    return "\n".join(lines) + "\n"
