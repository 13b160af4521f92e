"""waf-change detection: web ACLs created, changed or deleted are alerted, with what changed."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.registry import load_workflow
from trailwarden.workflows.waf_change import detection as waf_change


def detect(name: str, **detail_changes: object) -> Detection:
    raw = copy.deepcopy(load_event(f"waf-change/{name}.json"))
    raw["detail"].update(detail_changes)
    return decide(raw, load_workflow(waf_change.WORKFLOW), DetectionSettings()).detection


@pytest.mark.parametrize(
    ("sample", "severity", "words"),
    [
        ("create-web-acl", Severity.INFO, ("prod-web", "created", "default action Allow")),
        ("update-web-acl", Severity.MEDIUM, ("prod-api", "changed", "default action Block")),
        ("delete-web-acl", Severity.HIGH, ("staging-web", "deleted")),
    ],
)
def test_web_acl_changes_are_alerted_with_what_changed(
    sample: str, severity: Severity, words: tuple[str, ...]
) -> None:
    detection = detect(sample)

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, severity)
    assert all(word in detection.reason for word in words)
    assert detection.facts["scope"] == "REGIONAL"


def test_updated_rules_are_listed_with_their_actions() -> None:
    assert detect("update-web-acl").facts["rules"] == ["ip-blocklist: Block"]


def test_created_web_acl_is_named_by_its_arn() -> None:
    assert detect("create-web-acl").resource_id.startswith(
        "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/prod-web/"
    )


def test_failed_call_is_ignored() -> None:
    detection = detect("delete-web-acl", errorCode="WAFAssociatedItemException")

    assert detection.outcome is Outcome.IGNORE
