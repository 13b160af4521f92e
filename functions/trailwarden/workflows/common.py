"""What every detection shares: the prechecks decide() runs once before a workflow's
detection (the app's own call, a failed call, a call that is not the workflow's), and
small readers of CloudTrail's request shapes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.settings import DetectionSettings

# Lambda logs its calls with the API version they used (DeleteFunction20150331,
# UpdateFunctionCode20150331v2); a trigger names one version and matches every other.
_LAMBDA = "lambda.amazonaws.com"
_API_VERSION = re.compile(r"\d{8}(v\d+)?$")


def is_own_call(event: CloudTrailEvent, settings: DetectionSettings) -> bool:
    """True when one of the app's own roles made the call (exact role ARN, never a prefix)."""
    actor = event.actor
    return actor.type == "AssumedRole" and actor.session_issuer_arn in settings.own_role_arns


def call_name(event_source: str, event_name: str) -> str:
    """The call without Lambda's API version suffix (``DeleteFunction20150331`` ->
    ``DeleteFunction``); every other service's names are returned as they are."""
    return _API_VERSION.sub("", event_name) if event_source == _LAMBDA else event_name


@cache
def _trigger_calls(triggers: frozenset[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset((source, call_name(source, name)) for source, name in triggers)


def is_trigger(triggers: frozenset[tuple[str, str]], event_source: str, event_name: str) -> bool:
    """Whether the call is one of the workflow's triggers (Lambda's: in any API version)."""
    return (event_source, event_name) in triggers or (
        event_source == _LAMBDA
        and (event_source, call_name(event_source, event_name)) in _trigger_calls(triggers)
    )


def precheck(
    event: CloudTrailEvent,
    settings: DetectionSettings,
    workflow: str,
    triggers: frozenset[tuple[str, str]],
    *,
    decides_failed_calls: bool = False,
) -> Detection | None:
    """An ``ignore`` detection for a call the workflow's detection must not see, else None.

    Run once by :func:`trailwarden.logic.decide.decide` before the detection: the app's
    own call, a failed call (unless the workflow ``decides_failed_calls`` itself: it
    declares a rule for them, as cloudtrail-tamper alerts on failed attempts; it must
    never act on one), a call that is not one of the workflow's ``triggers``.
    """
    if is_own_call(event, settings):
        return Detection(workflow, Outcome.IGNORE, Severity.INFO, "the app's own call")
    if event.error_code and not decides_failed_calls:
        return Detection(
            workflow,
            Outcome.IGNORE,
            Severity.INFO,
            f"failed call ({event.error_code}): nothing changed",
        )
    if not is_trigger(triggers, event.event_source, event.event_name):
        return Detection(
            workflow,
            Outcome.IGNORE,
            Severity.INFO,
            f"{event.event_name} from {event.event_source} is not one of {workflow}'s calls",
        )
    return None


def access_path(event: CloudTrailEvent) -> str:
    """How the call reached AWS: ``cloudformation``, ``console`` or ``api`` (SDK, CLI, other).

    The console marks its calls with ``sessionCredentialFromConsole`` and a console user
    agent; CloudFormation calls carry ``invokedBy`` / a ``cloudformation.amazonaws.com``
    user agent.
    """
    actor = event.actor
    if actor.via_cloudformation:
        return "cloudformation"
    from_console = event.envelope.detail.get("sessionCredentialFromConsole")
    if actor.via_console or from_console in (True, "true"):
        return "console"
    return "api"


def as_list(value: Any) -> list[Any]:
    """CloudTrail logs lists as ``{"items": [...]}``, plain lists or single values."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        items = value.get("items")
        return list(items) if isinstance(items, list) else ([] if "items" in value else [value])
    if isinstance(value, list):
        return value
    return [value]


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def values_of(raw: Any, key: str) -> list[str]:
    """Read ``[{"userId": "1"}]``, ``{"items": [...]}`` or ``["1"]`` into strings (a
    CloudTrail list of shares, in any of the shapes it is logged in)."""
    out = []
    for item in as_list(raw):
        value = item.get(key) if isinstance(item, Mapping) else item
        if isinstance(value, str) and value:  # anything else is absent
            out.append(value)
    return out


_ACCOUNT_ID = re.compile(r"\d{12}")


def account_ids_in(values: list[str]) -> tuple[str, ...]:
    """The 12-digit account ids among ``values``, once each, in order: anything else
    names no account to remove."""
    return tuple(dict.fromkeys(v for v in values if _ACCOUNT_ID.fullmatch(v)))


def split_trusted(
    account_ids: tuple[str, ...], trusted: frozenset[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(untrusted, trusted) accounts of a share."""
    return (
        tuple(a for a in account_ids if a not in trusted),
        tuple(a for a in account_ids if a in trusted),
    )
