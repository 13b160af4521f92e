"""cloudtrail-tamper: someone blinds the account by stopping, deleting or weakening a trail.

EventBridge only sees CloudTrail API events while a trail is logging, so this workflow
keeps every other one alive:

* ``StopLogging`` -> act (StartLogging in the trail's home region); ``name`` is a trail
  name or a trail ARN.
* ``DeleteTrail`` -> critical alert (nothing to restart).
* ``UpdateTrail`` -> alert only when the update weakens logging; strengthening is ignored.
* ``PutEventSelectors`` -> alert when management events are excluded or narrowed, in basic
  ``eventSelectors`` and in ``advancedEventSelectors``.
* ``StartLogging`` -> nothing.
* A failed attempt at any of these (``errorCode``) is an info alert, never an action.
* The scheduled backstop (``source: trailwarden.backstop``) reports trails it found not
  logging without any event: act, exactly like ``StopLogging``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.workflows.cloudtrail_tamper import DECLARATION
from trailwarden.workflows.common import as_list, text_of

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent, Envelope
    from trailwarden.models.settings import DetectionSettings

WORKFLOW = DECLARATION.id
EVENT_SOURCE = "cloudtrail.amazonaws.com"
TAMPER_CALLS = ("StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors")
TRIGGERS = frozenset((EVENT_SOURCE, name) for name in (*TAMPER_CALLS, "StartLogging"))
RESOURCE_TYPE = "AWS::CloudTrail::Trail"

# The synthetic events the scheduled backstop sends (contract between backstop.py and here).
BACKSTOP_SOURCE = "trailwarden.backstop"
TRAIL_NOT_LOGGING = "Trail Not Logging"
WATCHED_TRAIL_MISSING = "Watched Trail Missing"
NO_LOGGING_TRAIL = "No Logging Trail"
# Organisation mode: the backstop could not check a member (its role missing or denying).
MEMBER_UNREACHABLE = "Member Unreachable"
ENVELOPE_TRIGGERS = frozenset(
    (BACKSTOP_SOURCE, kind)
    for kind in (TRAIL_NOT_LOGGING, WATCHED_TRAIL_MISSING, NO_LOGGING_TRAIL, MEMBER_UNREACHABLE)
)
UNKNOWN = "unknown"


def is_trail_arn(value: str) -> bool:
    return value.startswith("arn:") and ":cloudtrail:" in value and ":trail/" in value


def trail_name_of(name_or_arn: str) -> str:
    """``arn:aws:cloudtrail:us-east-1:1:trail/main`` -> ``main``; a name stays a name."""
    return name_or_arn.rsplit(":trail/", 1)[1] if is_trail_arn(name_or_arn) else name_or_arn


def arn_region(name_or_arn: str) -> str:
    """The region of a trail ARN (its home region), or "" for a plain name."""
    parts = name_or_arn.split(":")
    return parts[3] if is_trail_arn(name_or_arn) and len(parts) > 5 else ""


def _flag(request: Mapping[str, Any], key: str) -> bool | None:
    """A boolean request parameter (CloudTrail logs real booleans; tolerate strings)."""
    value = request.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


# ------------------------------------------------------------------ UpdateTrail


@dataclass(frozen=True)
class Weakening:
    """One way a request weakens logging."""

    what: str
    severity: Severity = Severity.CRITICAL


def update_trail_weakenings(request: Mapping[str, Any]) -> tuple[Weakening, ...]:
    """What an UpdateTrail request turns off or redirects (empty: strengthens or keeps)."""
    found: list[Weakening] = []
    if _flag(request, "isMultiRegionTrail") is False:
        found.append(Weakening("multi-region logging turned off"))
    if _flag(request, "includeGlobalServiceEvents") is False:
        found.append(Weakening("global service events (IAM, STS...) turned off"))
    if _flag(request, "enableLogFileValidation") is False:
        found.append(Weakening("log-file validation turned off"))
    if _flag(request, "isOrganizationTrail") is False:
        found.append(Weakening("organization trail turned into an account trail"))
    if "s3BucketName" in request:
        bucket = text_of(request.get("s3BucketName"))
        found.append(Weakening(f"log bucket changed to {bucket or '(none)'}"))
    if "kmsKeyId" in request:
        key = text_of(request.get("kmsKeyId"))
        found.append(
            Weakening(f"KMS key changed to {key}", Severity.HIGH)
            if key
            else Weakening("KMS encryption of log files removed")
        )
    if "cloudWatchLogsLogGroupArn" in request and not text_of(
        request.get("cloudWatchLogsLogGroupArn")
    ):
        found.append(Weakening("CloudWatch Logs delivery removed", Severity.HIGH))
    return tuple(found)


# ------------------------------------------------------------------ event selectors


def _basic_selector_weakenings(selectors: list[Any]) -> tuple[Weakening, ...]:
    """Basic selectors: IncludeManagementEvents and ReadWriteType default to true / All."""
    management: list[Mapping[str, Any]] = []
    for selector in selectors:
        if not isinstance(selector, Mapping):
            continue
        if _flag(selector, "includeManagementEvents") is not False:
            management.append(selector)
    if not management:
        return (Weakening("management events excluded (includeManagementEvents false)"),)
    found: list[Weakening] = []
    kinds = {text_of(s.get("readWriteType")) or "All" for s in management}
    if "All" not in kinds and not {"ReadOnly", "WriteOnly"} <= kinds:
        only = "/".join(sorted(kinds))
        severity = Severity.CRITICAL if "WriteOnly" not in kinds else Severity.HIGH
        found.append(Weakening(f"management events narrowed to {only}", severity))
    excluded = sorted(
        {
            text_of(source)
            for s in management
            for source in as_list(s.get("excludeManagementEventSources"))
            if text_of(source)
        }
    )
    # Only a source excluded by *every* management selector is really dropped.
    excluded = [
        source
        for source in excluded
        if all(source in as_list(s.get("excludeManagementEventSources")) for s in management)
    ]
    if excluded:
        found.append(
            Weakening(f"management events from {', '.join(excluded)} excluded", Severity.HIGH)
        )
    return tuple(found)


@dataclass(frozen=True)
class _FieldSelector:
    field: str
    operators: Mapping[str, tuple[str, ...]]  # equals / notEquals / startsWith ... -> values

    @property
    def text(self) -> str:
        parts = [f"{op} {list(values)}" for op, values in sorted(self.operators.items())]
        return f"{self.field} {' '.join(parts)}"


def _field_selectors(selector: Mapping[str, Any]) -> list[_FieldSelector]:
    out = []
    for raw in as_list(selector.get("fieldSelectors")):
        if not isinstance(raw, Mapping):
            continue
        operators = {
            key: tuple(text_of(v) for v in as_list(value))
            for key, value in raw.items()
            if key != "field" and as_list(value)
        }
        out.append(_FieldSelector(text_of(raw.get("field")), operators))
    return out


def _selects_management(fields: list[_FieldSelector]) -> bool:
    for field in fields:
        if field.field == "eventCategory":
            return "Management" in field.operators.get("equals", ())
    return False


def _advanced_selector_weakenings(selectors: list[Any]) -> tuple[Weakening, ...]:
    """Advanced selectors: a management selector has ``eventCategory equals [Management]``;
    any further field selector on it (readOnly, eventSource, eventName, userIdentity.arn
    ...) narrows what is logged."""
    management = [
        fields
        for fields in (_field_selectors(s) for s in selectors if isinstance(s, Mapping))
        if _selects_management(fields)
    ]
    if not management:
        return (Weakening("advanced event selectors log no management events"),)
    read_only_seen: set[str] = set()
    narrowing: list[str] = []
    for fields in management:
        restrictions = [f for f in fields if f.field != "eventCategory"]
        if not restrictions:
            return ()  # one unrestricted management selector logs every management event
        read_only = [f for f in restrictions if f.field == "readOnly"]
        others = [f for f in restrictions if f.field != "readOnly"]
        if not others and len(read_only) == 1 and set(read_only[0].operators) == {"equals"}:
            read_only_seen.update(v.lower() for v in read_only[0].operators["equals"])
            continue
        narrowing.extend(f.text for f in restrictions)
    if {"true", "false"} <= read_only_seen:
        return ()  # a read-only selector plus a write-only selector cover everything
    found: list[Weakening] = []
    if read_only_seen:
        only = "ReadOnly" if read_only_seen == {"true"} else "WriteOnly"
        severity = Severity.CRITICAL if only == "ReadOnly" else Severity.HIGH
        found.append(Weakening(f"management events narrowed to {only}", severity))
    if narrowing:
        found.append(
            Weakening("management events narrowed by " + "; ".join(dict.fromkeys(narrowing)))
        )
    return tuple(found)


def event_selector_weakenings(request: Mapping[str, Any]) -> tuple[Weakening, ...] | None:
    """What a PutEventSelectors request drops; None when it carries no selectors at all."""
    if "advancedEventSelectors" in request:
        return _advanced_selector_weakenings(as_list(request.get("advancedEventSelectors")))
    if "eventSelectors" in request:
        return _basic_selector_weakenings(as_list(request.get("eventSelectors")))
    return None


# ------------------------------------------------------------------ detect


def _classify(event: CloudTrailEvent) -> Detection:
    """The outcome of a call as if it succeeded (failed calls are downgraded by detect)."""
    request = event.request
    name = event.event_name
    key = "trailName" if name == "PutEventSelectors" else "name"
    trail = text_of(request.get(key))
    if name not in TAMPER_CALLS:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, f"{name} does not weaken logging")
    if not trail:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, f"no trail named in {name}")
    who = event.actor.arn or event.actor.type or "unknown caller"
    facts: dict[str, Any] = {
        "trail": trail_name_of(trail),
        "trailArn": trail if is_trail_arn(trail) else "",
        "call": name,
    }

    def found(outcome: Outcome, severity: Severity, reason: str) -> Detection:
        return Detection(WORKFLOW, outcome, severity, reason, RESOURCE_TYPE, trail, facts)

    if name == "StopLogging":
        return found(Outcome.ACT, Severity.CRITICAL, f"logging stopped on trail {trail} by {who}")
    if name == "DeleteTrail":
        facts["onlyLoggingTrail"] = UNKNOWN  # a live fact: enrich() reads it when it can
        return found(
            Outcome.ALERT,
            Severity.CRITICAL,
            f"trail {trail} deleted by {who}; nothing to restart",
        )
    if name == "UpdateTrail":
        weakenings = update_trail_weakenings(request)
    else:
        selectors = event_selector_weakenings(request)
        if selectors is None:
            return found(Outcome.IGNORE, Severity.INFO, "PutEventSelectors without selectors")
        weakenings = selectors
    if not weakenings:
        return found(Outcome.IGNORE, Severity.INFO, f"{name} on {trail} does not weaken logging")
    facts["weakenings"] = [w.what for w in weakenings]
    severity = (
        Severity.CRITICAL
        if any(w.severity is Severity.CRITICAL for w in weakenings)
        else Severity.HIGH
    )
    return found(
        Outcome.ALERT,
        severity,
        f"{name} weakened logging on trail {trail} ({'; '.join(facts['weakenings'])}) by {who}",
    )


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    """The call's outcome; a failed call (the shared precheck hands those over) is an info
    alert when the call would have stopped, deleted or weakened a trail, else ignored."""
    detection = _classify(event)
    if not event.failed:
        return detection
    if detection.outcome is Outcome.IGNORE:
        return Detection(
            WORKFLOW,
            Outcome.IGNORE,
            Severity.INFO,
            f"failed call ({event.error_code}): nothing changed",
        )
    # A failed attempt is worth knowing about, never worth acting on.
    return Detection(
        WORKFLOW,
        Outcome.ALERT,
        Severity.INFO,
        f"failed {event.event_name} attempt on trail {detection.resource_id} "
        f"({event.error_code}): nothing changed",
        detection.resource_type,
        detection.resource_id,
        {**detection.facts, "errorCode": event.error_code, "failedAttempt": True},
    )


def detect_envelope(envelope: Envelope, settings: DetectionSettings) -> Detection:
    """The scheduled backstop's synthetic events (not CloudTrail records)."""
    if envelope.source != BACKSTOP_SOURCE:
        return Detection(
            WORKFLOW, Outcome.IGNORE, Severity.INFO, f"unexpected source {envelope.source!r}"
        )
    detail = envelope.detail
    trail_arn = text_of(detail.get("trailArn"))
    trail = text_of(detail.get("trailName")) or trail_name_of(trail_arn)
    facts: dict[str, Any] = {
        "trail": trail,
        "trailArn": trail_arn,
        "homeRegion": text_of(detail.get("homeRegion")) or arn_region(trail_arn),
        "foundBy": "backstop",
    }
    if envelope.detail_type == TRAIL_NOT_LOGGING and (trail_arn or trail):
        return Detection(
            WORKFLOW,
            Outcome.ACT,
            Severity.CRITICAL,
            f"trail {trail} found not logging by the scheduled check "
            "(its StopLogging event was missed or never delivered)",
            RESOURCE_TYPE,
            trail_arn or trail,
            facts,
        )
    if envelope.detail_type == WATCHED_TRAIL_MISSING and trail:
        return Detection(
            WORKFLOW,
            Outcome.ALERT,
            Severity.CRITICAL,
            f"watched trail {trail} no longer exists in {envelope.region}",
            RESOURCE_TYPE,
            trail,
            facts,
        )
    if envelope.detail_type == NO_LOGGING_TRAIL:
        return Detection(
            WORKFLOW,
            Outcome.ALERT,
            Severity.CRITICAL,
            f"no trail logs region {envelope.region}: EventBridge receives no CloudTrail "
            "events there, so no workflow of this app can fire",
            RESOURCE_TYPE,
            envelope.region,
            {"region": envelope.region, "foundBy": "backstop"},
        )
    if envelope.detail_type == MEMBER_UNREACHABLE:
        cause = text_of(detail.get("cause"))
        return Detection(
            WORKFLOW,
            Outcome.ALERT,
            Severity.CRITICAL,
            f"cannot reach account {envelope.account}: role missing or denying the call; "
            "the logging backstop cannot check its trails" + (f" ({cause})" if cause else ""),
            "AWS::IAM::Role",
            text_of(detail.get("roleArn")) or envelope.account,
            {
                "region": envelope.region,
                "foundBy": "backstop",
                "regions": [text_of(r) for r in as_list(detail.get("regions"))],
            },
        )
    return Detection(
        WORKFLOW, Outcome.IGNORE, Severity.INFO, f"unexpected detail-type {envelope.detail_type!r}"
    )
