"""The local engine in organisation mode: the hub bus, members and their forwarders.

EventBridge bus-to-bus delivery keeps the event as it was; moto's rewrites ``account`` and
``region``, so the engine forwards member events itself (README "Organisation mode")."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import load_event
from trailwarden_local.demo import FAST_ENV
from trailwarden_local.engine import LocalApp
from trailwarden_local.samples import TEMPLATE

if TYPE_CHECKING:
    from collections.abc import Iterator

MEMBER = "333333333333"
ROLELESS = "555555555555"
OUTSIDER = "777777777777"
REGION = "eu-west-1"
ORGANIZATION = {
    "DeploymentMode": "organization",
    "OrganizationId": "o-trailwarden1",
    "MemberExternalId": "ext-0123456789",
}


@pytest.fixture(scope="module")
def app(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[LocalApp]:
    monkeypatch_module.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with LocalApp(TEMPLATE, parameters=ORGANIZATION, function_env_overrides=FAST_ENV) as app:
        app.add_member(MEMBER, (REGION, "ap-northeast-2"))
        app.add_member(ROLELESS, (REGION,), member_role=False)
        yield app


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def stop_logging_in(account: str, region: str) -> dict[str, Any]:
    """A StopLogging of a trail that does not exist: the workflow ends quickly."""
    event = copy.deepcopy(load_event("cloudtrail-tamper/stop-logging-by-name.json"))
    event["account"], event["region"] = account, region
    detail = event["detail"]
    detail["recipientAccountId"], detail["awsRegion"] = account, region
    detail["requestParameters"]["name"] = "no-such-trail"
    return event


def finish(app: LocalApp, deliveries: list[Any]) -> None:
    for delivery in deliveries:
        if delivery.execution_arn:
            app.wait_for_execution(delivery.execution_arn)


def test_organisation_mode_puts_the_workflow_rules_on_the_hub_bus(app: LocalApp) -> None:
    buses = {rule.logical_id: rule.event_bus for rule in app.rules.values()}

    assert app.organization is not None
    assert buses["AmiExposureStateMachineLaunchPermissionAdded"] == app.organization.hub_bus
    assert buses["AppTamperAlertFunctionAppRulesChanged"] == "default"
    assert "HubEventBusPolicy" in app.skipped_resources


def test_a_member_event_reaches_the_hub_rule_with_its_own_envelope(app: LocalApp) -> None:
    event = stop_logging_in(MEMBER, "ap-northeast-2")

    deliveries = app.put_event(event)
    finish(app, deliveries)

    assert app.organization is not None
    (delivery,) = deliveries
    assert delivery.event_bus == app.organization.hub_bus
    assert delivery.rule_logical_id == "CloudTrailTamperStateMachineTrailTampered"
    assert delivery.forwarded_by == "CloudTrailTamperStateMachineTrailTampered"
    assert delivery.input["account"] == MEMBER
    assert delivery.input["region"] == "ap-northeast-2"
    assert delivery.input["id"] == event["id"]


def test_events_of_outsiders_and_of_regions_without_forwarders_reach_nothing(
    app: LocalApp,
) -> None:
    outsider = stop_logging_in(OUTSIDER, REGION)
    unforwarded_region = stop_logging_in(MEMBER, "sa-east-1")

    deliveries = app.put_event(outsider) + app.put_event(unforwarded_region)

    assert deliveries == []


def test_the_member_roles_own_call_is_not_forwarded(app: LocalApp) -> None:
    assert app.organization is not None
    event = stop_logging_in(MEMBER, REGION)
    identity = event["detail"]["userIdentity"]
    identity["type"] = "AssumedRole"
    identity["sessionContext"]["sessionIssuer"]["arn"] = app.organization.member_role_arn(MEMBER)

    deliveries = app.put_event(event)

    assert deliveries == []


def test_a_role_that_does_not_exist_cannot_be_assumed(app: LocalApp) -> None:
    assert app.organization is not None
    sts = boto3.client("sts", region_name=REGION)

    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=app.organization.member_role_arn(ROLELESS), RoleSessionName="hub")
    granted = sts.assume_role(
        RoleArn=app.organization.member_role_arn(MEMBER), RoleSessionName="hub"
    )

    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert granted["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{MEMBER}:")


def test_member_credentials_reach_the_members_own_backend(app: LocalApp) -> None:
    member_ec2 = boto3.client("ec2", region_name=REGION, **app.member_credentials(MEMBER))
    image = member_ec2.register_image(Name="member-golden", RootDeviceName="/dev/xvda")

    member_images = member_ec2.describe_images(Owners=["self"])["Images"]
    hub_images = boto3.client("ec2", region_name=REGION).describe_images(Owners=["self"])

    assert image["ImageId"] in {i["ImageId"] for i in member_images}
    assert image["ImageId"] not in {i["ImageId"] for i in hub_images["Images"]}
