"""The scheduled logging backstop against moto: trails found not logging start the
cloudtrail-tamper workflow with a deterministic synthetic event; the app's rules that are
disabled, gone or without targets raise app-tamper alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from trailwarden.logic.backstop import Backstop, check_time, synthetic_event
from trailwarden.models.errors import TransientAwsError
from trailwarden.models.settings import BackstopSettings

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-east-1"
SCHEDULED = {"source": "trailwarden.schedule", "scheduledTime": "2026-11-24T03:15:00Z"}
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


class Alerts:
    def __init__(self) -> None:
        self.raised: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.raised.append(event)
        return {"verdict": "alert", "reason": event["detail-type"]}


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(name="tamper", definition=DEFINITION, roleArn=role)
        yield {
            "sfn": sfn,
            "machine": machine["stateMachineArn"],
            "cloudtrail": boto3.client("cloudtrail", region_name=REGION),
            "events": boto3.client("events", region_name=REGION),
        }


def trail(name: str, region: str = REGION, *, logging: bool, multi: bool = False) -> str:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=f"logs-{name}")
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    arn: str = cloudtrail.create_trail(
        Name=name, S3BucketName=f"logs-{name}", IsMultiRegionTrail=multi
    )["TrailARN"]
    if logging:
        cloudtrail.start_logging(Name=arn)
    return arn


def rule(events: Any, name: str, *, enabled: bool = True, target: bool = True) -> None:
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["aws.cloudtrail"]}))
    if target:
        events.put_targets(
            Rule=name, Targets=[{"Id": "t", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}]
        )
    if not enabled:
        events.disable_rule(Name=name)


def backstop(aws: dict[str, Any], alerts: Alerts, **settings: Any) -> Backstop:
    return Backstop(
        BackstopSettings(state_machine_arn=aws["machine"], **settings),
        region=REGION,
        cloudtrail=aws["cloudtrail"],
        events=aws["events"],
        stepfunctions=aws["sfn"],
        raise_alert=alerts,
    )


def started_inputs(aws: dict[str, Any]) -> list[dict[str, Any]]:
    sfn = aws["sfn"]
    executions = sfn.list_executions(stateMachineArn=aws["machine"])["executions"]
    return [
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for e in executions
    ]


# ------------------------------------------------------------------ trails


def test_every_trail_logging_starts_nothing(aws: dict[str, Any]) -> None:
    trail("main", logging=True)

    report = backstop(aws, Alerts()).run(SCHEDULED)

    assert report.executions == []
    assert [(t["name"], t["isLogging"]) for t in report.trails] == [("main", True)]


def test_trail_found_not_logging_starts_the_workflow_with_a_synthetic_event(
    aws: dict[str, Any],
) -> None:
    # Given a trail stopped without any event reaching the app
    arn = trail("main", logging=False)

    # When the scheduled check runs
    report = backstop(aws, Alerts()).run(SCHEDULED)

    # Then the cloudtrail-tamper state machine got the backstop's event for that trail
    (started,) = started_inputs(aws)
    assert started["source"] == "trailwarden.backstop"
    assert started["detail-type"] == "Trail Not Logging"
    assert started["detail"]["trailArn"] == arn
    assert started["detail"]["homeRegion"] == REGION
    assert started["resources"] == [arn]
    assert report.executions[0]["name"] == f"backstop-{started['id']}"


def test_a_retried_run_in_the_same_window_starts_one_execution(aws: dict[str, Any]) -> None:
    trail("main", logging=False)

    first = backstop(aws, Alerts()).run(SCHEDULED)
    second = backstop(aws, Alerts()).run(SCHEDULED)

    assert len(started_inputs(aws)) == 1
    assert first.executions[0]["name"] == second.executions[0]["name"]


def test_the_next_window_starts_a_new_execution(aws: dict[str, Any]) -> None:
    trail("main", logging=False)

    backstop(aws, Alerts()).run(SCHEDULED)
    backstop(aws, Alerts()).run({"scheduledTime": "2026-11-24T03:20:00Z"})

    assert len({e["id"] for e in started_inputs(aws)}) == 2


def test_shadow_of_a_multi_region_trail_is_reported_with_its_home_region(
    aws: dict[str, Any],
) -> None:
    arn = trail("org", "eu-west-1", logging=False, multi=True)

    backstop(aws, Alerts()).run(SCHEDULED)

    (started,) = started_inputs(aws)
    assert (started["detail"]["trailArn"], started["detail"]["homeRegion"]) == (arn, "eu-west-1")


def test_watched_trail_names_limit_the_check_and_a_missing_one_is_alerted(
    aws: dict[str, Any],
) -> None:
    trail("watched", logging=True)
    trail("scratch", logging=False)  # not watched: left alone

    report = backstop(aws, Alerts(), watched_trail_names=("watched", "gone")).run(SCHEDULED)

    assert [t["name"] for t in report.trails] == ["watched"]
    (started,) = started_inputs(aws)
    assert started["detail-type"] == "Watched Trail Missing"
    assert started["detail"]["trailName"] == "gone"


def test_no_trail_at_all_is_alerted(aws: dict[str, Any]) -> None:
    backstop(aws, Alerts()).run(SCHEDULED)

    (started,) = started_inputs(aws)
    assert started["detail-type"] == "No Logging Trail"


# ------------------------------------------------------------------ the app's rules


def test_disabled_missing_and_targetless_app_rules_raise_app_tamper_alerts(
    aws: dict[str, Any],
) -> None:
    events = aws["events"]
    rule(events, "tw-ok")
    rule(events, "tw-disabled", enabled=False)
    rule(events, "tw-no-targets", target=False)
    trail("main", logging=True)
    alerts = Alerts()
    names = ("tw-ok", "tw-disabled", "tw-gone", "tw-no-targets")

    report = backstop(aws, alerts, app_rule_names=names).run(SCHEDULED)

    assert [(a["detail"]["ruleName"], a["detail-type"]) for a in alerts.raised] == [
        ("tw-disabled", "App Rule Disabled"),
        ("tw-gone", "App Rule Missing"),
        ("tw-no-targets", "App Rule Without Targets"),
    ]
    assert all(a["source"] == "trailwarden.backstop" for a in alerts.raised)
    assert [r["ok"] for r in report.rules] == [True, False, False, False]
    assert started_inputs(aws) == []


def test_rule_enabled_for_all_management_events_counts_as_enabled() -> None:
    events = boto3.client("events", region_name=REGION)
    stub = Stubber(events)
    stub.add_response(
        "describe_rule",
        {
            "Name": "tw",
            "Arn": "arn:aws:events:us-east-1:1:rule/tw",
            "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        },
    )
    stub.add_response("list_targets_by_rule", {"Targets": [{"Id": "t", "Arn": "arn:x"}]})
    checker = Backstop(
        BackstopSettings(state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:x"),
        region=REGION,
        cloudtrail=None,
        events=events,
        stepfunctions=None,
        raise_alert=Alerts(),
    )

    with stub:
        assert checker.rule_problem("tw") is None


def test_same_problem_in_the_same_hour_has_the_same_event_id(aws: dict[str, Any]) -> None:
    rule(aws["events"], "tw-disabled", enabled=False)
    trail("main", logging=True)
    alerts = Alerts()

    backstop(aws, alerts, app_rule_names=("tw-disabled",)).run(SCHEDULED)
    backstop(aws, alerts, app_rule_names=("tw-disabled",)).run(
        {"scheduledTime": "2026-11-24T03:20:00Z"}
    )

    assert alerts.raised[0]["id"] == alerts.raised[1]["id"]  # the incident store dedupes it


def test_a_failing_trail_check_still_checks_the_rules_then_raises(aws: dict[str, Any]) -> None:
    rule(aws["events"], "tw-disabled", enabled=False)
    alerts = Alerts()
    checker = backstop(aws, alerts, app_rule_names=("tw-disabled",))
    stub = Stubber(aws["cloudtrail"])
    stub.add_client_error("describe_trails", "ThrottlingException")

    with stub, pytest.raises(TransientAwsError):
        checker.run(SCHEDULED)

    assert len(alerts.raised) == 1


# ------------------------------------------------------------------ time and ids


def test_check_time_is_the_schedule_time_else_now() -> None:
    assert check_time(SCHEDULED, lambda: 0.0) == datetime(2026, 11, 24, 3, 15, tzinfo=UTC)
    assert check_time({"scheduledTime": "garbage"}, lambda: 60.0) == datetime(
        1970, 1, 1, 0, 1, tzinfo=UTC
    )
    assert check_time(None, lambda: 0.0) == datetime(1970, 1, 1, tzinfo=UTC)


def test_synthetic_event_id_depends_on_finding_and_window_only() -> None:
    def make(key: str, window: str) -> dict[str, Any]:
        return synthetic_event(
            "Trail Not Logging", key, window, account="1", region=REGION, detail={}
        )

    assert make("a", "w1")["id"] == make("a", "w1")["id"]
    assert make("a", "w1")["id"] != make("a", "w2")["id"]
    assert make("a", "w1")["id"] != make("b", "w1")["id"]
