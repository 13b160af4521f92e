"""Assuming the member role (organisation mode): names, requests, errors, the cache."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from trailwarden.dal import member_clients
from trailwarden.dal.member_clients import (
    MemberRoles,
    aws_name,
    member_role_arn,
    session_name,
    source_identity,
)
from trailwarden.models.errors import InvalidEvent, MemberUnreachable, TransientAwsError

MEMBER = "111122223333"
STS_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)


def credentials(expires_in: float = 3600) -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLEEXAMPLE01",
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": datetime.now(UTC) + timedelta(seconds=expires_in),
        }
    }


class CountingSts:
    """An STS that answers every AssumeRole and remembers where it was asked."""

    def __init__(self, expires_in: float = 3600) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.expires_in = expires_in

    def __call__(self, region: str) -> Any:
        outer = self

        class Client:
            def assume_role(self, **request: Any) -> dict[str, Any]:
                outer.calls.append((region, request))
                return credentials(outer.expires_in)

        return Client()


def no_client(service: str, region: str, *, credentials: dict[str, str]) -> tuple[str, str, str]:
    return (service, region, credentials["aws_access_key_id"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trailwarden-ami-exposure-b7d3c1e2", "trailwarden-ami-exposure-b7d3c1e2"),
        ("a#b c/d:e", "a-b-c-d-e"),  # '#', space, '/', ':' are refused by STS
        ("kept+=,.@_-", "kept+=,.@_-"),
        ("é한", "--"),  # \w is ASCII only for STS
        ("x", "x-"),  # at least 2 characters
        ("", "--"),
        ("y" * 100, "y" * 64),
    ],
)
def test_session_names_keep_only_what_sts_accepts(text: str, expected: str) -> None:
    assert aws_name(text) == expected


def test_a_session_name_carries_the_incident_within_64_characters() -> None:
    name = session_name("cloudtrail-tamper", "b7d3c1e2-1111-4a2b-9c3d-000000000001")

    assert STS_NAME.fullmatch(name)
    assert name.startswith("trailwarden-cloudtrail-tamper-b7d3c1e2-1111")
    assert STS_NAME.fullmatch(source_identity("waf-protected-ip"))


@pytest.mark.parametrize(
    ("region", "partition"),
    [("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_the_member_role_arn_is_in_the_regions_partition(region: str, partition: str) -> None:
    assert member_role_arn(MEMBER, region, "trailwarden-member") == (
        f"arn:{partition}:iam::{MEMBER}:role/trailwarden/member/trailwarden-member"
    )


def test_assume_role_goes_to_the_regions_sts_with_external_id_and_names() -> None:
    sts = boto3.client(
        "sts", region_name="ap-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stubber = Stubber(sts)
    stubber.add_response(
        "assume_role",
        credentials(),
        {
            "RoleArn": f"arn:aws:iam::{MEMBER}:role/trailwarden/member/trailwarden-member",
            "RoleSessionName": "trailwarden-ami-exposure-evt-1",
            "SourceIdentity": "trailwarden-ami-exposure",
            "ExternalId": "ext-123",
        },
    )
    asked: list[str] = []

    def regional(region: str) -> Any:
        asked.append(region)
        return sts

    roles = MemberRoles("trailwarden-member", "ext-123", sts=regional, client=no_client)
    with stubber:
        client = roles.factory(MEMBER, workflow="ami-exposure", event_id="evt-1")(
            "ec2", "ap-east-1"
        )

    assert asked == ["ap-east-1"]
    assert client == ("ec2", "ap-east-1", "ASIAEXAMPLEEXAMPLE01")
    stubber.assert_no_pending_responses()


def test_the_sts_client_is_regional_even_when_the_sdk_is_set_to_global(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[dict[str, Any]] = []

    class Meta:
        def __init__(self, url: str) -> None:
            self.endpoint_url = url

    class Client:
        def __init__(self, url: str) -> None:
            self.meta = Meta(url)

    def make_client(service: str, region: str, **kwargs: Any) -> Client:
        made.append({"service": service, "region": region, **kwargs})
        return Client(kwargs.get("endpoint_url") or "https://sts.amazonaws.com")

    monkeypatch.setattr(member_clients, "make_client", make_client)

    client = member_clients.regional_sts("ap-east-1")

    assert client.meta.endpoint_url == "https://sts.ap-east-1.amazonaws.com"


@pytest.mark.parametrize("code", ["AccessDenied", "RegionDisabledException"])
def test_a_role_that_cannot_be_assumed_is_member_unreachable(code: str) -> None:
    sts = boto3.client(
        "sts", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stubber = Stubber(sts)
    stubber.add_client_error("assume_role", service_error_code=code, http_status_code=403)
    roles = MemberRoles("trailwarden-member", "ext", sts=lambda _region: sts, client=no_client)
    clients = roles.factory(MEMBER, workflow="ami-exposure", event_id="evt-1")

    with stubber, pytest.raises(MemberUnreachable) as caught:
        clients("ec2", "eu-west-1")

    assert f"cannot reach account {MEMBER}" in str(caught.value)
    assert "role missing or not trusted" in str(caught.value)


def test_sts_throttling_stays_transient() -> None:
    sts = boto3.client(
        "sts", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stubber = Stubber(sts)
    stubber.add_client_error("assume_role", service_error_code="Throttling", http_status_code=400)
    roles = MemberRoles("trailwarden-member", "ext", sts=lambda _region: sts, client=no_client)

    with stubber, pytest.raises(TransientAwsError):
        roles.factory(MEMBER, workflow="ami-exposure", event_id="e")("ec2", "eu-west-1")


def test_nothing_is_assumed_until_a_client_is_asked_for() -> None:
    sts = CountingSts()
    roles = MemberRoles("r", "ext", sts=sts, client=no_client)

    roles.factory(MEMBER, workflow="ami-exposure", event_id="e", default_region="eu-west-1")

    assert sts.calls == []


def test_credentials_are_reused_per_account_region_and_incident() -> None:
    sts = CountingSts()
    roles = MemberRoles("r", "ext", sts=sts, client=no_client)
    incident = roles.factory(MEMBER, workflow="ami-exposure", event_id="e1")

    incident("ec2", "eu-west-1")
    incident("ec2", "eu-west-1")
    incident("cloudtrail", "eu-west-1")
    roles.factory(MEMBER, workflow="ami-exposure", event_id="e1")("ec2", "eu-west-1")  # retry
    incident("ec2", "us-east-1")  # another region: its own STS, its own session
    roles.factory(MEMBER, workflow="ami-exposure", event_id="e2")("ec2", "eu-west-1")
    roles.factory("444455556666", workflow="ami-exposure", event_id="e1")("ec2", "eu-west-1")

    assert [(region, r["RoleSessionName"][-2:]) for region, r in sts.calls] == [
        ("eu-west-1", "e1"),
        ("us-east-1", "e1"),
        ("eu-west-1", "e2"),
        ("eu-west-1", "e1"),
    ]


def test_credentials_close_to_expiry_are_renewed() -> None:
    sts = CountingSts(expires_in=200)  # inside the 5-minute refresh margin
    roles = MemberRoles("r", "ext", sts=sts, client=no_client)
    clients = roles.factory(MEMBER, workflow="ami-exposure", event_id="e1")

    clients("ec2", "eu-west-1")
    clients("ec2", "eu-west-1")

    assert len(sts.calls) == 2


def test_calls_without_a_region_use_the_events_region() -> None:
    sts = CountingSts()
    roles = MemberRoles("r", "ext", sts=sts, client=no_client)

    client = roles.factory(MEMBER, workflow="w", event_id="e", default_region="eu-central-2")(
        "ec2", None
    )

    assert client[1] == "eu-central-2"
    assert sts.calls[0][0] == "eu-central-2"


@pytest.mark.parametrize("account", ["", "12345", "1234567890123", "../../etc"])
def test_an_event_without_an_account_id_reaches_no_account(account: str) -> None:
    sts = CountingSts()
    clients = MemberRoles("r", "ext", sts=sts, client=no_client).factory(
        account, workflow="w", event_id="e", default_region="eu-west-1"
    )

    with pytest.raises(InvalidEvent):
        clients("ec2", "eu-west-1")

    assert sts.calls == []
