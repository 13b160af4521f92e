"""SNS email: readable plain text (SNS email is not HTML)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    lines = [message.title, "=" * min(len(message.title), 72), "", message.summary, ""]
    width = max((len(name) for name, _ in message.fields), default=0)
    for name, value in message.fields:
        value_lines = str(value).splitlines() or ["-"]
        lines.append(f"{name.ljust(width)} : {value_lines[0]}")
        lines += [" " * (width + 3) + extra for extra in value_lines[1:]]
    for label, url in message.links:
        lines += ["", f"{label}:", url]
    lines += ["", "--", message.footer]
    return "\n".join(lines) + "\n"
