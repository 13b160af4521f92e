"""snapshot-exposure detection: the shape CloudTrail logs (CREATE_VOLUME_PERMISSION,
createVolumePermission.add.items[]), the flat CLI shape, trusted accounts, bad input."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.events import parse_cloudtrail, parse_envelope
from trailwarden.models.findings import Outcome, Severity, Verdict
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.registry import load_workflow
from trailwarden.workflows.snapshot_exposure import detection

OWN_ROLE = (
    "arn:aws:iam::123456789012:role/trailwarden-SnapshotExposureRemediateFunctionRole-EXAMPLE"
)
SETTINGS = DetectionSettings(
    trusted_account_ids=frozenset({"222222222222"}), own_role_arns=frozenset({OWN_ROLE})
)


def with_request(request: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("snapshot-exposure/made-public.json"))
    event["detail"]["requestParameters"] = request
    return event


def verdict_of(raw: dict[str, Any]) -> Verdict:
    return decide(raw, load_workflow("snapshot-exposure"), SETTINGS).verdict


@pytest.mark.parametrize(
    ("sample", "verdict"),
    [
        ("made-public", Verdict.REMEDIATE),
        ("shared-untrusted-account", Verdict.REMEDIATE),
        ("shared-trusted-account", Verdict.IGNORE),
        ("failed-access-denied", Verdict.IGNORE),
        ("own-role-call", Verdict.IGNORE),
    ],
)
def test_each_sample_gets_its_verdict(sample: str, verdict: Verdict) -> None:
    assert verdict_of(load_event(f"snapshot-exposure/{sample}.json")) == verdict


def test_public_snapshot_is_critical_and_names_the_snapshot() -> None:
    found = detection.detect(
        parse_cloudtrail(parse_envelope(load_event("snapshot-exposure/made-public.json"))),
        SETTINGS,
    )

    assert (found.outcome, found.severity) == (Outcome.ACT, Severity.CRITICAL)
    assert found.resource_type == "AWS::EC2::Snapshot"
    assert found.resource_id == "snap-0a1b2c3d4e5f60718"
    assert found.facts["addedPublic"] is True


@pytest.mark.parametrize(
    ("request_parameters", "outcome", "untrusted"),
    [
        pytest.param(
            {
                "snapshotId": "snap-1",
                "attributeType": "CREATE_VOLUME_PERMISSION",
                "createVolumePermission": {
                    "add": {"items": [{"userId": "222222222222"}, {"userId": "999988887777"}]}
                },
            },
            Outcome.ACT,
            ["999988887777"],
            id="untrusted-beside-trusted-is-acted-on-for-the-untrusted-one",
        ),
        pytest.param(
            {"snapshotId": "snap-1", "operationType": "add", "userIds": ["999988887777"]},
            Outcome.ACT,
            ["999988887777"],
            id="flat-cli-userids-are-read",
        ),
        pytest.param(
            {"snapshotId": "snap-1", "operationType": "add", "groupNames": ["all"]},
            Outcome.ACT,
            [],
            id="flat-cli-group-all-is-public",
        ),
        pytest.param(
            {
                "snapshotId": "snap-1",
                "attributeType": "CREATE_VOLUME_PERMISSION",
                "createVolumePermission": {"remove": {"items": [{"group": "all"}]}},
            },
            Outcome.IGNORE,
            [],
            id="a-removal-exposes-nothing",
        ),
        pytest.param(
            {
                "snapshotId": "snap-1",
                "attributeType": "PRODUCT_CODES",
                "createVolumePermission": {"add": {"items": [{"group": "all"}]}},
            },
            Outcome.IGNORE,
            [],
            id="another-attribute-is-ignored",
        ),
        pytest.param(
            {
                "snapshotId": "snap-1",
                "createVolumePermission": {"add": {"items": [{"userId": "not-an-account"}]}},
            },
            Outcome.IGNORE,
            [],
            id="a-malformed-account-id-names-nothing-to-remove",
        ),
        pytest.param(
            {"createVolumePermission": {"add": {"items": [{"group": "all"}]}}},
            Outcome.IGNORE,
            [],
            id="no-snapshot-id-is-ignored",
        ),
        pytest.param(
            {"snapshotId": ["snap-1"], "createVolumePermission": "all"},
            Outcome.IGNORE,
            [],
            id="wrong-types-are-ignored-not-a-crash",
        ),
    ],
)
def test_request_shapes(request_parameters: Any, outcome: Outcome, untrusted: list[str]) -> None:
    found = detection.detect(
        parse_cloudtrail(parse_envelope(with_request(request_parameters))), SETTINGS
    )

    assert found.outcome == outcome
    assert found.facts.get("addedUntrustedAccounts", []) == untrusted
