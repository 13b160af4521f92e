"""sg-change detection: info alerts for group lifecycle, ingress revokes and egress changes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.registry import load_workflow, workflow_for_call
from trailwarden.workflows.sg_change import detection as sg_change

OWN_ROLE = "arn:aws:iam::123456789012:role/trailwarden-SgOpenIngressRemediateFunctionRole-EXAMPLE"
SETTINGS = DetectionSettings(own_role_arns=frozenset({OWN_ROLE}))


def detect(raw: dict[str, Any]) -> Detection:
    return decide(raw, load_workflow(sg_change.WORKFLOW), SETTINGS).detection


@pytest.mark.parametrize(
    ("name", "outcome", "reason"),
    [
        (
            "create-group.json",
            Outcome.ALERT,
            "security group payments-api (sg-0123456789abcdef0) created in vpc-0a1b2c3d4e5f67890",
        ),
        ("delete-group.json", Outcome.ALERT, "security group sg-0123456789abcdef0 deleted"),
        (
            "revoke-ingress.json",
            Outcome.ALERT,
            "ingress revoked from sg-0123456789abcdef0: tcp 22 from 203.0.113.10/32",
        ),
        (
            "authorize-egress.json",
            Outcome.ALERT,
            "egress added to sg-0123456789abcdef0: tcp 25 to 0.0.0.0/0",
        ),
        (
            "revoke-egress.json",
            Outcome.ALERT,
            "egress revoked from sg-0123456789abcdef0: all traffic to 0.0.0.0/0",
        ),
        ("own-role-revoke.json", Outcome.IGNORE, "the app's own call"),
        (
            "failed-delete-group.json",
            Outcome.IGNORE,
            "failed call (DependencyViolation): nothing changed",
        ),
    ],
)
def test_sample_event_is_an_info_alert_with_a_readable_reason(
    name: str, outcome: Outcome, reason: str
) -> None:
    detection = detect(load_event(f"sg-change/{name}"))

    assert detection.outcome is outcome
    assert detection.severity is Severity.INFO
    assert detection.reason == reason


def test_every_watched_call_routes_to_sg_change() -> None:
    names = [
        "CreateSecurityGroup",
        "DeleteSecurityGroup",
        "RevokeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupEgress",
    ]

    routed = {n: workflow_for_call("ec2.amazonaws.com", n) for n in names}

    assert {n: w.id if w else None for n, w in routed.items()} == dict.fromkeys(names, "sg-change")
    opening = workflow_for_call("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress")
    assert opening is not None
    assert opening.id == "sg-open-ingress"


def test_revoke_by_rule_id_names_the_rules() -> None:
    event = copy.deepcopy(load_event("sg-change/own-role-revoke.json"))
    event["detail"]["userIdentity"] = {"type": "IAMUser", "arn": "arn:aws:iam::1:user/x"}

    detection = detect(event)

    assert detection.outcome is Outcome.ALERT
    assert detection.facts["ruleIds"] == ["sgr-0a11111111111111a"]
    assert "sgr-0a11111111111111a" in detection.reason


def test_delete_by_group_name_still_alerts() -> None:
    event = copy.deepcopy(load_event("sg-change/delete-group.json"))
    event["detail"]["requestParameters"] = {"groupName": "legacy-web"}

    detection = detect(event)

    assert detection.outcome is Outcome.ALERT
    assert detection.reason == "security group legacy-web deleted"


@pytest.mark.parametrize("request_parameters", [None, {}, {"ipPermissions": "x"}])
def test_unreadable_request_still_alerts_without_crashing(request_parameters: Any) -> None:
    event = copy.deepcopy(load_event("sg-change/revoke-ingress.json"))
    event["detail"]["requestParameters"] = request_parameters

    assert detect(event).outcome is Outcome.ALERT
