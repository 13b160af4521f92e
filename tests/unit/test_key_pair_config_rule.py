"""The key-pair AWS Config rule: evaluation of configuration items and what it reports.

moto does not run Config rules and accepts PutEvaluations only in TestMode, so the
Config client is a botocore Stubber: it checks the exact requests the rule makes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from handlers import keypair_rule
from trailwarden.models.errors import InvalidEvent, TransientAwsError
from trailwarden.workflows.ec2_keypair.config_rule import (
    ANNOTATION_LIMIT,
    Compliance,
    evaluate_invocation,
    evaluate_item,
)

CAPTURED = "2026-11-24T06:05:12.000Z"
CAPTURED_AT = datetime(2026, 11, 24, 6, 5, 12, tzinfo=UTC)
TOKEN = "result-token-1"


def item(
    key_name: str | None = "ops-2026",
    state: str = "running",
    status: str = "OK",
    resource_type: str = "AWS::EC2::Instance",
    **configuration: Any,
) -> dict[str, Any]:
    return {
        "configurationItemCaptureTime": CAPTURED,
        "configurationItemStatus": status,
        "resourceType": resource_type,
        "resourceId": "i-0a1b2c3d4e5f67890",
        "awsRegion": "us-east-1",
        "configuration": {
            "instanceId": "i-0a1b2c3d4e5f67890",
            "keyName": key_name,
            "state": {"code": 16, "name": state},
            **configuration,
        },
    }


def invocation(invoking: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "version": "1.0",
        "invokingEvent": json.dumps(invoking),
        "ruleParameters": "{}",
        "resultToken": TOKEN,
        "eventLeftScope": False,
        "configRuleName": "trailwarden-ec2-without-key-pair",
        "accountId": "123456789012",
        **extra,
    }


def change(configuration_item: dict[str, Any]) -> dict[str, Any]:
    return {
        "configurationItem": configuration_item,
        "messageType": "ConfigurationItemChangeNotification",
        "notificationCreationTime": CAPTURED,
        "recordVersion": "1.3",
    }


@pytest.fixture
def config() -> Any:
    return boto3.client("config", region_name="us-east-1")


def put_request(compliance: str, annotation: str = ANY) -> dict[str, Any]:
    return {
        "Evaluations": [
            {
                "ComplianceResourceType": "AWS::EC2::Instance",
                "ComplianceResourceId": "i-0a1b2c3d4e5f67890",
                "ComplianceType": compliance,
                "Annotation": annotation,
                "OrderingTimestamp": CAPTURED_AT,
            }
        ],
        "ResultToken": TOKEN,
    }


@pytest.mark.parametrize(
    ("configuration_item", "left_scope", "compliance"),
    [
        pytest.param(item(key_name=None), False, Compliance.NON_COMPLIANT, id="no-keyname"),
        pytest.param(item(key_name=""), False, Compliance.NON_COMPLIANT, id="empty-keyname"),
        pytest.param(
            {**item(), "configuration": {"state": {"name": "running"}}},
            False,
            Compliance.NON_COMPLIANT,
            id="keyname-absent",
        ),
        pytest.param(item(), False, Compliance.COMPLIANT, id="with-key-pair"),
        pytest.param(
            item(key_name=None, state="stopped"),
            False,
            Compliance.NON_COMPLIANT,
            id="stopped-is-still-evaluated",
        ),
        pytest.param(
            item(key_name=None, status="ResourceDiscovered"),
            False,
            Compliance.NON_COMPLIANT,
            id="newly-discovered",
        ),
        pytest.param(
            item(key_name=None, state="terminated"),
            False,
            Compliance.NOT_APPLICABLE,
            id="terminated",
        ),
        pytest.param(
            item(key_name=None, state="shutting-down"),
            False,
            Compliance.NOT_APPLICABLE,
            id="shutting-down",
        ),
        pytest.param(
            item(key_name=None, status="ResourceDeleted"),
            False,
            Compliance.NOT_APPLICABLE,
            id="deleted-item",
        ),
        pytest.param(
            item(key_name=None, status="ResourceDeletedNotRecorded"),
            False,
            Compliance.NOT_APPLICABLE,
            id="deleted-not-recorded",
        ),
        pytest.param(
            {**item(key_name=None, status="ResourceNotRecorded"), "configuration": None},
            False,
            Compliance.NOT_APPLICABLE,
            id="not-recorded",
        ),
        pytest.param(item(key_name=None), True, Compliance.NOT_APPLICABLE, id="left-scope"),
        pytest.param(
            item(key_name=None, resource_type="AWS::EC2::Volume"),
            False,
            Compliance.NOT_APPLICABLE,
            id="not-an-instance",
        ),
    ],
)
def test_configuration_item_compliance(
    configuration_item: dict[str, Any], left_scope: bool, compliance: Compliance
) -> None:
    evaluation = evaluate_item(configuration_item, event_left_scope=left_scope)

    assert evaluation.compliance is compliance
    assert evaluation.resource_id == "i-0a1b2c3d4e5f67890"
    assert evaluation.ordering_timestamp == CAPTURED_AT


def test_instance_without_key_pair_is_reported_non_compliant(config: Any) -> None:
    stubber = Stubber(config)
    stubber.add_response(
        "put_evaluations",
        {"FailedEvaluations": []},
        put_request("NON_COMPLIANT", "launched without a key pair (no KeyName)"),
    )

    with stubber:
        evaluations = evaluate_invocation(invocation(change(item(key_name=None))), config)

    stubber.assert_no_pending_responses()
    assert [e.compliance for e in evaluations] == [Compliance.NON_COMPLIANT]


def test_oversized_item_is_fetched_from_the_configuration_history(config: Any) -> None:
    # Given a notification that only carries a summary of the item
    summary = {
        "changeType": "UPDATE",
        "configurationItemCaptureTime": CAPTURED,
        "configurationItemStatus": "OK",
        "resourceType": "AWS::EC2::Instance",
        "resourceId": "i-0a1b2c3d4e5f67890",
        "awsRegion": "us-east-1",
    }
    oversized = {
        "configurationItemSummary": summary,
        "messageType": "OversizedConfigurationItemChangeNotification",
        "notificationCreationTime": CAPTURED,
        "recordVersion": "1.3",
    }
    history_item = {
        "configurationItemCaptureTime": CAPTURED_AT,
        "configurationItemStatus": "OK",
        "resourceType": "AWS::EC2::Instance",
        "resourceId": "i-0a1b2c3d4e5f67890",
        # The history API returns the configuration as JSON text.
        "configuration": json.dumps({"keyName": None, "state": {"name": "running"}}),
    }
    stubber = Stubber(config)
    stubber.add_response(
        "get_resource_config_history",
        {"configurationItems": [history_item]},
        {"resourceType": "AWS::EC2::Instance", "resourceId": "i-0a1b2c3d4e5f67890", "limit": 1},
    )
    stubber.add_response("put_evaluations", {"FailedEvaluations": []}, put_request("NON_COMPLIANT"))

    # When the rule is invoked
    with stubber:
        evaluations = evaluate_invocation(invocation(oversized), config)

    # Then it fetched the item and evaluated it
    stubber.assert_no_pending_responses()
    assert [e.compliance for e in evaluations] == [Compliance.NON_COMPLIANT]


def test_terminated_instance_is_reported_not_applicable(config: Any) -> None:
    stubber = Stubber(config)
    stubber.add_response(
        "put_evaluations", {"FailedEvaluations": []}, put_request("NOT_APPLICABLE")
    )

    with stubber:
        evaluate_invocation(invocation(change(item(key_name=None, state="terminated"))), config)

    stubber.assert_no_pending_responses()


def test_scheduled_notification_evaluates_nothing(config: Any) -> None:
    scheduled = {"messageType": "ScheduledNotification", "awsAccountId": "123456789012"}

    with Stubber(config):  # any call would fail: nothing is stubbed
        assert evaluate_invocation(invocation(scheduled), config) == []


def test_rejected_evaluations_are_an_error_so_the_invocation_is_retried(config: Any) -> None:
    stubber = Stubber(config)
    rejected = {
        "ComplianceResourceType": "AWS::EC2::Instance",
        "ComplianceResourceId": "i-1",
        "ComplianceType": "NON_COMPLIANT",
        "OrderingTimestamp": CAPTURED_AT,
    }
    stubber.add_response("put_evaluations", {"FailedEvaluations": [rejected]})

    with stubber, pytest.raises(TransientAwsError):
        evaluate_invocation(invocation(change(item(key_name=None))), config)


def test_throttled_put_evaluations_is_a_transient_error(config: Any) -> None:
    stubber = Stubber(config)
    stubber.add_client_error("put_evaluations", "ThrottlingException", http_status_code=400)

    with stubber, pytest.raises(TransientAwsError):
        evaluate_invocation(invocation(change(item(key_name=None))), config)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param("not an object", id="not-an-object"),
        pytest.param({"resultToken": TOKEN}, id="no-invoking-event"),
        pytest.param({"invokingEvent": "{not json", "resultToken": TOKEN}, id="invalid-json"),
        pytest.param({"invokingEvent": "{}"}, id="no-result-token"),
    ],
)
def test_malformed_invocations_are_invalid_events(event: Any, config: Any) -> None:
    with pytest.raises(InvalidEvent):
        evaluate_invocation(event, config)


def test_long_annotations_are_cut_to_config_limit() -> None:
    evaluation = evaluate_item(item(key_name="k" * 400))

    assert len(evaluation.to_api()["Annotation"]) == ANNOTATION_LIMIT


def test_handler_reports_evaluations_as_json(config: Any) -> None:
    stubber = Stubber(config)
    stubber.add_response("put_evaluations", {"FailedEvaluations": []}, put_request("COMPLIANT"))

    with stubber:
        result = keypair_rule.run(invocation(change(item())), keypair_rule.Deps(config=config))

    assert result == {
        "evaluations": [
            {
                "resourceType": "AWS::EC2::Instance",
                "resourceId": "i-0a1b2c3d4e5f67890",
                "complianceType": "COMPLIANT",
                "annotation": "launched with key pair ops-2026",
                "orderingTimestamp": "2026-11-24T06:05:12+00:00",
            }
        ]
    }
