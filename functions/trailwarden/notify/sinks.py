"""One small interface for every place a finding goes (email, Discord, Slack, Teams,
Security Hub): render a :class:`Notice` to the platform's payload, within its limits,
then deliver it. Chosen from the settings; workflows never name a sink.

A sink's failure is its own: :func:`deliver_all` records it and goes on to the next,
so Slack answering 500 or Teams hanging never stops the email, Discord or the
remediation. It raises NotificationFailed (the state machines catch it by name) unless
a person was told: some configured sink that ``tells_people`` (email, Discord, Slack,
Teams) delivered. Security Hub alone does not count (nobody reads a finding in time, and
it cannot carry an approval link) unless it is the only sink configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from trailwarden.models.errors import NotificationFailed

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from trailwarden.models.findings import Finding
    from trailwarden.notify.messages import Message

# Every delivery report has these keys, in this order (contract: demo rows' ``sinks``).
SINK_NAMES = ("email", "discord", "slack", "teams", "securityhub")
NOT_CONFIGURED = "not configured"


class Limits(NamedTuple):
    """A platform's size limits, in characters (0 = the platform sets none)."""

    title: int
    text: int  # one block of body text (description, field value, section)
    fields: int  # how many name/value pairs
    total: int  # the whole rendered message


class Notice(NamedTuple):
    """What every sink is given: the channel-neutral message (raw event strings: each
    sink neutralises for its own markup) and the finding it is about.

    ``stage`` is "raised" (the first message of an incident: Notify, Alert, approval
    request) or "closed" (Report's result). ``status`` is the finding's verdict when
    raised, the outcome (remediated, already-clean, rejected, expired, failed) when
    closed. ``done`` lists what was done, one line per action (closed only)."""

    message: Message
    finding: Finding
    stage: str
    status: str
    done: tuple[str, ...] = ()


# The sinks that reach a person (and can carry an approval link); Security Hub does not.
PEOPLE_SINKS = frozenset({"email", "discord", "slack", "teams"})


class Sink(Protocol):
    name: str  # one of SINK_NAMES
    limits: Limits
    # True when a delivery tells a person (email, chat): what deliver_all requires.
    tells_people: bool

    def render(self, notice: Notice) -> Any:
        """The platform's payload: pure, neutralised, cut to ``limits``."""
        ...

    def deliver(self, rendered: Any) -> str:
        """Send it; a short status ("sent", "imported", "updated", ...) or raise
        NotificationFailed with a reason that holds no secret (never a webhook URL)."""
        ...


def deliver_all(
    notice: Notice, sinks: Sequence[Sink], *, require_people: bool = False
) -> dict[str, str]:
    """Each sink in turn (the list's order: email and Discord first, Security Hub last,
    so a sink that hangs to the end of its own time budget costs only itself). Every key
    of SINK_NAMES is in the result.

    NotificationFailed unless a configured sink that ``tells_people`` delivered; when
    none is configured, any delivery counts (Security Hub alone), except with
    ``require_people`` (an approval request: only a person can follow its link)."""
    from aws_lambda_powertools import Logger

    logger = Logger(child=True)
    report: dict[str, str] = dict.fromkeys(SINK_NAMES, NOT_CONFIGURED)
    people = any(sink.tells_people for sink in sinks) or require_people
    delivered = False
    for sink in sinks:
        try:
            report[sink.name] = sink.deliver(sink.render(notice))
            delivered = delivered or sink.tells_people or not people
        except NotificationFailed as err:
            report[sink.name] = f"failed: {err}"
            logger.warning("sink failed", extra={"sink": sink.name, "error": str(err)})
        except Exception as err:  # a bug in one sink must not silence the others
            report[sink.name] = f"failed: {type(err).__name__}"
            logger.exception("sink crashed", extra={"sink": sink.name})
    if not delivered:
        nobody = "no sink that tells a person delivered" if people else "no sink delivered"
        raise NotificationFailed(f"{nobody} (" + _summary(report) + ")")
    return report


def _summary(report: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {status}" for name, status in report.items())


class UnavailableSink:
    """Stands in for a sink that could not be set up (a secret that cannot be read, a
    malformed URL, a module missing): the others still deliver, and the report says why
    this one did not. ``reason`` never holds the secret."""

    limits = Limits(0, 0, 0, 0)

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        self.tells_people = name in PEOPLE_SINKS

    def __repr__(self) -> str:
        return f"UnavailableSink({self.name!r}, {self.reason!r})"

    def render(self, notice: Notice) -> None:
        return None

    def deliver(self, rendered: Any) -> str:
        raise NotificationFailed(self.reason)


class AlreadyDelivered:
    """A sink the caller has already delivered to by other means (approval buttons posted
    by the Discord application): its status goes into the report as it is."""

    limits = Limits(0, 0, 0, 0)

    def __init__(self, name: str, status: str) -> None:
        self.name = name
        self.status = status
        self.tells_people = name in PEOPLE_SINKS

    def render(self, notice: Notice) -> None:
        return None

    def deliver(self, rendered: Any) -> str:
        return self.status


def fit(texts: Sequence[str], total: int) -> list[str]:
    """``texts`` cut so that together they hold at most ``total`` characters: the longest
    are cut first, to one common length (short texts are never cut for a long one)."""
    if sum(map(len, texts)) <= total:
        return list(texts)
    lengths = sorted(len(t) for t in texts)
    left, cap = total, 0
    for i, length in enumerate(lengths):
        share = left // (len(lengths) - i)
        if length > share:
            cap = share
            break
        left -= length
    from trailwarden.notify.text import truncate

    return [truncate(t, cap) for t in texts]
