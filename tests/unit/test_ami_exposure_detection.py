"""ami-exposure detection: both request shapes, trusted accounts, org shares, bad input."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.findings import Outcome, Severity
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.ami_exposure import detection as ami_exposure
from trailwarden.workflows.registry import load_workflow

SETTINGS = DetectionSettings(
    trusted_account_ids=frozenset({"222222222222"}),
    own_role_arns=frozenset({"arn:aws:iam::123456789012:role/tw-remediate"}),
)


def with_request(request: Any, **detail_changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("ami-exposure/made-public.json"))
    event["detail"]["requestParameters"] = request
    event["detail"].update(detail_changes)
    return event


def detect(raw: dict[str, Any]) -> Any:
    return decide(raw, load_workflow(ami_exposure.WORKFLOW), SETTINGS).detection


@pytest.mark.parametrize(
    ("request_parameters", "outcome"),
    [
        pytest.param(
            {"imageId": "ami-1", "launchPermission": {"add": {"items": [{"group": "all"}]}}},
            Outcome.ACT,
            id="nested-group-all-is-acted-on",
        ),
        pytest.param(
            {"imageId": "ami-1", "operationType": "add", "userGroups": ["all"]},
            Outcome.ACT,
            id="top-level-usergroups-all-is-acted-on",
        ),
        pytest.param(
            {"imageId": "ami-1", "operationType": "add", "userIds": ["999988887777"]},
            Outcome.ACT,
            id="top-level-userids-untrusted-is-acted-on",
        ),
        pytest.param(
            {
                "imageId": "ami-1",
                "operationType": "add",
                "userIds": {"items": [{"userId": "222222222222"}]},
            },
            Outcome.IGNORE,
            id="top-level-userids-trusted-is-ignored",
        ),
        pytest.param(
            {
                "imageId": "ami-1",
                "launchPermission": {
                    "add": {"items": [{"userId": "222222222222"}, {"userId": "999988887777"}]}
                },
            },
            Outcome.ACT,
            id="mixed-trusted-and-untrusted-is-acted-on",
        ),
        pytest.param(
            {
                "imageId": "ami-1",
                "launchPermission": {
                    "add": {
                        "items": [{"organizationalUnitArn": "arn:aws:organizations::1:ou/o-1/ou-1"}]
                    }
                },
            },
            Outcome.ALERT,
            id="ou-share-is-an-alert",
        ),
        pytest.param(
            {"imageId": "ami-1", "launchPermission": {"remove": {"items": [{"group": "all"}]}}},
            Outcome.IGNORE,
            id="removal-is-ignored",
        ),
        pytest.param(
            {"imageId": "ami-1", "operationType": "remove", "userGroups": ["all"]},
            Outcome.IGNORE,
            id="top-level-remove-is-ignored",
        ),
        pytest.param(
            {"imageId": "ami-1", "attributeType": "description", "description": {"value": "x"}},
            Outcome.IGNORE,
            id="other-attribute-is-ignored",
        ),
        pytest.param(None, Outcome.IGNORE, id="null-request-parameters-is-ignored"),
        pytest.param({}, Outcome.IGNORE, id="empty-request-parameters-is-ignored"),
        pytest.param(
            {"imageId": 12, "launchPermission": {"add": {"items": [{"group": "all"}]}}},
            Outcome.IGNORE,
            id="non-string-image-id-is-ignored",
        ),
        pytest.param(
            {"imageId": "ami-1", "launchPermission": {"add": {"items": "all"}}},
            Outcome.IGNORE,
            id="items-of-wrong-type-are-ignored",
        ),
    ],
)
def test_launch_permission_outcome(request_parameters: Any, outcome: Outcome) -> None:
    detection = detect(with_request(request_parameters))

    assert detection.outcome is outcome


def test_public_ami_is_critical() -> None:
    detection = detect(load_event("ami-exposure/made-public.json"))

    assert detection.severity is Severity.CRITICAL
    assert detection.resource_id == "ami-0a1b2c3d4e5f60718"


def test_failed_call_is_never_acted_on() -> None:
    detection = detect(load_event("ami-exposure/failed-access-denied.json"))

    assert detection.outcome is Outcome.IGNORE
    assert "failed call" in detection.reason


def test_own_role_call_is_ignored_but_same_name_other_role_is_not() -> None:
    own = with_request(
        {"imageId": "ami-1", "launchPermission": {"add": {"items": [{"group": "all"}]}}}
    )
    own["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/tw-remediate"}},
    }
    impostor = copy.deepcopy(own)
    impostor["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        "arn:aws:iam::123456789012:role/tw-remediate-impostor"
    )

    assert detect(own).outcome is Outcome.IGNORE
    assert detect(impostor).outcome is Outcome.ACT
