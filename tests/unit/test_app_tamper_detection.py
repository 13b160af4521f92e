"""app-tamper detection: the app's own resources by name, ARN or prefix; Lambda's versioned
event names; CloudFormation changes at info severity; the backstop's rule findings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.events import parse_envelope
from trailwarden.models.findings import Outcome, Severity
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.app_tamper import detection as app_tamper
from trailwarden.workflows.registry import load_workflow, workflow_for_call

STACK = "trailwarden"
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:CloudTrailTamperStateMachine-9S8T7U6V5W4X"
TOPIC = "arn:aws:sns:us-east-1:123456789012:trailwarden-AlertTopic-Y1Z2A3B4C5D6"
OWN_ROLE = "arn:aws:iam::123456789012:role/trailwarden-TrailBackstopFunctionRole-X"
SETTINGS = DetectionSettings(
    own_role_arns=frozenset({OWN_ROLE}),
    app_resource_names=frozenset({f"{STACK}-*", SM, TOPIC}),
)


def detect(raw: dict[str, Any], settings: DetectionSettings = SETTINGS) -> Any:
    return decide(raw, load_workflow(app_tamper.WORKFLOW), settings).detection


def call(source: str, name: str, request: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("app-tamper/disable-rule.json"))
    event["source"] = "aws." + source.split(".", maxsplit=1)[0]
    event["detail"].update(eventSource=source, eventName=name, requestParameters=request)
    return event


RULE = "trailwarden-CloudTrailTamperStateMachineTrail-1A2B3C4D5E6F"
FUNCTION = "trailwarden-CloudTrailTamperRemediateF-7G8H9I0J1K2L"


@pytest.mark.parametrize(
    ("source", "name", "request_parameters", "resource"),
    [
        pytest.param(
            "events.amazonaws.com", "DisableRule", {"name": RULE}, RULE, id="disable-rule"
        ),
        pytest.param("events.amazonaws.com", "DeleteRule", {"name": RULE}, RULE, id="delete-rule"),
        pytest.param(
            "events.amazonaws.com",
            "PutRule",
            {"name": RULE, "state": "DISABLED", "eventPattern": "{}"},
            RULE,
            id="put-rule",
        ),
        pytest.param(
            "events.amazonaws.com",
            "RemoveTargets",
            {"rule": RULE, "ids": ["t"]},
            RULE,
            id="remove-targets",
        ),
        pytest.param(
            "events.amazonaws.com",
            "PutTargets",
            {"rule": RULE, "targets": []},
            RULE,
            id="put-targets",
        ),
        pytest.param(
            "states.amazonaws.com",
            "DeleteStateMachine",
            {"stateMachineArn": SM},
            SM,
            id="delete-state-machine",
        ),
        pytest.param(
            "states.amazonaws.com",
            "UpdateStateMachine",
            {"stateMachineArn": SM + ":3", "definition": "{}"},
            SM,
            id="update-state-machine-version",
        ),
        pytest.param(
            "states.amazonaws.com",
            "StopExecution",
            {"executionArn": SM.replace(":stateMachine:", ":execution:") + ":run-1"},
            SM,
            id="stop-execution",
        ),
        pytest.param(
            "lambda.amazonaws.com",
            "DeleteFunction20150331",
            {"functionName": FUNCTION},
            FUNCTION,
            id="delete-function-by-name",
        ),
        pytest.param(
            "lambda.amazonaws.com",
            "DeleteFunction20150331",
            {"functionName": f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"},
            FUNCTION,
            id="delete-function-by-arn",
        ),
        pytest.param(
            "lambda.amazonaws.com",
            "UpdateFunctionCode20150331v2",
            {"functionName": f"123456789012:function:{FUNCTION}"},
            FUNCTION,
            id="update-code-partial-arn",
        ),
        pytest.param(
            "lambda.amazonaws.com",
            "UpdateFunctionConfiguration20150331v2",
            {"functionName": FUNCTION, "environment": {}},
            FUNCTION,
            id="update-configuration",
        ),
        pytest.param(
            "lambda.amazonaws.com",
            "PutFunctionConcurrency20171031",
            {"functionName": FUNCTION, "reservedConcurrentExecutions": 0},
            FUNCTION,
            id="concurrency-zero",
        ),
        pytest.param(
            "lambda.amazonaws.com",
            "UpdateFunctionCode20990101v7",
            {"functionName": FUNCTION},
            FUNCTION,
            id="future-version-suffix",
        ),
        pytest.param(
            "sns.amazonaws.com", "DeleteTopic", {"topicArn": TOPIC}, TOPIC, id="delete-topic"
        ),
        pytest.param(
            "sns.amazonaws.com",
            "Unsubscribe",
            {"subscriptionArn": TOPIC + ":0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"},
            TOPIC,
            id="unsubscribe",
        ),
        pytest.param(
            "scheduler.amazonaws.com",
            "DeleteSchedule",
            {"name": f"{STACK}-TrailBackstop", "groupName": "default"},
            f"{STACK}-TrailBackstop",
            id="delete-schedule",
        ),
        pytest.param(
            "scheduler.amazonaws.com",
            "UpdateSchedule",
            {"Name": f"{STACK}-TrailBackstop", "State": "DISABLED"},
            f"{STACK}-TrailBackstop",
            id="disable-schedule-pascal-case",
        ),
    ],
)
def test_change_to_the_apps_own_resource_is_a_critical_alert(
    source: str, name: str, request_parameters: dict[str, Any], resource: str
) -> None:
    detection = detect(call(source, name, request_parameters))

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.CRITICAL)
    assert detection.resource_id == resource
    assert detection.workflow == "app-tamper"


@pytest.mark.parametrize(
    ("source", "name", "request_parameters"),
    [
        pytest.param(
            "events.amazonaws.com", "DisableRule", {"name": "other-app-rule"}, id="other-rule"
        ),
        pytest.param(
            "events.amazonaws.com",
            "DisableRule",
            {"name": "xtrailwarden-rule"},
            id="name-containing-stack-is-not-a-prefix",
        ),
        pytest.param(
            "states.amazonaws.com",
            "DeleteStateMachine",
            {"stateMachineArn": SM + "Other"},
            id="state-machine-sharing-a-name-prefix",
        ),
        pytest.param(
            "lambda.amazonaws.com",
            "DeleteFunction20150331",
            {"functionName": "payments-api"},
            id="other-function",
        ),
        pytest.param(
            "sns.amazonaws.com",
            "DeleteTopic",
            {"topicArn": TOPIC + "-copy"},
            id="other-topic",
        ),
        pytest.param(
            "lambda.amazonaws.com",
            "DeleteFunctionUrlConfig20211031",
            {"functionName": FUNCTION},
            id="unwatched-lambda-call",
        ),
        pytest.param("events.amazonaws.com", "DisableRule", {}, id="no-resource-named"),
    ],
)
def test_other_resources_and_calls_are_ignored(
    source: str, name: str, request_parameters: dict[str, Any]
) -> None:
    assert detect(call(source, name, request_parameters)).outcome is Outcome.IGNORE


def test_without_a_resource_list_the_rule_pattern_is_trusted() -> None:
    raw = call("events.amazonaws.com", "DisableRule", {"name": "anything"})

    detection = detect(raw, DetectionSettings())

    assert detection.outcome is Outcome.ALERT


def test_cloudformation_change_is_info_never_dropped() -> None:
    detection = detect(load_event("app-tamper/update-function-code-cloudformation.json"))

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.INFO)
    assert detection.facts["viaCloudFormation"] is True


def test_a_cloudformation_user_agent_alone_does_not_downgrade_the_alert() -> None:
    raw = load_event("app-tamper/disable-rule.json")
    raw["detail"]["userAgent"] = "cloudformation.amazonaws.com"  # the caller chooses this

    detection = detect(raw)

    assert detection.severity is Severity.CRITICAL


def test_backstop_role_is_ignored_by_exact_arn_only() -> None:
    own = load_event("app-tamper/disable-rule.json")
    own["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = OWN_ROLE
    other = copy.deepcopy(own)
    other["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = OWN_ROLE + "2"

    assert detect(own).outcome is Outcome.IGNORE
    assert detect(other).outcome is Outcome.ALERT


def test_failed_calls_are_ignored() -> None:
    raw = load_event("app-tamper/disable-rule.json")
    raw["detail"]["errorCode"] = "AccessDeniedException"

    assert detect(raw).outcome is Outcome.IGNORE


@pytest.mark.parametrize(
    ("event_name", "base"),
    [
        ("UpdateFunctionCode20150331v2", "UpdateFunctionCode"),
        ("DeleteFunction20150331", "DeleteFunction"),
        ("UpdateFunctionConfiguration20150331v2", "UpdateFunctionConfiguration"),
        ("DisableRule", "DisableRule"),
    ],
)
def test_lambda_version_suffixes_are_stripped(event_name: str, base: str) -> None:
    assert app_tamper.base_call_name(event_name) == base


@pytest.mark.parametrize(
    "event_name",
    [
        "DeleteFunction20150331",
        "UpdateFunctionCode20150331v2",
        "UpdateFunctionConfiguration20150331v2",
    ],
)
def test_versioned_lambda_calls_route_to_app_tamper(event_name: str) -> None:
    workflow = workflow_for_call("lambda.amazonaws.com", event_name)

    assert workflow is not None
    assert workflow.id == "app-tamper"


@pytest.mark.parametrize(
    ("detail_type", "reason"),
    [
        ("App Rule Disabled", "is DISABLED"),
        ("App Rule Missing", "no longer exists"),
        ("App Rule Without Targets", "has no targets"),
    ],
)
def test_backstop_rule_findings_are_critical_alerts(detail_type: str, reason: str) -> None:
    raw = copy.deepcopy(load_event("app-tamper/backstop-rule-disabled.json"))
    raw["detail-type"] = detail_type

    detection = app_tamper.detect_envelope(parse_envelope(raw), SETTINGS)

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.CRITICAL)
    assert reason in detection.reason
    assert detection.resource_id == RULE


def test_backstop_shaped_event_from_elsewhere_is_ignored() -> None:
    raw = copy.deepcopy(load_event("app-tamper/backstop-rule-disabled.json"))
    raw["source"] = "aws.events"

    detection = app_tamper.detect_envelope(parse_envelope(raw), SETTINGS)

    assert detection.outcome is Outcome.IGNORE
