"""iam-user-change detection: who, which user, tags and path; failed and own calls ignored."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.iam_user_change import detection as iam_user_change
from trailwarden.workflows.registry import load_workflow

OWN_ROLE = "arn:aws:iam::123456789012:role/tw-remediate"
SETTINGS = DetectionSettings(own_role_arns=frozenset({OWN_ROLE}))


def detect(raw: dict[str, Any]) -> Detection:
    return decide(raw, load_workflow(iam_user_change.WORKFLOW), SETTINGS).detection


def variant(name: str, **detail_changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event(f"iam-user-change/{name}.json"))
    event["detail"].update(detail_changes)
    return event


@pytest.mark.parametrize(
    ("sample", "outcome", "severity", "reason"),
    [
        (
            "create-user",
            Outcome.ALERT,
            Severity.MEDIUM,
            "IAM user svc-reporting created in the console",
        ),
        ("create-user-mention-name", Outcome.ALERT, Severity.MEDIUM, "IAM user @everyone created"),
        (
            "create-user-cloudformation",
            Outcome.ALERT,
            Severity.INFO,
            "IAM user app-smtp-sender created by CloudFormation",
        ),
        ("delete-user", Outcome.ALERT, Severity.MEDIUM, "IAM user old-contractor deleted"),
        ("failed-access-denied", Outcome.IGNORE, Severity.INFO, "failed call (AccessDenied)"),
    ],
)
def test_each_sample_yields_its_outcome_and_severity(
    sample: str, outcome: Outcome, severity: Severity, reason: str
) -> None:
    detection = detect(load_event(f"iam-user-change/{sample}.json"))

    assert (detection.outcome, detection.severity) == (outcome, severity)
    assert detection.reason.startswith(reason)


def test_created_user_alert_names_the_user_its_path_tags_and_how_it_was_made() -> None:
    detection = detect(load_event("iam-user-change/create-user.json"))

    assert detection.resource_type == "AWS::IAM::User"
    assert detection.resource_id == "svc-reporting"
    assert detection.facts == {
        "userName": "svc-reporting",
        "userArn": "arn:aws:iam::123456789012:user/service-accounts/svc-reporting",
        "path": "/service-accounts/",
        "tags": [
            {"key": "owner", "value": "data-platform"},
            {"key": "ticket", "value": "SEC-4711"},
        ],
        "permissionsBoundary": "",
        "via": "console",
        "mfaAuthenticated": True,
    }


def test_deleted_user_has_no_arn_or_path_to_report() -> None:
    detection = detect(load_event("iam-user-change/delete-user.json"))

    assert detection.facts["userName"] == "old-contractor"
    assert (detection.facts["userArn"], detection.facts["path"], detection.facts["tags"]) == (
        "",
        "",
        [],
    )
    assert detection.facts["via"] == "api"


def test_root_user_creating_a_user_is_high_severity() -> None:
    event = variant("create-user")
    event["detail"]["userIdentity"] = {
        "type": "Root",
        "arn": "arn:aws:iam::123456789012:root",
        "accountId": "123456789012",
    }

    assert detect(event).severity is Severity.HIGH


def test_create_user_without_path_gets_iams_default_path_and_tags_from_the_response() -> None:
    event = variant("create-user")
    event["detail"]["requestParameters"] = {"userName": "svc-reporting"}
    event["detail"]["responseElements"]["user"]["tags"] = [{"Key": "owner", "Value": "x"}]
    del event["detail"]["responseElements"]["user"]["path"]

    facts = detect(event).facts

    assert facts["path"] == "/"
    assert facts["tags"] == [{"key": "owner", "value": "x"}]


def test_permissions_boundary_is_reported() -> None:
    boundary = "arn:aws:iam::123456789012:policy/boundary"
    event = variant("create-user")
    event["detail"]["requestParameters"]["permissionsBoundary"] = boundary

    assert detect(event).facts["permissionsBoundary"] == boundary


def test_the_apps_own_role_is_ignored() -> None:
    event = variant("delete-user")
    event["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/tw-remediate/fn",
        "sessionContext": {"sessionIssuer": {"arn": OWN_ROLE}},
    }

    assert detect(event).outcome is Outcome.IGNORE


@pytest.mark.parametrize(
    ("source", "name"),
    [("iam.amazonaws.com", "CreateRole"), ("identitystore.amazonaws.com", "CreateUser")],
)
def test_other_calls_are_not_user_changes(source: str, name: str) -> None:
    event = variant("create-user", eventSource=source, eventName=name)

    assert detect(event).outcome is Outcome.IGNORE


def test_request_without_a_user_name_is_ignored() -> None:
    event = variant("delete-user", requestParameters={})

    detection = detect(event)

    assert detection.outcome is Outcome.IGNORE
    assert "userName" in detection.reason
