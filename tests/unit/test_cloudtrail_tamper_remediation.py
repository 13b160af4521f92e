"""cloudtrail-tamper remediation: moto for state (the trail really logs again afterwards),
botocore Stubber for the exact errors (InvalidHomeRegionException, throttling)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from trailwarden.models.errors import (
    RemediationFailed,
    RemediationRefused,
    ResourceGone,
    TransientAwsError,
)
from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.workflows.cloudtrail_tamper import lookups as cloudtrail_lookups
from trailwarden.workflows.cloudtrail_tamper import remediation as cloudtrail_tamper

if TYPE_CHECKING:
    from collections.abc import Iterator

ACCOUNT = "123456789012"


class Clients:
    """A ClientFactory that remembers which regions each service was asked for."""

    def __init__(self, make: Any = None) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self._make = make or (lambda service, region: boto3.client(service, region_name=region))
        self._cache: dict[tuple[str, str | None], Any] = {}

    def __call__(self, service: str, region: str | None) -> Any:
        self.calls.append((service, region))
        key = (service, region)
        if key not in self._cache:
            self._cache[key] = self._make(service, region)
        return self._cache[key]


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def make_trail(name: str, region: str = "us-east-1", *, multi: bool = False) -> str:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=f"logs-{name}")
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    arn: str = cloudtrail.create_trail(
        Name=name, S3BucketName=f"logs-{name}", IsMultiRegionTrail=multi
    )["TrailARN"]
    cloudtrail.start_logging(Name=arn)
    cloudtrail.stop_logging(Name=arn)
    return arn


def is_logging(arn: str, region: str = "us-east-1") -> bool:
    status = boto3.client("cloudtrail", region_name=region).get_trail_status(Name=arn)
    return bool(status["IsLogging"])


# ------------------------------------------------------------------ moto: real state


@pytest.mark.parametrize("by", ["name", "arn"])
def test_stopped_trail_is_logging_again_afterwards(aws: None, by: str) -> None:
    arn = make_trail("main")

    result = cloudtrail_tamper.apply("main" if by == "name" else arn, "us-east-1", Clients())

    assert result.status == "remediated"
    assert is_logging(arn)
    assert result.before["isLogging"] is False
    assert result.after == {
        "name": "main",
        "arn": arn,
        "homeRegion": "us-east-1",
        "isMultiRegionTrail": False,
        "isLogging": True,
    }
    assert [a.action for a in result.actions] == ["cloudtrail:StartLogging"]


def test_trail_already_logging_is_left_alone(aws: None) -> None:
    arn = make_trail("main")
    boto3.client("cloudtrail", region_name="us-east-1").start_logging(Name=arn)

    result = cloudtrail_tamper.apply(arn, "us-east-1", Clients())

    assert result.status == "already-clean"
    assert result.actions == ()


def test_applying_twice_is_safe(aws: None) -> None:
    arn = make_trail("main")

    first = cloudtrail_tamper.apply(arn, "us-east-1", Clients())
    second = cloudtrail_tamper.apply(arn, "us-east-1", Clients())

    assert (first.status, second.status) == ("remediated", "already-clean")
    assert is_logging(arn)


def test_multi_region_trail_is_started_in_its_home_region_not_through_its_shadow(
    aws: None,
) -> None:
    # Given a multi-region trail homed in us-west-2, seen as a shadow trail in us-east-1
    arn = make_trail("org-wide", "us-west-2", multi=True)
    clients = Clients()

    # When the event came from us-east-1 and named the trail by name
    result = cloudtrail_tamper.apply("org-wide", "us-east-1", clients)

    # Then it was resolved there, but started and verified in us-west-2
    assert result.status == "remediated"
    assert is_logging(arn, "us-west-2")
    assert result.after["homeRegion"] == "us-west-2"
    assert result.notes == ("started in home region us-west-2",)
    assert ("cloudtrail", "us-west-2") in clients.calls


def test_trail_named_by_arn_is_looked_up_in_the_arn_region(aws: None) -> None:
    arn = make_trail("eu-trail", "eu-west-1", multi=True)
    clients = Clients()

    cloudtrail_tamper.apply(arn, "us-east-1", clients)

    assert clients.calls[0] == ("cloudtrail", "eu-west-1")
    assert is_logging(arn, "eu-west-1")


def test_deleted_trail_raises_resource_gone(aws: None) -> None:
    make_trail("main")
    boto3.client("cloudtrail", region_name="us-east-1").delete_trail(Name="main")

    with pytest.raises(ResourceGone):
        cloudtrail_tamper.apply("main", "us-east-1", Clients())


def test_live_state_reads_identity_and_status(aws: None) -> None:
    arn = make_trail("main", multi=True)

    state = cloudtrail_tamper.live_state("main", "us-east-1", Clients())

    assert state == {
        "name": "main",
        "arn": arn,
        "homeRegion": "us-east-1",
        "isMultiRegionTrail": True,
        "isLogging": False,
    }


# ------------------------------------------------------------------ plan (the dry run)


def test_plan_from_live_state_starts_a_stopped_trail_in_its_home_region() -> None:
    state = {
        "name": "t",
        "arn": "arn:aws:cloudtrail:us-west-2:1:trail/t",
        "homeRegion": "us-west-2",
        "isLogging": False,
    }

    (action,) = cloudtrail_tamper.plan_for("t", {}, state)

    assert action.action == "cloudtrail:StartLogging"
    assert action.params == {
        "Name": "arn:aws:cloudtrail:us-west-2:1:trail/t",
        "region": "us-west-2",
    }


def test_plan_for_a_logging_trail_is_empty() -> None:
    assert cloudtrail_tamper.plan_for("t", {}, {"name": "t", "isLogging": True}) == ()


@pytest.mark.parametrize(
    ("resource", "region"),
    [
        ("arn:aws:cloudtrail:ap-northeast-2:1:trail/t", "ap-northeast-2"),
        ("t", "(home region, read live)"),
    ],
)
def test_offline_plan_reads_the_home_region_from_the_arn_when_it_can(
    resource: str, region: str
) -> None:
    (action,) = cloudtrail_tamper.plan_for(resource, {}, None)

    assert action.params["region"] == region


# ------------------------------------------------------------------ Stubber: exact errors

HOME_ARN = "arn:aws:cloudtrail:us-west-2:123456789012:trail/t"


def stubbed(regions: tuple[str, ...]) -> tuple[Clients, dict[str, Stubber]]:
    stubs: dict[str, Stubber] = {}
    made: dict[str, Any] = {}
    for region in regions:
        made[region] = boto3.client("cloudtrail", region_name=region)
        stubs[region] = Stubber(made[region])
    return Clients(lambda _service, region: made[region]), stubs


def describe(home: str = "us-west-2") -> dict[str, Any]:
    return {
        "trailList": [
            {"Name": "t", "TrailARN": HOME_ARN, "HomeRegion": home, "IsMultiRegionTrail": True}
        ]
    }


def test_invalid_home_region_is_retried_in_the_region_the_arn_names() -> None:
    # Given DescribeTrails reports a home region the ARN contradicts
    clients, stubs = stubbed(("us-west-2", "us-east-1"))
    stubs["us-west-2"].add_response("describe_trails", describe(home="us-east-1"))
    stubs["us-east-1"].add_response("get_trail_status", {"IsLogging": False})
    stubs["us-east-1"].add_client_error(
        "start_logging", "InvalidHomeRegionException", "must be called in the home region"
    )
    stubs["us-west-2"].add_response("start_logging", {}, {"Name": HOME_ARN})
    stubs["us-west-2"].add_response("get_trail_status", {"IsLogging": True})

    # When
    with stubs["us-west-2"], stubs["us-east-1"]:
        result = cloudtrail_tamper.apply(HOME_ARN, "us-east-1", clients)

    # Then it was started where the ARN says the trail lives
    assert result.status == "remediated"
    assert result.notes == ("started in home region us-west-2",)


def test_invalid_home_region_everywhere_is_refused() -> None:
    clients, stubs = stubbed(("us-west-2",))
    stubs["us-west-2"].add_response("describe_trails", describe())
    stubs["us-west-2"].add_response("get_trail_status", {"IsLogging": False})
    stubs["us-west-2"].add_client_error("start_logging", "InvalidHomeRegionException")

    with stubs["us-west-2"], pytest.raises(RemediationRefused):
        cloudtrail_tamper.apply(HOME_ARN, "us-west-2", clients)


@pytest.mark.parametrize(
    ("operation", "code", "status"),
    [
        ("describe_trails", "ThrottlingException", 400),
        ("get_trail_status", "ThrottlingException", 400),
        ("start_logging", "ThrottlingException", 400),
        ("start_logging", "InternalFailure", 500),
    ],
)
def test_throttling_and_5xx_raise_transient_error(operation: str, code: str, status: int) -> None:
    clients, stubs = stubbed(("us-west-2",))
    stub = stubs["us-west-2"]
    for step, response in (
        ("describe_trails", describe()),
        ("get_trail_status", {"IsLogging": False}),
        ("start_logging", {}),
    ):
        if step == operation:
            stub.add_client_error(step, code, http_status_code=status)
            break
        stub.add_response(step, response)

    with stub, pytest.raises(TransientAwsError):
        cloudtrail_tamper.apply(HOME_ARN, "us-west-2", clients)


def test_trail_not_found_at_status_read_raises_resource_gone() -> None:
    clients, stubs = stubbed(("us-west-2",))
    stubs["us-west-2"].add_response("describe_trails", describe())
    stubs["us-west-2"].add_client_error("get_trail_status", "TrailNotFoundException")

    with stubs["us-west-2"], pytest.raises(ResourceGone):
        cloudtrail_tamper.apply(HOME_ARN, "us-west-2", clients)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_verification_polls_until_the_trail_reports_logging() -> None:
    clients, stubs = stubbed(("us-west-2",))
    stub = stubs["us-west-2"]
    stub.add_response("describe_trails", describe())
    stub.add_response("get_trail_status", {"IsLogging": False})
    stub.add_response("start_logging", {})
    for logging in (False, False, True):
        stub.add_response("get_trail_status", {"IsLogging": logging})
    clock = FakeClock()

    with stub:
        result = cloudtrail_tamper.apply(
            HOME_ARN, "us-west-2", clients, poll_seconds=0.5, sleep=clock.sleep, clock=clock
        )

    assert result.status == "remediated"
    assert clock.sleeps == [0.5, 0.5]


def test_trail_still_stopped_at_the_deadline_fails_verification() -> None:
    clients, stubs = stubbed(("us-west-2",))
    stub = stubs["us-west-2"]
    stub.add_response("describe_trails", describe())
    stub.add_response("get_trail_status", {"IsLogging": False})
    stub.add_response("start_logging", {})
    for _ in range(5):
        stub.add_response("get_trail_status", {"IsLogging": False})
    clock = FakeClock()

    with stub, pytest.raises(RemediationFailed):
        cloudtrail_tamper.apply(
            HOME_ARN,
            "us-west-2",
            clients,
            timeout_seconds=2,
            poll_seconds=0.5,
            sleep=clock.sleep,
            clock=clock,
        )

    assert clock.now <= 2.5


# ------------------------------------------------------------------ enrich (live facts)


def deleted(trail: str, **facts: Any) -> Detection:
    return Detection(
        "cloudtrail-tamper",
        Outcome.ALERT,
        Severity.CRITICAL,
        "deleted",
        "AWS::CloudTrail::Trail",
        trail,
        {"call": "DeleteTrail", "onlyLoggingTrail": "unknown", **facts},
    )


def test_deleted_trail_was_the_only_logging_one(aws: None) -> None:
    make_trail("stopped-one")  # exists, not logging

    facts = cloudtrail_lookups.enrich(deleted("main"), "us-east-1", Clients())

    assert facts["onlyLoggingTrail"] == "yes"
    assert "EventBridge receives no CloudTrail events" in facts["notes"][0]


def test_deleted_trail_with_another_trail_still_logging(aws: None) -> None:
    arn = make_trail("backup", "us-west-2", multi=True)
    boto3.client("cloudtrail", region_name="us-west-2").start_logging(Name=arn)

    facts = cloudtrail_lookups.enrich(deleted("main"), "us-east-1", Clients())

    assert facts["onlyLoggingTrail"] == "no"
    assert facts["otherLoggingTrails"] == ["backup"]


def test_failed_attempt_is_confirmed_unchanged_live(aws: None) -> None:
    arn = make_trail("main")
    boto3.client("cloudtrail", region_name="us-east-1").start_logging(Name=arn)
    detection = Detection(
        "cloudtrail-tamper",
        Outcome.ALERT,
        Severity.INFO,
        "failed",
        "AWS::CloudTrail::Trail",
        arn,
        {"call": "StopLogging", "failedAttempt": True},
    )

    facts = cloudtrail_lookups.enrich(detection, "us-east-1", Clients())

    assert facts["liveState"]["isLogging"] is True
    assert facts["notes"] == ["checked live: trail main is logging"]


def test_other_alerts_need_no_live_read() -> None:
    detection = Detection(
        "cloudtrail-tamper", Outcome.ALERT, Severity.CRITICAL, "x", "", "t", {"call": "UpdateTrail"}
    )

    assert cloudtrail_lookups.enrich(detection, "us-east-1", Clients(lambda *_: None)) == {}


def test_list_trails_includes_shadow_trails_of_multi_region_trails_only(aws: None) -> None:
    make_trail("home", "us-east-1")
    make_trail("elsewhere", "eu-west-1", multi=True)
    make_trail("single-elsewhere", "eu-west-1")
    cloudtrail = boto3.client("cloudtrail", region_name="us-east-1")

    trails = cloudtrail_tamper.list_trails(cloudtrail, "us-east-1")

    assert {(t.name, t.home_region) for t in trails} == {
        ("home", "us-east-1"),
        ("elsewhere", "eu-west-1"),
    }
    assert all(t.arn.split(":")[4] == ACCOUNT for t in trails)
