"""The event model: EventBridge envelopes and the CloudTrail records inside them.

Parsing is strict about shape and forgiving about content: anything that is not
a usable event raises :class:`InvalidEvent` with a clear reason, which callers
turn into a logged skip (never a crash loop, never a remediation).

This is the one place untrusted input is read. The envelope fields the app builds on
(region, account, ids, call names) are validated here, once: a region that is not a
region (huge, unicode, ``../``, a newline) or an id longer than any AWS writes is an
:class:`InvalidEvent`, never a crash later in a client, an ARN or a DynamoDB key. Every
other field is read with :func:`text_of` / :func:`mapping_of`, under one rule: a value
of the wrong type is absent (an object where a string belongs is no string at all).

Every event has a stable :attr:`CloudTrailEvent.key` for dedupe and audit: its own
``eventID``; for a record without one (CloudTrail ``eventVersion`` 1.0 wrote none) its
``requestID``; else ``sha256:`` and the hash of the canonical record.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from trailwarden.models import modes
from trailwarden.models.errors import InvalidEvent

CLOUDTRAIL_DETAIL_TYPE = modes.CLOUDTRAIL_DETAIL_TYPE  # defined with the Mode (modes.py)
# EventBridge cannot match events over 256 KB; treat larger input as invalid.
MAX_EVENT_BYTES = 256 * 1024
# Ids (eventID, requestID, the envelope id) are GUIDs in practice; nothing AWS writes is
# longer than this, and a DynamoDB key must stay well under its 2 KB limit.
MAX_ID_CHARS = 128
MAX_NAME_CHARS = 128  # eventName, eventSource, detail-type, source
# us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, us-isob-east-1, and the
# European Sovereign Cloud's eusc-de-east-1 (a four-letter partition prefix) ...
_REGION = re.compile(r"[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}")
MAX_REGION_CHARS = 32
_ACCOUNT = re.compile(r"\d{12}")
# Printable ASCII without spaces: an id never carries a newline into a log, key or message.
_ID = re.compile(r"[\x21-\x7e]+")


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
    key: str = ""  # the incident key (see event_key); set by parse_envelope

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
    key: str = ""  # the incident key (see record_key); set by parse_cloudtrail

    @property
    def failed(self) -> bool:
        return bool(self.error_code)


_NO_MAPPING: Mapping[str, Any] = MappingProxyType({})
_Frozen = TypeVar("_Frozen")
_set_attribute = object.__setattr__


def _built(cls: type[_Frozen], **fields: Any) -> _Frozen:
    """``cls(**fields)`` for a frozen dataclass given every one of its fields, the
    keywords becoming its ``__dict__`` at once: a frozen dataclass's ``__init__`` calls
    ``object.__setattr__`` once per field, ~3x dearer, and replay parses an event (an
    envelope, a record, its caller) for every record a rule takes."""
    built = object.__new__(cls)
    _set_attribute(built, "__dict__", fields)
    return built


def text_of(value: Any) -> str:
    """A string field: anything that is not a string is absent (``""``)."""
    return value if isinstance(value, str) else ""


def mapping_of(value: Any) -> Mapping[str, Any]:
    """An object field: anything that is not an object is absent (``{}``)."""
    # type() first: parsed JSON holds dicts, and the ABC check costs ~5x more
    return value if type(value) is dict or isinstance(value, Mapping) else {}


def canonical_hash(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value`` (sorted keys, no spaces)."""
    canonical = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def record_key(record: Mapping[str, Any]) -> str:
    """The stable key of a CloudTrail record: its ``eventID``, else its ``requestID``
    (records of ``eventVersion`` 1.0 carry none), else a hash of the canonical record.
    The same record gives the same key raw (replay) or inside an EventBridge event."""
    event_id = record.get("eventID")
    if event_id and type(event_id) is str:
        return event_id
    request_id = text_of(record.get("requestID"))
    if request_id and not _is_id(request_id):
        request_id = ""  # AWS writes it; one that is not an id is not trusted as a key
    return text_of(event_id) or request_id or canonical_hash(record)


def event_key(raw: Mapping[str, Any]) -> str:
    """The stable key of an EventBridge event: its CloudTrail record's key (record_key),
    else the envelope's own id, else a hash of the whole event."""
    detail = raw.get("detail")
    if raw.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE and (
        type(detail) is dict or isinstance(detail, Mapping)
    ):
        return record_key(detail)
    return text_of(raw.get("id")) or canonical_hash(raw)


def account_key(key: str, account: str, organization_mode: bool) -> str:
    """The incident key of an event of ``account``: in organisation mode
    ``account#<key>`` (one hub sees every account's events; EventBridge and two delivery
    paths may repeat one, never across accounts); in account mode the key itself."""
    return f"{account}#{key}" if organization_mode and account and key else key


def _is_id(value: str) -> bool:
    return len(value) <= MAX_ID_CHARS and _ID.fullmatch(value) is not None


def _checked_id(value: str, what: str) -> str:
    if value and not _is_id(value):
        raise InvalidEvent(f"{what} is not an id ({len(value)} characters)")
    return value


def checked_region(value: str, what: str) -> str:
    if value and (len(value) > MAX_REGION_CHARS or not _REGION.fullmatch(value)):
        raise InvalidEvent(f"{what} is not an AWS region ({len(value)} characters)")
    return value


def _checked_account(value: str, what: str) -> str:
    if value and not _ACCOUNT.fullmatch(value):
        raise InvalidEvent(f"{what} is not a 12-digit account id")
    return value


def _checked_name(value: str, what: str) -> str:
    if len(value) > MAX_NAME_CHARS or not value.isprintable():
        raise InvalidEvent(f"{what} is not a name ({len(value)} characters)")
    return value


def parse_envelope(raw: Any, *, size_bound: int | None = None) -> Envelope:
    """Parse an EventBridge event of any source. Raises InvalidEvent.

    ``size_bound``: an upper bound of the event's JSON size the caller already knows
    (replay, from the bytes it parsed the event from); at most MAX_EVENT_BYTES spares
    serialising the event to measure it.
    """
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise InvalidEvent(f"event is a {type(raw).__name__}, not an object")
    if size_bound is None or size_bound > MAX_EVENT_BYTES:
        try:
            size = len(json.dumps(raw, default=str))
        except (TypeError, ValueError) as err:
            raise InvalidEvent(f"event is not JSON-serialisable: {err}") from err
        if size > MAX_EVENT_BYTES:
            raise InvalidEvent(f"event is {size} bytes, over EventBridge's 256 KB limit")
    get = raw.get
    detail = get("detail")
    if type(detail) is not dict and not isinstance(detail, Mapping):
        raise InvalidEvent("event has no 'detail' object")
    resources = get("resources")
    # The readers inlined (text_of): this runs once per event, replay's hot path.
    event_id, source, detail_type = get("id"), get("source"), get("detail-type")
    account, region, time = get("account"), get("region"), get("time")
    return _built(
        Envelope,
        id=_checked_id(event_id if isinstance(event_id, str) else "", "the event id"),
        source=_checked_name(source if isinstance(source, str) else "", "source"),
        detail_type=_checked_name(
            detail_type if isinstance(detail_type, str) else "", "detail-type"
        ),
        account=_checked_account(account if isinstance(account, str) else "", "account"),
        region=checked_region(region if isinstance(region, str) else "", "region"),
        time=time if isinstance(time, str) else "",
        detail=detail,
        resources=tuple(r for r in resources if isinstance(r, str))
        if resources and isinstance(resources, list)
        else (),
        key=event_key(raw),
    )


def _error_code(value: Any) -> str | None:
    """A failed call's errorCode. Anything there but null or "" means the call failed:
    a value of the wrong type must never turn a failed call into a successful one."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else f"<{type(value).__name__}>"


def parse_actor(detail: Mapping[str, Any]) -> Actor:
    # mapping_of and text_of inlined: this runs once per event, replay's hot path.
    # (None, absent, before the Mapping ABC check: ~5x dearer than the type checks)
    identity = detail.get("userIdentity")
    if type(identity) is not dict and (identity is None or not isinstance(identity, Mapping)):
        identity = _NO_MAPPING
    session = identity.get("sessionContext")
    if type(session) is not dict and (session is None or not isinstance(session, Mapping)):
        session = _NO_MAPPING
    issuer = session.get("sessionIssuer")
    if type(issuer) is not dict and (issuer is None or not isinstance(issuer, Mapping)):
        issuer = _NO_MAPPING
    attributes = session.get("attributes")
    if type(attributes) is not dict and (attributes is None or not isinstance(attributes, Mapping)):
        attributes = _NO_MAPPING
    mfa = attributes.get("mfaAuthenticated")
    kind, arn, account = identity.get("type"), identity.get("arn"), identity.get("accountId")
    issuer_arn, invoked_by = issuer.get("arn"), identity.get("invokedBy")
    source_ip, user_agent = detail.get("sourceIPAddress"), detail.get("userAgent")
    return _built(
        Actor,
        type=kind if isinstance(kind, str) else "",
        arn=arn if isinstance(arn, str) else "",
        account_id=account if isinstance(account, str) else "",
        session_issuer_arn=issuer_arn if isinstance(issuer_arn, str) else "",
        invoked_by=invoked_by if isinstance(invoked_by, str) else "",
        mfa_authenticated=mfa is True or mfa == "true",
        source_ip=source_ip if isinstance(source_ip, str) else "",
        user_agent=user_agent if isinstance(user_agent, str) else "",
    )


def parse_cloudtrail(envelope: Envelope) -> CloudTrailEvent:
    """Read the CloudTrail record inside an envelope. Raises InvalidEvent."""
    if envelope.detail_type != CLOUDTRAIL_DETAIL_TYPE:
        raise InvalidEvent(f"detail-type {envelope.detail_type!r} is not a CloudTrail API call")
    detail = envelope.detail
    get = detail.get
    event_name, event_source = get("eventName"), get("eventSource")
    if not (event_name and isinstance(event_name, str)):
        raise InvalidEvent("CloudTrail record has no eventName")
    if not (event_source and isinstance(event_source, str)):
        raise InvalidEvent("CloudTrail record has no eventSource")
    request = get("requestParameters")
    response = get("responseElements")
    if request is not None and type(request) is not dict and not isinstance(request, Mapping):
        raise InvalidEvent("requestParameters is not an object")
    # A value equal to the envelope's was validated there (replay wraps a record in an
    # envelope made of its own fields; EventBridge copies them too): checked once.
    region = get("awsRegion")
    region = region if isinstance(region, str) else ""
    if region != envelope.region:
        region = checked_region(region, "awsRegion")
    region = region or envelope.region
    if not region:
        raise InvalidEvent("CloudTrail record has no awsRegion")
    event_id = get("eventID")
    event_id = event_id if isinstance(event_id, str) else ""
    if event_id != envelope.id:
        event_id = _checked_id(event_id, "eventID")
    event_name = _checked_name(event_name, "eventName")
    event_source = _checked_name(event_source, "eventSource")
    account = get("recipientAccountId")
    account = account if isinstance(account, str) else ""
    if account != envelope.account:
        account = _checked_account(account, "recipientAccountId")
    event_time, error_message = get("eventTime"), get("errorMessage")
    return _built(
        CloudTrailEvent,
        envelope=envelope,
        # eventVersion 1.0 records have no eventID: decided on their content all the same
        event_id=event_id,
        event_name=event_name,
        event_source=event_source,
        event_time=(event_time if isinstance(event_time, str) else "") or envelope.time,
        aws_region=region,
        account_id=account or envelope.account,
        actor=parse_actor(detail),
        error_code=_error_code(get("errorCode")),
        error_message=(error_message if isinstance(error_message, str) else "") or None,
        request=request or {},
        response=response
        if type(response) is dict or (response is not None and isinstance(response, Mapping))
        else {},
        key=envelope.key,
    )


def wrap_cloudtrail_record(record: Mapping[str, Any], *, copy: bool = True) -> dict[str, Any]:
    """Wrap a raw CloudTrail log record the way EventBridge delivers it.

    ``copy=False``: the event's detail is ``record`` itself (replay, which reads each
    freshly parsed record once and changes neither)."""
    # text_of inlined: replay wraps every record a rule may take.
    get = record.get
    source, event_id = get("eventSource"), get("eventID")
    account, time, region = get("recipientAccountId"), get("eventTime"), get("awsRegion")
    return {
        "version": "0",
        "id": event_id if isinstance(event_id, str) else "",
        "detail-type": CLOUDTRAIL_DETAIL_TYPE,
        "source": "aws." + source.split(".", 1)[0] if source and isinstance(source, str) else "",
        "account": account if isinstance(account, str) else "",
        "time": time if isinstance(time, str) else "",
        "region": region if isinstance(region, str) else "",
        "resources": [],
        "detail": dict(record) if copy or type(record) is not dict else record,
    }
