"""Where the Security Hub sink writes: this account's own Security Hub in account mode,
the finding's member account (through the member role) in organisation mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto import mock_aws

from handlers._reach import Reach, build_reach
from tests.unit.fakes import member_client as member_client_in
from trailwarden.dal.clients import client_cache
from trailwarden.dal.member_clients import MemberRoles
from trailwarden.models.errors import NotificationFailed
from trailwarden.models.findings import Finding, Severity, Verdict
from trailwarden.notify import messages
from trailwarden.notify.securityhub import SecurityHubSink
from trailwarden.notify.sinks import Notice

if TYPE_CHECKING:
    from collections.abc import Iterator

HUB = "123456789012"  # moto's default account
REGION = "eu-west-1"
ORG_ENV = {
    "DEPLOYMENT_MODE": "organization",
    "MEMBER_ROLE_NAME": "trailwarden-member",
    "MEMBER_EXTERNAL_ID": "ext-0123456789",
    "OWN_ACCOUNT_ID": HUB,
    "AWS_REGION": "us-east-1",
}


def finding(account: str) -> Finding:
    return Finding(
        workflow="ami-exposure",
        event_id="ev-1",
        event_name="ModifyImageAttribute",
        event_time="2026-11-24T02:15:30Z",
        region=REGION,
        account=account,
        verdict=Verdict.ALERT,
        severity=Severity.HIGH,
        reason="AMI shared with an organisation",
        resource_type="AWS::EC2::Image",
        resource_id="ami-0a1b2c3d4e5f60718",
        actor={},
        key=f"{account}#ev-1",
    )


def notice(f: Finding) -> Notice:
    return Notice(messages.detected(f, "en", ZoneInfo("UTC")), f, "raised", "alert")


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def member_client(account: str, service: str) -> Any:
    return member_client_in(account, service, REGION)


def test_account_mode_imports_into_this_accounts_own_security_hub(aws: None) -> None:
    hub = boto3.client("securityhub", region_name=REGION)
    hub.enable_security_hub()
    reach = build_reach({"OWN_ACCOUNT_ID": HUB}, client_cache())
    sink = SecurityHubSink(reach.security_hub_for)

    status = sink.deliver(sink.render(notice(finding(HUB))))

    assert status == "imported"
    assert reach.security_hub_for(finding(HUB)).account == HUB
    assert [f["AwsAccountId"] for f in hub.get_findings()["Findings"]] == [HUB]


def test_account_mode_refuses_a_finding_of_another_account(aws: None) -> None:
    hub = boto3.client("securityhub", region_name=REGION)
    hub.enable_security_hub()
    sink = SecurityHubSink(build_reach({"OWN_ACCOUNT_ID": HUB}, client_cache()).security_hub_for)

    with pytest.raises(NotificationFailed, match="may not write findings"):
        sink.deliver(sink.render(notice(finding("210987654321"))))

    assert hub.get_findings()["Findings"] == []


def test_organisation_mode_imports_into_the_members_own_security_hub(aws: None) -> None:
    orgs = boto3.client("organizations", region_name="us-east-1")
    orgs.create_organization(FeatureSet="ALL")
    created = orgs.create_account(AccountName="Prod", Email="prod@example.com")
    member = str(created["CreateAccountStatus"]["AccountId"])
    member_hub = member_client(member, "securityhub")
    member_hub.enable_security_hub()
    own_hub = boto3.client("securityhub", region_name=REGION)
    own_hub.enable_security_hub()
    reach = build_reach(ORG_ENV, client_cache())
    sink = SecurityHubSink(reach.security_hub_for)

    status = sink.deliver(sink.render(notice(finding(member))))

    assert status == "imported"
    assert reach.security_hub_for(finding(member)).account == member
    assert [f["AwsAccountId"] for f in member_hub.get_findings()["Findings"]] == [member]
    assert own_hub.get_findings()["Findings"] == []


def test_the_excluded_accounts_are_read_from_the_environment() -> None:
    env = {**ORG_ENV, "EXCLUDED_ACCOUNT_IDS": "111111111111, 210987654321"}

    reach = build_reach(env, client_cache())

    assert reach.excluded == {"111111111111", "210987654321"}


def test_organisation_mode_never_assumes_a_role_in_an_excluded_account() -> None:
    excluded = "210987654321"
    assumed: list[str] = []

    def sts(region: str) -> Any:
        assumed.append(region)
        raise AssertionError("no role may be assumed")

    reach = Reach(
        plain=client_cache(),
        roles=MemberRoles("trailwarden-member", "ext-0123456789", sts=sts),
        excluded=frozenset({excluded}),
    )
    sink = SecurityHubSink(reach.security_hub_for)

    with pytest.raises(NotificationFailed, match="excluded"):
        sink.deliver(sink.render(notice(finding(excluded))))

    assert assumed == []
