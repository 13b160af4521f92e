"""Checks every detection shares: failed calls and the app's own calls."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.settings import DetectionSettings


def is_own_call(event: CloudTrailEvent, settings: DetectionSettings) -> bool:
    """True when one of the app's own roles made the call (exact role ARN, never a prefix)."""
    actor = event.actor
    return actor.type == "AssumedRole" and actor.session_issuer_arn in settings.own_role_arns


def precheck(
    event: CloudTrailEvent, settings: DetectionSettings, workflow: str
) -> Detection | None:
    """Return an ``ignore`` detection for calls no workflow may act on, else None."""
    if is_own_call(event, settings):
        return Detection(workflow, Outcome.IGNORE, Severity.INFO, "the app's own call")
    if event.failed:
        return Detection(
            workflow,
            Outcome.IGNORE,
            Severity.INFO,
            f"failed call ({event.error_code}): nothing changed",
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
