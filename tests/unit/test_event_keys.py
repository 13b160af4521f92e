"""Envelope fields are validated once where the event is parsed; every event has a stable
incident key (eventID, else requestID, else a hash of the record) and the incidents
table keys long or odd ones by a hash."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import load_event
from trailwarden.dal.incidents import IncidentStore, item_key
from trailwarden.logic.alert import alert
from trailwarden.models.errors import InvalidEvent
from trailwarden.models.events import (
    parse_cloudtrail,
    parse_envelope,
    record_key,
    wrap_cloudtrail_record,
)
from trailwarden.models.findings import Verdict
from trailwarden.models.settings import DetectionSettings, NotifySettings
from trailwarden.notify.email import EmailSink
from trailwarden.workflows.registry import BY_ID

GUID = "5c1d2e3f-aaaa-bbbb-cccc-000000000001"


def create_user(**detail_changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("iam-user-change/create-user.json"))
    event["detail"].update(detail_changes)
    return event


def version_1_0_record(**changes: Any) -> dict[str, Any]:
    """A CloudTrail record as eventVersion 1.0 wrote it: no eventID."""
    record = dict(create_user()["detail"], eventVersion="1.0", **changes)
    del record["eventID"]
    return record


class Sns:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.messages.append(str(kwargs["Message"]))
        return {"MessageId": "1"}


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="incidents",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def store_of(ddb: Any) -> IncidentStore:
    return IncidentStore(ddb, "incidents", dedupe_ttl_seconds=3600)


def test_record_without_event_id_is_decided_on_its_content() -> None:
    event = parse_cloudtrail(parse_envelope(wrap_cloudtrail_record(version_1_0_record())))

    assert event.event_id == ""
    assert event.event_name == "CreateUser"
    assert event.key == create_user()["detail"]["requestID"]


def test_record_without_event_or_request_id_is_keyed_by_a_stable_hash() -> None:
    record = version_1_0_record()
    del record["requestID"]

    wrapped = parse_cloudtrail(parse_envelope(wrap_cloudtrail_record(record))).key
    other = version_1_0_record(eventTime="2026-01-01T00:00:00Z")
    del other["requestID"]

    assert wrapped.startswith("sha256:")
    assert wrapped == record_key(copy.deepcopy(record))
    assert record_key(other) != wrapped


def test_a_request_id_that_is_not_an_id_falls_back_to_the_hash() -> None:
    record = version_1_0_record(requestID="x" * 5000)

    assert record_key(record).startswith("sha256:")


def test_an_event_id_of_the_wrong_type_is_absent_not_a_crash() -> None:
    event = parse_cloudtrail(parse_envelope(create_user(eventID={"S": GUID})))

    assert event.event_id == ""
    assert event.key == create_user()["detail"]["requestID"]


@pytest.mark.parametrize(
    "region",
    ["us-east-1" * 100, "../../etc/passwd", "us-east-1\n", "us-east-1\u202e", "US-EAST-1", "0"],
)
def test_a_region_that_is_not_a_region_is_an_invalid_event(region: str) -> None:
    with pytest.raises(InvalidEvent, match="region"):
        parse_cloudtrail(parse_envelope(create_user(awsRegion=region)))


@pytest.mark.parametrize(
    "region", ["us-east-1", "us-gov-west-1", "cn-northwest-1", "us-isob-east-1", "eusc-de-east-1"]
)
def test_real_region_shapes_are_accepted(region: str) -> None:
    assert parse_cloudtrail(parse_envelope(create_user(awsRegion=region))).aws_region == region


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eventID", "e" * 2049),
        ("eventID", "has space"),
        ("recipientAccountId", "1234"),
        ("eventName", "Create\nUser"),
        ("eventSource", "iam." + "a" * 200),
    ],
)
def test_hostile_record_fields_are_invalid_events(field: str, value: str) -> None:
    with pytest.raises(InvalidEvent):
        parse_cloudtrail(parse_envelope(create_user(**{field: value})))


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", "i" * 200), ("account", "acct"), ("region", "x/../y"), ("detail-type", "x" * 500)],
)
def test_hostile_envelope_fields_are_invalid_events(field: str, value: str) -> None:
    with pytest.raises(InvalidEvent):
        parse_envelope({**create_user(), field: value})


def test_guid_keys_stay_readable_and_any_other_key_is_hashed() -> None:
    assert item_key("dedupe", GUID) == f"dedupe#{GUID}"
    assert item_key("audit", "sha256:abc").startswith("audit#sha256:")
    assert len(item_key("dedupe", "e" * 100_000)) < 80


def test_an_event_id_over_2_kb_is_claimed_once_under_a_hashed_key(ddb: Any) -> None:
    store = store_of(ddb)
    long_key = "e" * 3000

    first, second = store.claim(long_key, "iam-user-change"), store.claim(long_key, "x")

    assert (first, second) == (True, False)
    (item,) = ddb.scan(TableName="incidents")["Items"]
    assert item["pk"]["S"] == item_key("dedupe", long_key)
    assert len(item["key"]["S"]) <= 256


def test_a_version_1_0_record_alerts_once_and_is_audited_under_its_request_id(ddb: Any) -> None:
    store, sns = store_of(ddb), Sns()
    event = wrap_cloudtrail_record(version_1_0_record())
    args = (BY_ID["iam-user-change"], DetectionSettings(), lambda *_a: None, store)
    notify = NotifySettings(topic_arn="arn:aws:sns:us-east-1:123456789012:alerts")

    sinks = [EmailSink(sns, notify.topic_arn)]
    first = alert(event, *args, notify, sinks)
    again = alert(copy.deepcopy(event), *args, notify, sinks)

    request_id = create_user()["detail"]["requestID"]
    assert first["verdict"] == Verdict.ALERT
    assert first["event_id"] == ""
    assert first["key"] == request_id
    assert again["verdict"] == Verdict.IGNORE
    assert again["reason"] == "duplicate delivery"
    assert len(sns.messages) == 1
    audit = ddb.get_item(TableName="incidents", Key={"pk": {"S": item_key("audit", request_id)}})
    assert "Item" in audit


@pytest.mark.parametrize("code", [403, {"code": "AccessDenied"}, ["AccessDenied"], True])
def test_an_error_code_of_the_wrong_type_still_marks_the_call_failed(code: Any) -> None:
    event = load_event("ami-exposure/made-public.json")
    event["detail"]["errorCode"] = code

    parsed = parse_cloudtrail(parse_envelope(event))

    assert parsed.failed


def test_a_wrapped_record_is_copied_unless_the_caller_gives_it_away() -> None:
    record = version_1_0_record()

    copied = wrap_cloudtrail_record(record)
    shared = wrap_cloudtrail_record(record, copy=False)

    assert copied["detail"] == record
    assert copied["detail"] is not record
    assert shared["detail"] is record
    assert {**shared, "detail": None} == {**copied, "detail": None}


def test_parsed_events_are_the_frozen_values_their_constructors_build() -> None:
    from dataclasses import FrozenInstanceError, fields

    from trailwarden.models.events import Actor, CloudTrailEvent, Envelope

    envelope = parse_envelope(create_user())
    event = parse_cloudtrail(envelope)

    for value, cls in ((envelope, Envelope), (event, CloudTrailEvent), (event.actor, Actor)):
        assert type(value) is cls
        assert set(vars(value)) == {f.name for f in fields(cls)}
        assert value == cls(**vars(value))
        with pytest.raises(FrozenInstanceError):
            value.key = "changed"  # type: ignore[misc]


def test_decisions_and_detections_are_the_frozen_values_their_constructors_build() -> None:
    """decide() builds its context and decision, and a Detection is built, with their
    fields as their __dict__ at once: the same values, as frozen, as the dataclasses'."""
    from dataclasses import FrozenInstanceError, fields, replace

    from trailwarden.logic.decide import Decision, EventContext, decide
    from trailwarden.models.findings import Detection, Outcome, Severity

    decision = decide(create_user(), BY_ID["iam-user-change"], DetectionSettings())
    detection = decision.detection

    for value, cls in (
        (decision, Decision),
        (decision.context, EventContext),
        (detection, Detection),
    ):
        assert type(value) is cls
        assert list(vars(value)) == [f.name for f in fields(cls)]
        assert value == cls(**vars(value))
        with pytest.raises(FrozenInstanceError):
            value.reason = "changed"  # type: ignore[union-attr]
    short = Detection("w", Outcome.ALERT, Severity.HIGH, "why")
    assert vars(short) == {
        "workflow": "w",
        "outcome": Outcome.ALERT,
        "severity": Severity.HIGH,
        "reason": "why",
        "resource_type": "",
        "resource_id": "",
        "facts": {},
    }
    assert short.facts is not Detection("w", Outcome.ALERT, Severity.HIGH, "why").facts
    assert replace(short, reason="other") == Detection("w", Outcome.ALERT, Severity.HIGH, "other")
