"""The rule patterns of the watch-list workflows and of the us-east-1 forwarder.

Read from template.yaml and forwarder/template.yaml themselves and matched with the
project's EventBridge matcher: failed calls, Athena's StartSession, other Config
rules and COMPLIANT results never reach a function; whatever the home region's IAM
rule matches, the forwarder forwards.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import REPO, load_event
from trailwarden_local.engine.template import load_template_file
from trailwarden_local.patterns import compile_pattern

TEMPLATE = load_template_file(REPO / "template.yaml")
FORWARDER = load_template_file(REPO / "forwarder" / "template.yaml")


def resolve(node: Any, parameters: dict[str, Any]) -> Any:
    """Replace {"Ref": parameter} with the parameter's default."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in parameters:
            return parameters[node["Ref"]]["Default"]
        return {k: resolve(v, parameters) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, parameters) for v in node]
    return node


def rule(function: str, event: str) -> Any:
    body = TEMPLATE["Resources"][function]["Properties"]["Events"][event]
    assert body["Type"] == "EventBridgeRule"
    return compile_pattern(resolve(body["Properties"]["Pattern"], TEMPLATE["Parameters"]))


IAM_RULE = rule("IamUserChangeAlertFunction", "UserCreatedOrDeleted")
SSM_RULE = rule("SsmSessionAlertFunction", "SessionStarted")
KEYPAIR_RULE = rule("Ec2KeyPairAlertFunction", "KeyPairRuleNonCompliant")
FORWARD = compile_pattern(FORWARDER["Resources"]["ForwardRule"]["Properties"]["EventPattern"])


@pytest.mark.parametrize(
    ("sample", "matcher", "matches"),
    [
        ("iam-user-change/create-user.json", IAM_RULE, True),
        ("iam-user-change/create-user-mention-name.json", IAM_RULE, True),
        ("iam-user-change/create-user-cloudformation.json", IAM_RULE, True),
        ("iam-user-change/delete-user.json", IAM_RULE, True),
        ("iam-user-change/failed-access-denied.json", IAM_RULE, False),
        ("ssm-session/shell-session.json", SSM_RULE, True),
        ("ssm-session/port-forwarding-remote-host.json", SSM_RULE, True),
        ("ssm-session/failed-target-not-connected.json", SSM_RULE, False),
        ("ssm-session/athena-start-session.json", SSM_RULE, False),
        ("ec2-keypair/instance-without-key-pair.json", KEYPAIR_RULE, True),
        ("ec2-keypair/compliant.json", KEYPAIR_RULE, False),
        ("ec2-keypair/other-config-rule.json", KEYPAIR_RULE, False),
    ],
)
def test_rule_matches_exactly_the_events_that_can_alert(
    sample: str, matcher: Any, matches: bool
) -> None:
    assert matcher(load_event(sample)) is matches


def test_athena_start_session_does_not_match_even_with_the_ssm_source() -> None:
    event = copy.deepcopy(load_event("ssm-session/athena-start-session.json"))
    event["source"] = "aws.ssm"

    assert SSM_RULE(event) is False


def test_other_iam_calls_do_not_reach_the_user_change_function() -> None:
    event = copy.deepcopy(load_event("iam-user-change/create-user.json"))
    event["detail"]["eventName"] = "CreateRole"

    assert IAM_RULE(event) is False


def test_keypair_rule_ignores_not_applicable_results() -> None:
    event = copy.deepcopy(load_event("ec2-keypair/instance-without-key-pair.json"))
    event["detail"]["newEvaluationResult"]["complianceType"] = "NOT_APPLICABLE"

    assert KEYPAIR_RULE(event) is False


def test_every_iam_event_the_home_rule_wants_is_forwarded_from_us_east_1() -> None:
    for name in ("create-user", "delete-user", "create-user-cloudformation"):
        event = load_event(f"iam-user-change/{name}.json")

        assert IAM_RULE(event) and FORWARD(event), name


def wafv2(scope: str) -> dict[str, Any]:
    return {
        "source": "aws.wafv2",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventSource": "wafv2.amazonaws.com",
            "eventName": "UpdateIPSet",
            "requestParameters": {"name": "blocked", "scope": scope, "id": "1", "addresses": []},
        },
    }


@pytest.mark.parametrize(
    ("event", "forwarded"),
    [
        (wafv2("CLOUDFRONT"), True),
        (wafv2("REGIONAL"), False),  # us-east-1's own regional WAF stays there
        (load_event("ssm-session/shell-session.json"), False),
        (load_event("ami-exposure/made-public.json"), False),
        (load_event("ec2-keypair/instance-without-key-pair.json"), False),
    ],
)
def test_forwarder_sends_only_global_service_events(event: dict[str, Any], forwarded: bool) -> None:
    assert FORWARD(event) is forwarded


def test_forwarder_targets_the_home_region_default_bus_with_retries_and_a_dlq() -> None:
    (target,) = FORWARDER["Resources"]["ForwardRule"]["Properties"]["Targets"]

    assert target["Arn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:events:${HomeRegion}:${AWS::AccountId}:event-bus/default"
    }
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ForwardDeadLetterQueue", "Arn"]}}
    role = FORWARDER["Resources"]["ForwardRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert role["Statement"] == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": target["Arn"]}
    ]
