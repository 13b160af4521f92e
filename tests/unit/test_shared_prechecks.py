"""The checks every workflow shares (the app's own call, a failed call, a call that is not
the workflow's) run once in decide(), before the workflow's detection: a detection never
sees those calls, except a failed one when it decides failed calls itself."""

from __future__ import annotations

import copy
from typing import Any, NoReturn

import pytest

from tests.conftest import load_event, load_index
from trailwarden.logic.decide import decide
from trailwarden.models.findings import Outcome, Severity, Verdict
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.common import call_name, is_trigger
from trailwarden.workflows.registry import BY_ID, WORKFLOWS, Workflow

OWN_ROLE = "arn:aws:iam::123456789012:role/trailwarden-AmiExposureRemediateFunctionRole-X"
SETTINGS = DetectionSettings(own_role_arns=frozenset({OWN_ROLE}))
# One CloudTrail sample per workflow that CloudTrail calls trigger: a call it watches.
SAMPLES = {
    entry["workflow"]: entry["file"]
    for entry in reversed(load_index()["events"])
    if entry.get("workflow")
    and load_event(entry["file"]).get("detail-type") == "AWS API Call via CloudTrail"
    and "errorCode" not in load_event(entry["file"])["detail"]
}
CLOUDTRAIL_WORKFLOWS = sorted(w.id for w in WORKFLOWS if w.triggers)


def _unreachable(*_args: Any) -> NoReturn:
    raise AssertionError("the detection was given a call the shared prechecks stop")


def _guarded(workflow: Workflow) -> Workflow:
    """The workflow with a detection (pure and live) that fails the test if it is called."""
    return workflow._replace(
        detect=_unreachable,
        live_detect=_unreachable if workflow.live_detect is not None else None,
    )


def _no_clients(service: str, region: str | None) -> NoReturn:
    raise AssertionError(f"a precheck made a live lookup ({service})")


def _sample(workflow_id: str, **detail_changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event(SAMPLES[workflow_id]))
    event["detail"].update(detail_changes)
    return event


def _own(event: dict[str, Any]) -> dict[str, Any]:
    event["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/x/y",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": OWN_ROLE}},
    }
    return event


def test_every_workflow_that_calls_trigger_has_a_sample_here() -> None:
    assert sorted(SAMPLES) == CLOUDTRAIL_WORKFLOWS


@pytest.mark.parametrize("workflow_id", CLOUDTRAIL_WORKFLOWS)
def test_the_apps_own_call_is_ignored_before_any_detection_runs(workflow_id: str) -> None:
    workflow = _guarded(BY_ID[workflow_id])

    for clients in (None, _no_clients):  # replay's pure path and Assess's live one
        decision = decide(_own(_sample(workflow_id)), workflow, SETTINGS, clients)

        assert decision.verdict is Verdict.IGNORE
        assert decision.detection.workflow == workflow_id
        assert decision.detection.reason == "the app's own call"


@pytest.mark.parametrize(
    "workflow_id", [w for w in CLOUDTRAIL_WORKFLOWS if w != "cloudtrail-tamper"]
)
def test_a_failed_call_is_ignored_before_the_detection_runs(workflow_id: str) -> None:
    workflow = _guarded(BY_ID[workflow_id])

    for clients in (None, _no_clients):
        event = _sample(workflow_id, errorCode="AccessDenied")
        decision = decide(event, workflow, SETTINGS, clients)

        assert decision.verdict is Verdict.IGNORE
        assert decision.detection.severity is Severity.INFO
        assert decision.detection.reason == "failed call (AccessDenied): nothing changed"


def test_a_detection_that_decides_failed_calls_gets_them_and_never_acts_on_them() -> None:
    event = load_event("cloudtrail-tamper/stop-logging-by-name.json")
    event["detail"]["errorCode"] = "AccessDenied"

    decision = decide(event, BY_ID["cloudtrail-tamper"], SETTINGS)

    assert decision.detection.outcome is Outcome.ALERT
    assert decision.detection.severity is Severity.INFO
    assert decision.detection.facts["failedAttempt"] is True
    assert decision.verdict is Verdict.ALERT


@pytest.mark.parametrize("workflow_id", CLOUDTRAIL_WORKFLOWS)
def test_a_call_that_is_not_the_workflows_is_ignored_before_the_detection_runs(
    workflow_id: str,
) -> None:
    workflow = _guarded(BY_ID[workflow_id])
    event = _sample(workflow_id, eventSource="athena.amazonaws.com")

    decision = decide(event, workflow, SETTINGS)

    assert decision.verdict is Verdict.IGNORE
    assert "athena.amazonaws.com" in decision.detection.reason
    assert workflow_id in decision.detection.reason


def test_a_cloudtrail_call_to_a_workflow_no_call_triggers_is_ignored() -> None:
    workflow = _guarded(BY_ID["ec2-keypair"])

    decision = decide(load_event("ami-exposure/made-public.json"), workflow, SETTINGS)

    assert decision.verdict is Verdict.IGNORE


@pytest.mark.parametrize(
    ("event_name", "matches"),
    [
        ("DeleteFunction20150331", True),
        ("DeleteFunction20990101", True),
        ("UpdateFunctionCode20990101v7", True),
        ("DeleteFunction", True),
        ("DeleteFunctionUrlConfig20150331", False),
        ("GetFunction20150331v2", False),
    ],
)
def test_lambda_triggers_match_the_call_in_any_api_version(event_name: str, matches: bool) -> None:
    triggers = frozenset(
        {
            ("lambda.amazonaws.com", "DeleteFunction20150331"),
            ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2"),
        }
    )

    assert is_trigger(triggers, "lambda.amazonaws.com", event_name) is matches


def test_only_lambda_call_names_carry_an_api_version() -> None:
    assert call_name("lambda.amazonaws.com", "DeleteFunction20150331") == "DeleteFunction"
    assert call_name("ec2.amazonaws.com", "Foo20150331") == "Foo20150331"
    assert not is_trigger(
        frozenset({("ec2.amazonaws.com", "Foo")}), "ec2.amazonaws.com", "Foo20150331"
    )
