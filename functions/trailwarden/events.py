"""The event model: EventBridge envelopes and the CloudTrail records inside them.

Parsing is strict about shape and forgiving about content: anything that is not
a usable event raises :class:`InvalidEvent` with a clear reason, which callers
turn into a logged skip (never a crash loop, never a remediation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trailwarden.errors import InvalidEvent

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# EventBridge cannot match events over 256 KB; treat larger input as invalid.
MAX_EVENT_BYTES = 256 * 1024


@dataclass(frozen=True)
class Envelope:
    """An EventBridge event, any source."""

    id: str
    source: str
    detail_type: str
    account: str
    region: str
    time: str
    detail: Mapping[str, Any]
    resources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": "0",
            "id": self.id,
            "detail-type": self.detail_type,
            "source": self.source,
            "account": self.account,
            "time": self.time,
            "region": self.region,
            "resources": list(self.resources),
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class Actor:
    """Who made a CloudTrail call (``userIdentity`` plus where it came from)."""

    type: str
    arn: str
    account_id: str
    session_issuer_arn: str
    invoked_by: str
    mfa_authenticated: bool
    source_ip: str
    user_agent: str

    @property
    def via_cloudformation(self) -> bool:
        return self.invoked_by == "cloudformation.amazonaws.com" or self.user_agent.startswith(
            "cloudformation.amazonaws.com"
        )

    @property
    def via_console(self) -> bool:
        return "console" in self.user_agent.lower() or self.source_ip.endswith(
            "console.amazonaws.com"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "arn": self.arn,
            "accountId": self.account_id,
            "sessionIssuerArn": self.session_issuer_arn,
            "invokedBy": self.invoked_by,
            "mfaAuthenticated": self.mfa_authenticated,
            "sourceIp": self.source_ip,
            "userAgent": self.user_agent,
        }


@dataclass(frozen=True)
class CloudTrailEvent:
    """One CloudTrail management event as delivered by EventBridge."""

    envelope: Envelope
    event_id: str
    event_name: str
    event_source: str
    event_time: str
    aws_region: str
    account_id: str
    actor: Actor
    error_code: str | None
    error_message: str | None
    request: Mapping[str, Any] = field(default_factory=dict)
    response: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return bool(self.error_code)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_envelope(raw: Any, *, size_bound: int | None = None) -> Envelope:
    """Parse an EventBridge event of any source. Raises InvalidEvent.

    ``size_bound``: an upper bound of the event's JSON size the caller already knows
    (replay, from the bytes it parsed the event from); at most MAX_EVENT_BYTES spares
    serialising the event to measure it.
    """
    if not isinstance(raw, Mapping):
        raise InvalidEvent(f"event is a {type(raw).__name__}, not an object")
    if size_bound is None or size_bound > MAX_EVENT_BYTES:
        try:
            size = len(json.dumps(raw, default=str))
        except (TypeError, ValueError) as err:
            raise InvalidEvent(f"event is not JSON-serialisable: {err}") from err
        if size > MAX_EVENT_BYTES:
            raise InvalidEvent(f"event is {size} bytes, over EventBridge's 256 KB limit")
    detail = raw.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEvent("event has no 'detail' object")
    resources = raw.get("resources")
    return Envelope(
        id=_text(raw.get("id")),
        source=_text(raw.get("source")),
        detail_type=_text(raw.get("detail-type")),
        account=_text(raw.get("account")),
        region=_text(raw.get("region")),
        time=_text(raw.get("time")),
        detail=detail,
        resources=tuple(r for r in resources if isinstance(r, str))
        if isinstance(resources, list)
        else (),
    )


def parse_actor(detail: Mapping[str, Any]) -> Actor:
    identity = _mapping(detail.get("userIdentity"))
    session = _mapping(identity.get("sessionContext"))
    issuer = _mapping(session.get("sessionIssuer"))
    attributes = _mapping(session.get("attributes"))
    mfa = attributes.get("mfaAuthenticated")
    return Actor(
        type=_text(identity.get("type")),
        arn=_text(identity.get("arn")),
        account_id=_text(identity.get("accountId")),
        session_issuer_arn=_text(issuer.get("arn")),
        invoked_by=_text(identity.get("invokedBy")),
        mfa_authenticated=mfa is True or mfa == "true",
        source_ip=_text(detail.get("sourceIPAddress")),
        user_agent=_text(detail.get("userAgent")),
    )


def parse_cloudtrail(envelope: Envelope) -> CloudTrailEvent:
    """Read the CloudTrail record inside an envelope. Raises InvalidEvent."""
    if envelope.detail_type != CLOUDTRAIL_DETAIL_TYPE:
        raise InvalidEvent(f"detail-type {envelope.detail_type!r} is not a CloudTrail API call")
    detail = envelope.detail
    for key in ("eventID", "eventName", "eventSource"):
        if not isinstance(detail.get(key), str) or not detail.get(key):
            raise InvalidEvent(f"CloudTrail record has no {key}")
    request = detail.get("requestParameters")
    response = detail.get("responseElements")
    if request is not None and not isinstance(request, Mapping):
        raise InvalidEvent("requestParameters is not an object")
    return CloudTrailEvent(
        envelope=envelope,
        event_id=detail["eventID"],
        event_name=detail["eventName"],
        event_source=detail["eventSource"],
        event_time=_text(detail.get("eventTime")) or envelope.time,
        aws_region=_text(detail.get("awsRegion")) or envelope.region,
        account_id=_text(detail.get("recipientAccountId")) or envelope.account,
        actor=parse_actor(detail),
        error_code=_text(detail.get("errorCode")) or None,
        error_message=_text(detail.get("errorMessage")) or None,
        request=request or {},
        response=_mapping(response),
    )


def wrap_cloudtrail_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a raw CloudTrail log record the way EventBridge delivers it."""
    source = _text(record.get("eventSource"))
    return {
        "version": "0",
        "id": _text(record.get("eventID")),
        "detail-type": CLOUDTRAIL_DETAIL_TYPE,
        "source": "aws." + source.split(".", 1)[0] if source else "",
        "account": _text(record.get("recipientAccountId")),
        "time": _text(record.get("eventTime")),
        "region": _text(record.get("awsRegion")),
        "resources": [],
        "detail": dict(record),
    }
