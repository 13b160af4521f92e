"""Bad input is a logged skip: verdict ignore, no AWS call, no remediation, no crash."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.assess import assess
from trailwarden.models.findings import Verdict
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.registry import BY_ID

SETTINGS = DetectionSettings()


class NoCalls:
    """Client factory and store that fail the test if anything is called."""

    def __call__(self, service: str, region: str | None = None) -> Any:
        raise AssertionError(f"bad input must not reach AWS ({service})")

    def claim(self, event_id: str, workflow: str) -> bool:
        raise AssertionError("bad input must not be claimed as an incident")


def public_ami_event(**detail_changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("ami-exposure/made-public.json"))
    event["detail"].update(detail_changes)
    return event


def _huge_event() -> dict[str, Any]:
    event = public_ami_event()
    event["detail"]["requestParameters"]["description"] = "x" * 300_000
    return event


def _without(key: str) -> dict[str, Any]:
    event = public_ami_event()
    del event["detail"][key]
    return event


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(public_ami_event(requestParameters=None), id="null-requestParameters"),
        pytest.param(_without("requestParameters"), id="missing-requestParameters"),
        pytest.param(public_ami_event(requestParameters=["not", "an", "object"]), id="list-rp"),
        pytest.param(public_ami_event(requestParameters="imageId=ami-1"), id="string-rp"),
        pytest.param(public_ami_event(eventID="e" * 3000), id="eventID-over-2-KB"),
        pytest.param(public_ami_event(eventID="5c1d\n2e3f"), id="newline-in-eventID"),
        pytest.param(public_ami_event(awsRegion="us-east-1" * 1000), id="huge-awsRegion"),
        pytest.param(public_ami_event(awsRegion="../../etc"), id="dot-dot-awsRegion"),
        pytest.param(public_ami_event(awsRegion="us-east-1\n"), id="newline-awsRegion"),
        pytest.param(public_ami_event(awsRegion="us-\u0435ast-1"), id="cyrillic-awsRegion"),
        pytest.param(public_ami_event(awsRegion="us-east-1\u202e"), id="rtl-awsRegion"),
        pytest.param({**public_ami_event(), "region": "x" * 70}, id="bad-envelope-region"),
        pytest.param(public_ami_event(recipientAccountId="12345678901x"), id="bad-account"),
        pytest.param({**public_ami_event(), "id": "i" * 200}, id="long-envelope-id"),
        pytest.param(_without("eventName"), id="missing-eventName"),
        pytest.param({**public_ami_event(), "detail": "oops"}, id="detail-not-an-object"),
        pytest.param({**public_ami_event(), "detail-type": "Scheduled Event"}, id="other-type"),
        pytest.param('{"version": "0", "detail": {"eventName": "Modify', id="truncated-json"),
        pytest.param(None, id="null-event"),
        pytest.param([], id="list-event"),
        pytest.param(_huge_event(), id="300-kb-event"),
    ],
)
def test_bad_input_is_a_logged_skip_without_aws_calls(raw: Any) -> None:
    guard = NoCalls()

    finding = assess(raw, BY_ID["ami-exposure"], SETTINGS, guard, guard)  # type: ignore[arg-type]

    assert finding.verdict is Verdict.IGNORE
    assert finding.plan == ()
    assert finding.reason


def test_huge_event_reason_names_the_limit() -> None:
    finding = assess(_huge_event(), BY_ID["ami-exposure"], SETTINGS, NoCalls(), NoCalls())  # type: ignore[arg-type]

    assert "256 KB" in finding.reason
