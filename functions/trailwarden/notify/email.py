"""SNS email: readable plain text (SNS email is not HTML).

Every string goes through :mod:`trailwarden.notify.text`'s plain-text neutraliser (the
one the approval page uses): no control, bidi or zero-width characters, and a value's
extra lines are indented and marked, so they cannot pass for fields of their own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from trailwarden.models.errors import NotificationFailed
from trailwarden.notify import text
from trailwarden.notify.sinks import Limits

if TYPE_CHECKING:
    from trailwarden.notify.messages import Message
    from trailwarden.notify.sinks import Notice

SUBJECT_LIMIT = 100  # SNS rejects subjects over 100 characters
MESSAGE_LIMIT = 262_144  # SNS: a message is at most 256 KB
_MAX_BODY_CHARS = MESSAGE_LIMIT // 4  # UTF-8: at most 4 bytes a character


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


class EmailSink:
    """SNS email: publish the plain-text subject and body to the alert topic."""

    name = "email"
    tells_people = True
    limits = Limits(title=SUBJECT_LIMIT, text=0, fields=0, total=MESSAGE_LIMIT)

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self.sns = sns
        self.topic_arn = topic_arn

    def __repr__(self) -> str:
        return "EmailSink()"

    def render(self, notice: Notice) -> dict[str, str]:
        message = notice.message
        text_ = body(message)
        if len(text_) > _MAX_BODY_CHARS:  # 10,000-character names in many fields: cut them
            message = replace(
                message,
                title=text.truncate(message.title, 1000),
                summary=text.truncate(message.summary, 4000),
                fields=tuple((n, text.truncate(v, 2000)) for n, v in message.fields),
            )
            text_ = body(message)[:_MAX_BODY_CHARS]
        return {"Subject": subject(message), "Message": text_}

    def deliver(self, rendered: dict[str, str]) -> str:
        # Here, not at import: approval pages import this module for its text only.
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.sns.publish(TopicArn=self.topic_arn, **rendered)
        except (ClientError, BotoCoreError) as err:
            raise NotificationFailed(type(err).__name__) from None
        return "sent"
