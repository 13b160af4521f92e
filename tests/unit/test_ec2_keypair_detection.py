"""ec2-keypair detection: our Config rule's NON_COMPLIANT results only."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.events import parse_envelope
from trailwarden.models.findings import Detection, Mode, Outcome, Severity, Verdict
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.ec2_keypair import detection as ec2_keypair
from trailwarden.workflows.registry import load_workflow

WORKFLOW_ID = "ec2-keypair"

RULE = "trailwarden-ec2-without-key-pair"
SETTINGS = DetectionSettings(key_pair_config_rule_name=RULE)
EC2_KEYPAIR = load_workflow(WORKFLOW_ID)


def detect(raw: dict[str, Any], settings: DetectionSettings = SETTINGS) -> Detection:
    return ec2_keypair.detect_envelope(parse_envelope(raw), settings)


def non_compliant() -> dict[str, Any]:
    return copy.deepcopy(load_event("ec2-keypair/instance-without-key-pair.json"))


def test_our_rule_reporting_non_compliant_is_an_alert_about_the_instance() -> None:
    detection = detect(non_compliant())

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.MEDIUM)
    assert (detection.resource_type, detection.resource_id) == (
        "AWS::EC2::Instance",
        "i-0a1b2c3d4e5f67890",
    )
    assert detection.facts["configRuleName"] == RULE
    assert detection.facts["annotation"] == "launched without a key pair (no KeyName)"


@pytest.mark.parametrize(
    ("sample", "why"),
    [("compliant.json", "COMPLIANT"), ("other-config-rule.json", "required-tags")],
)
def test_compliant_results_and_other_rules_are_ignored(sample: str, why: str) -> None:
    detection = detect(load_event(f"ec2-keypair/{sample}"))

    assert detection.outcome is Outcome.IGNORE
    assert why in detection.reason


def test_not_applicable_is_ignored() -> None:
    event = non_compliant()
    event["detail"]["newEvaluationResult"]["complianceType"] = "NOT_APPLICABLE"

    assert detect(event).outcome is Outcome.IGNORE


def test_without_a_configured_rule_name_nothing_matches() -> None:
    assert detect(non_compliant(), DetectionSettings()).outcome is Outcome.IGNORE


def test_rule_and_resource_are_read_from_the_qualifier_when_the_top_level_lacks_them() -> None:
    event = non_compliant()
    for key in ("configRuleName", "resourceId", "resourceType"):
        del event["detail"][key]

    detection = detect(event)

    assert detection.outcome is Outcome.ALERT
    assert detection.resource_id == "i-0a1b2c3d4e5f67890"


def test_a_non_instance_resource_is_ignored() -> None:
    event = non_compliant()
    event["detail"]["resourceType"] = "AWS::EC2::Volume"

    assert detect(event).outcome is Outcome.IGNORE


def test_other_event_kinds_are_ignored() -> None:
    event = non_compliant()
    event["detail-type"] = "Config Configuration Item Change"

    assert detect(event).outcome is Outcome.IGNORE


def test_a_cloudtrail_call_never_triggers_the_workflow() -> None:
    event = load_event("ami-exposure/made-public.json")

    assert decide(event, EC2_KEYPAIR, SETTINGS).verdict is Verdict.IGNORE


def test_the_event_id_is_the_envelope_id_so_redeliveries_are_deduplicated() -> None:
    decision = decide(non_compliant(), EC2_KEYPAIR, SETTINGS)

    assert decision.verdict is Verdict.ALERT
    assert decision.context.event_id == "e6c3f4a5-4444-4a2b-9c3d-000000000001"
    assert decision.context.event_name == "Config Rules Compliance Change"


def test_mode_off_silences_the_workflow() -> None:
    settings = DetectionSettings(key_pair_config_rule_name=RULE, modes={WORKFLOW_ID: Mode.OFF})

    assert decide(non_compliant(), EC2_KEYPAIR, settings).verdict is Verdict.IGNORE
