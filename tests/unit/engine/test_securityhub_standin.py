"""The local stand-in for BatchUpdateFindings (moto lacks it) changes the finding moto
holds for the caller's account and region, records every request, and refuses what AWS
refuses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from trailwarden_local.engine.securityhub_standin import BatchUpdateFindingsStandIn

if TYPE_CHECKING:
    from collections.abc import Iterator

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"


def finding(finding_id: str) -> dict[str, Any]:
    now = "2026-12-05T01:00:00Z"
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id,
        "ProductArn": PRODUCT,
        "GeneratorId": "trailwarden/ami-exposure",
        "AwsAccountId": ACCOUNT,
        "Types": ["Effects/Data Exposure"],
        "CreatedAt": now,
        "UpdatedAt": now,
        "Severity": {"Label": "HIGH"},
        "Title": "AMI made public",
        "Description": "ami-0123 was shared with all",
        "Resources": [{"Type": "Other", "Id": "ami-0123"}],
        "Workflow": {"Status": "NEW"},
    }


@pytest.fixture
def hub() -> Iterator[tuple[Any, BatchUpdateFindingsStandIn]]:
    with mock_aws(), BatchUpdateFindingsStandIn() as standin:
        client = boto3.client("securityhub", region_name=REGION)
        client.enable_security_hub()
        client.batch_import_findings(Findings=[finding("trailwarden/a/1")])
        yield client, standin


NOTE = {"Text": "Made private again", "UpdatedBy": "trailwarden"}


def test_resolving_a_finding_sets_its_workflow_status_and_note_as_get_findings_reads(
    hub: tuple[Any, BatchUpdateFindingsStandIn],
) -> None:
    client, standin = hub

    answer = client.batch_update_findings(
        FindingIdentifiers=[{"Id": "trailwarden/a/1", "ProductArn": PRODUCT}],
        Workflow={"Status": "RESOLVED"},
        Note=NOTE,
    )

    assert answer["ProcessedFindings"] == [{"Id": "trailwarden/a/1", "ProductArn": PRODUCT}]
    assert answer["UnprocessedFindings"] == []
    (read,) = client.get_findings()["Findings"]
    assert read["Workflow"]["Status"] == "RESOLVED"
    assert read["Note"]["Text"] == "Made private again"
    assert read["UpdatedAt"] == "2026-12-05T01:00:00Z"  # BatchUpdateFindings leaves it
    (request,) = standin.requests
    assert (request.account, request.region) == (ACCOUNT, REGION)
    assert request.update == {"Workflow": {"Status": "RESOLVED"}, "Note": NOTE}


def test_an_unknown_finding_identifier_is_unprocessed_and_the_known_one_still_updated(
    hub: tuple[Any, BatchUpdateFindingsStandIn],
) -> None:
    client, standin = hub
    unknown = {"Id": "trailwarden/a/404", "ProductArn": PRODUCT}
    other_product = {"Id": "trailwarden/a/1", "ProductArn": PRODUCT.replace(ACCOUNT, "9" * 12)}

    answer = client.batch_update_findings(
        FindingIdentifiers=[
            unknown,
            {"Id": "trailwarden/a/1", "ProductArn": PRODUCT},
            other_product,
        ],
        Workflow={"Status": "NOTIFIED"},
        Note=NOTE,
    )

    assert [u["ErrorCode"] for u in answer["UnprocessedFindings"]] == [
        "FindingNotFound",
        "FindingNotFound",
    ]
    assert [u["FindingIdentifier"] for u in answer["UnprocessedFindings"]] == [
        unknown,
        other_product,
    ]
    assert client.get_findings()["Findings"][0]["Workflow"]["Status"] == "NOTIFIED"
    assert standin.requests[0].unprocessed == answer["UnprocessedFindings"]


def test_an_invalid_workflow_status_is_refused_and_changes_nothing(
    hub: tuple[Any, BatchUpdateFindingsStandIn],
) -> None:
    client, standin = hub

    with pytest.raises(ClientError) as refused:
        client.batch_update_findings(
            FindingIdentifiers=[{"Id": "trailwarden/a/1", "ProductArn": PRODUCT}],
            Workflow={"Status": "DONE"},
            Note=NOTE,
        )

    assert refused.value.response["Error"]["Code"] == "InvalidInputException"
    assert client.get_findings()["Findings"][0]["Workflow"]["Status"] == "NEW"
    assert standin.requests[0].error == "InvalidInputException"


def test_a_note_longer_than_512_characters_is_refused(
    hub: tuple[Any, BatchUpdateFindingsStandIn],
) -> None:
    client, _ = hub

    with pytest.raises(client.exceptions.InvalidInputException):
        client.batch_update_findings(
            FindingIdentifiers=[{"Id": "trailwarden/a/1", "ProductArn": PRODUCT}],
            Note={"Text": "x" * 513, "UpdatedBy": "trailwarden"},
        )


def test_a_region_without_security_hub_refuses_the_update() -> None:
    with mock_aws(), BatchUpdateFindingsStandIn():
        client = boto3.client("securityhub", region_name="ap-northeast-2")

        with pytest.raises(client.exceptions.InvalidAccessException):
            client.batch_update_findings(
                FindingIdentifiers=[{"Id": "x", "ProductArn": PRODUCT}],
                Workflow={"Status": "RESOLVED"},
            )


def test_a_member_roles_credentials_update_the_members_finding_not_the_callers() -> None:
    member = "333333333333"
    member_product = PRODUCT.replace(ACCOUNT, member)
    with mock_aws(), BatchUpdateFindingsStandIn() as standin:
        credentials = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{member}:role/trailwarden-member", RoleSessionName="hub"
        )["Credentials"]
        as_member = boto3.client(
            "securityhub",
            region_name=REGION,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        as_member.enable_security_hub()
        own = {**finding("trailwarden/m/1"), "ProductArn": member_product, "AwsAccountId": member}
        as_member.batch_import_findings(Findings=[own])

        as_member.batch_update_findings(
            FindingIdentifiers=[{"Id": "trailwarden/m/1", "ProductArn": member_product}],
            Workflow={"Status": "RESOLVED"},
            Note=NOTE,
        )

        assert as_member.get_findings()["Findings"][0]["Workflow"]["Status"] == "RESOLVED"
        assert standin.requests[0].account == member


def test_uninstalled_the_call_reaches_moto_again() -> None:
    with mock_aws():
        standin = BatchUpdateFindingsStandIn().install()
        standin.uninstall()
        client = boto3.client("securityhub", region_name=REGION)

        with pytest.raises(ClientError) as moto_answer:
            client.batch_update_findings(
                FindingIdentifiers=[{"Id": "x", "ProductArn": PRODUCT}],
                Workflow={"Status": "RESOLVED"},
            )

        assert "Not yet implemented" in str(moto_answer.value)  # moto 5.2.5 lacks the call

        assert standin.requests == []
