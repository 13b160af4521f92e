"""The organisation backstop in the local engine: the real check function, member roles
assumed in moto, findings through the real cloudtrail-tamper state machine."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from trailwarden_local.demo import FAST_ENV
from trailwarden_local.engine import LocalApp
from trailwarden_local.inbox import TopicInbox
from trailwarden_local.samples import TEMPLATE

if TYPE_CHECKING:
    from collections.abc import Iterator

MEMBER = "333333333333"
ROLELESS = "555555555555"
REGION = "us-east-1"
ORGANIZATION = {
    "DeploymentMode": "organization",
    "OrganizationId": "o-trailwarden1",
    "MemberExternalId": "ext-0123456789",
}
SCHEDULED = "2026-12-05T00:15:00Z"


@pytest.fixture(scope="module")
def app() -> Iterator[LocalApp]:
    patch = pytest.MonkeyPatch()
    patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    try:
        with LocalApp(TEMPLATE, parameters=ORGANIZATION, function_env_overrides=FAST_ENV) as app:
            app.add_member(MEMBER, (REGION,))
            app.add_member(ROLELESS, (REGION,), member_role=False)
            yield app
    finally:
        patch.undo()


def member_cloudtrail(app: LocalApp) -> Any:
    return boto3.client("cloudtrail", region_name=REGION, **app.member_credentials(MEMBER))


def wait_all(app: LocalApp, machine: str, deadline: float = 60.0) -> list[dict[str, Any]]:
    sfn = app.client("stepfunctions")
    arn = app.state_machines[machine].arn
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    return [app.wait_for_execution(e["executionArn"], deadline) for e in executions]


def test_the_backstop_restarts_a_members_stopped_trail_and_alerts_an_unreachable_member_once(
    app: LocalApp,
) -> None:
    # Given a member whose multi-region trail is not logging, and a member without the
    # member role
    s3 = boto3.client("s3", region_name=REGION, **app.member_credentials(MEMBER))
    s3.create_bucket(Bucket="member-trail-logs")
    trail = member_cloudtrail(app).create_trail(
        Name="main", S3BucketName="member-trail-logs", IsMultiRegionTrail=True
    )
    inbox = TopicInbox(app.resource("AlertTopic"), app.region)

    # When one batch with both is checked (twice: a retried item in the same period)
    first = app.invoke(
        "OrgBackstopCheckFunction", {"accounts": [MEMBER, ROLELESS], "scheduledTime": SCHEDULED}
    )
    again = app.invoke(
        "OrgBackstopCheckFunction", {"accounts": [MEMBER, ROLELESS], "scheduledTime": SCHEDULED}
    )
    finished = wait_all(app, "CloudTrailTamperStateMachine")

    # Then the member was read in its regions, its trail restarted in its own account
    assert first.function_error is None, first.payload
    assert again.function_error is None, again.payload
    assert first.payload["unreachable"] == [ROLELESS]
    ec2 = boto3.client("ec2", region_name=REGION, **app.member_credentials(MEMBER))
    enabled = ec2.describe_regions()["Regions"]
    assert first.payload["regionsChecked"] == len(enabled) > 1
    assert first.payload["trailsChecked"] == 1  # one status read for all its regions
    assert all(e["status"] == "SUCCEEDED" for e in finished)
    assert len(finished) == 2  # the stopped trail, the unreachable member: once each
    deadline = time.monotonic() + 10
    while not member_cloudtrail(app).get_trail_status(Name=trail["TrailARN"])["IsLogging"]:
        assert time.monotonic() < deadline, "the member's trail was not restarted"
        time.sleep(0.05)
    # and exactly one alert says the other member cannot be reached
    bodies = [m["subject"] + "\n" + m["body"] for m in inbox.drain()]
    unreachable = [b for b in bodies if f"cannot reach account {ROLELESS}: role missing" in b]
    assert len(unreachable) == 1, bodies
