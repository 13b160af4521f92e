"""ami-exposure end to end: real ASL on moto, handlers in-process, real end state."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow.conftest import Harness, fresh
from trailwarden_local.drivers import DRIVERS
from trailwarden_local.samples import Sample, load_index

SAMPLES = {s.scenario: s for s in load_index().samples if s.workflow == "ami-exposure"}


def prepare(harness: Harness, scenario: str) -> tuple[dict[str, Any], Any]:
    sample: Sample = SAMPLES[scenario]
    prepared = DRIVERS["ami-exposure"](harness.app, sample)
    return fresh(prepared.event), prepared.read_state


def test_public_ami_is_made_private_alerted_and_audited(harness: Harness) -> None:
    event, read_state = prepare(harness, "made-public")

    run = harness.send(event)

    assert run.verdict == "remediate"
    assert [e["status"] for e in run.executions] == ["SUCCEEDED"]
    assert read_state() == {
        "public": False,
        "accountIds": ["222222222222"],
        "organizationArns": [],
        "organizationalUnitArns": [],
    }
    bodies = harness.discord_bodies()
    assert len(bodies) == 2
    assert all(b["allowed_mentions"] == {"parse": []} for b in bodies)
    assert [m["subject"].split()[1] for m in harness.emails] == ["CRITICAL", "remediated"]
    audit = harness.audit_item(event)
    record = harness.audit(event)
    assert record["before"]["public"] is True
    assert record["after"]["public"] is False
    assert record["actor"]["arn"] == "arn:aws:iam::123456789012:user/alice"
    assert "expiresAt" not in audit


def test_remediated_incident_costs_six_state_transitions(harness: Harness) -> None:
    event, _ = prepare(harness, "made-public")

    run = harness.send(event)

    (execution,) = run.deliveries
    assert harness.app.state_transitions(execution.execution_arn) == 6


def test_untrusted_share_is_removed_and_trusted_share_kept(harness: Harness) -> None:
    event, read_state = prepare(harness, "shared-untrusted-account")

    run = harness.send(event)

    assert run.verdict == "remediate"
    assert read_state()["accountIds"] == ["222222222222"]


def test_trusted_share_only_is_left_alone_silently(harness: Harness) -> None:
    event, read_state = prepare(harness, "shared-trusted-account")

    run = harness.send(event)

    assert run.verdict == "ignore"
    assert read_state()["accountIds"] == ["222222222222"]
    assert harness.discord_bodies() == []
    assert harness.emails == []


@pytest.mark.parametrize("scenario", ["failed-access-denied", "own-role-call"])
def test_failed_or_own_calls_start_no_workflow(harness: Harness, scenario: str) -> None:
    event, read_state = prepare(harness, scenario)
    before = read_state()

    run = harness.send(event)

    assert run.deliveries == []
    assert read_state() == before
    assert harness.discord_bodies() == []


def test_duplicate_delivery_acts_once_and_alerts_once(harness: Harness) -> None:
    event, read_state = prepare(harness, "made-public")

    first = harness.send(event)
    second = harness.send(event)

    assert (first.verdict, second.verdict) == ("remediate", "ignore")
    assert second.findings[0]["reason"] == "duplicate delivery"
    assert len(harness.discord_bodies()) == 2
    assert len(harness.emails) == 2
    assert read_state()["public"] is False


@pytest.mark.parameters({"AmiExposureMode": "alert"})
def test_alert_mode_tells_but_leaves_the_ami_public(harness: Harness) -> None:
    event, read_state = prepare(harness, "made-public")

    run = harness.send(event)

    assert run.verdict == "alert"
    assert run.findings[0]["plan"] == []  # no "planned actions" that will never run
    assert read_state()["public"] is True
    assert len(harness.discord_bodies()) == 1
    assert len(harness.emails) == 1


@pytest.mark.parameters({"AmiExposureMode": "off"})
def test_off_mode_silences_the_workflow(harness: Harness) -> None:
    event, read_state = prepare(harness, "made-public")

    run = harness.send(event)

    assert run.verdict == "ignore"
    assert read_state()["public"] is True
    assert harness.discord_bodies() == []


def test_discord_outage_still_emails_and_remediates(harness: Harness) -> None:
    event, read_state = prepare(harness, "made-public")
    harness.sink.respond_with(*[(500, None, None)] * 20)

    run = harness.send(event)

    assert [e["status"] for e in run.executions] == ["SUCCEEDED"]
    assert read_state()["public"] is False
    assert len(harness.emails) == 2


def test_deregistered_image_is_alerted_from_the_event(harness: Harness) -> None:
    event, _ = prepare(harness, "made-public")
    harness.client("ec2").deregister_image(ImageId=event["detail"]["requestParameters"]["imageId"])

    run = harness.send(event)

    assert run.verdict == "alert"
    assert "gone" in run.findings[0]["reason"]
    assert len(harness.emails) == 1
