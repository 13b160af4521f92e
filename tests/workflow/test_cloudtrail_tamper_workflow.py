"""cloudtrail-tamper and the logging backstop end to end: the real ASL on moto, handlers
in-process, the trail read back from the emulator."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.workflow.conftest import Harness, fresh
from trailwarden_local.drivers import DRIVERS
from trailwarden_local.drivers.cloudtrail_tamper import backstop_trigger, create_trail, read_trail
from trailwarden_local.samples import load_index

SAMPLES = {s.scenario: s for s in load_index().samples if s.workflow == "cloudtrail-tamper"}


def prepare(harness: Harness, scenario: str) -> tuple[dict[str, Any], Any]:
    prepared = DRIVERS["cloudtrail-tamper"](harness.app, SAMPLES[scenario])
    return fresh(prepared.event), prepared.read_state


def audit(harness: Harness, event_id: str) -> dict[str, Any]:
    return harness.audit(event_id)


def subjects(harness: Harness) -> list[str]:
    return [m["subject"] for m in harness.emails]


# ------------------------------------------------------------------ StopLogging


@pytest.mark.parametrize("scenario", ["stop-logging-by-name", "stop-logging-by-arn"])
def test_stopped_trail_comes_back_logging_alerted_and_audited(
    harness: Harness, scenario: str
) -> None:
    event, read_state = prepare(harness, scenario)
    assert read_state()["isLogging"] is False

    run = harness.send(event)

    assert run.verdict == "remediate"
    assert [e["status"] for e in run.executions] == ["SUCCEEDED"]
    assert read_state()["isLogging"] is True
    assert [s.split()[1] for s in subjects(harness)] == ["CRITICAL", "remediated"]
    assert all(b["allowed_mentions"] == {"parse": []} for b in harness.discord_bodies())
    record = audit(harness, event["detail"]["eventID"])
    assert (record["before"]["isLogging"], record["after"]["isLogging"]) == (False, True)
    assert record["actions"][0]["action"] == "cloudtrail:StartLogging"
    assert record["actor"]["type"] in ("AssumedRole", "IAMUser")


def test_duplicate_delivery_restarts_once_and_alerts_once(harness: Harness) -> None:
    event, read_state = prepare(harness, "stop-logging-by-name")

    first = harness.send(event)
    second = harness.send(event)

    assert (first.verdict, second.verdict) == ("remediate", "ignore")
    assert len(harness.emails) == 2
    assert read_state()["isLogging"] is True


def test_trail_already_restarted_at_reread_is_only_alerted(harness: Harness) -> None:
    event, read_state = prepare(harness, "stop-logging-by-name")
    harness.client("cloudtrail").start_logging(Name=read_state()["name"])

    run = harness.send(event)

    assert run.verdict == "alert"
    assert "already reverted" in run.findings[0]["reason"]


@pytest.mark.parameters({"CloudTrailTamperMode": "alert"})
def test_alert_mode_tells_but_leaves_the_trail_stopped(harness: Harness) -> None:
    event, read_state = prepare(harness, "stop-logging-by-arn")

    run = harness.send(event)

    assert run.verdict == "alert"
    assert read_state()["isLogging"] is False
    assert len(harness.emails) == 1


@pytest.mark.parameters({"CloudTrailTamperMode": "off"})
def test_off_mode_silences_the_workflow(harness: Harness) -> None:
    event, read_state = prepare(harness, "stop-logging-by-arn")

    run = harness.send(event)

    assert run.verdict == "ignore"
    assert read_state()["isLogging"] is False
    assert harness.emails == []


def test_failed_stop_logging_is_an_info_alert_from_the_alert_function_only(
    harness: Harness,
) -> None:
    event, read_state = prepare(harness, "stop-logging-failed")

    run = harness.send(event)

    assert [d.kind for d in run.deliveries] == ["lambda"]  # never the state machine
    assert run.verdict == "alert"
    assert run.findings[0]["severity"] == "info"
    assert (
        "checked live: trail demo-stop-logging-failed is logging"
        in run.findings[0]["facts"]["notes"]
    )
    assert read_state()["isLogging"] is True
    assert [s.split()[1] for s in subjects(harness)] == ["INFO"]


@pytest.mark.parametrize("scenario", ["stop-logging-own-role", "start-logging"])
def test_own_role_and_start_logging_start_nothing(harness: Harness, scenario: str) -> None:
    event, read_state = prepare(harness, scenario)
    before = read_state()

    run = harness.send(event)

    assert run.deliveries == []
    assert read_state() == before
    assert harness.discord_bodies() == []


def test_stop_logging_of_a_trail_deleted_since_is_an_alert(harness: Harness) -> None:
    event, read_state = prepare(harness, "stop-logging-by-name")
    harness.client("cloudtrail").delete_trail(Name=read_state()["name"])

    run = harness.send(event)

    assert run.verdict == "alert"
    assert "gone" in run.findings[0]["reason"]


# ------------------------------------------------------------------ alerts only


def test_deleted_last_trail_is_a_critical_alert_that_says_so(harness: Harness) -> None:
    event, read_state = prepare(harness, "delete-trail")

    run = harness.send(event)

    assert run.verdict == "alert"
    finding = run.findings[0]
    assert finding["severity"] == "critical"
    assert read_state() == {"name": "demo-delete-trail", "exists": False}
    message = harness.emails[0]["body"]
    assert "mallory" in message
    assert "no other trail is logging us-east-1" in message
    assert audit(harness, event["detail"]["eventID"])["status"] == "alerted"


def test_deleted_trail_with_another_trail_logging_names_it(harness: Harness) -> None:
    create_trail(harness.app, "backup-trail", multi_region=True)
    event, _ = prepare(harness, "delete-trail")

    harness.send(event)

    assert "other trails still logging us-east-1: backup-trail" in harness.emails[0]["body"]


def test_weakening_changes_alert_and_nothing_is_reverted(harness: Harness) -> None:
    scenarios = [
        "update-trail-weakening",
        "update-trail-redirect-bucket",
        "selectors-basic-no-management",
        "selectors-basic-read-only",
        "selectors-advanced-no-management",
    ]
    for scenario in scenarios:
        event, read_state = prepare(harness, scenario)
        before = read_state()

        run = harness.send(event)

        assert run.verdict == "alert", scenario
        assert run.findings[0]["plan"] == [], scenario
        assert read_state() == before, scenario
    assert [s.split()[1] for s in subjects(harness)] == ["CRITICAL"] * len(scenarios)


@pytest.mark.parametrize(
    "scenario", ["update-trail-strengthening", "selectors-advanced-adds-data-events"]
)
def test_strengthening_changes_are_ignored_quietly(harness: Harness, scenario: str) -> None:
    event, _ = prepare(harness, scenario)

    run = harness.send(event)

    assert run.verdict == "ignore"
    assert [e["status"] for e in run.executions] == ["SUCCEEDED"]
    assert harness.emails == []
    assert harness.discord_bodies() == []


# ------------------------------------------------------------------ the backstop


SCHEDULED = "2026-11-24T03:15:00Z"


def run_backstop(harness: Harness, scheduled: str = SCHEDULED) -> list[dict[str, Any]]:
    """Invoke the backstop as the schedule would and wait for what it started."""
    statuses = []
    for delivery in backstop_trigger(harness.app, scheduled):
        if delivery.execution_arn:
            statuses.append(harness.app.wait_for_execution(delivery.execution_arn))
    harness.emails += harness.inbox.drain()
    return statuses


def test_backstop_finds_a_trail_stopped_without_any_event_and_restarts_it(
    harness: Harness,
) -> None:
    # Given a trail stopped with no event reaching the app
    create_trail(harness.app, "quietly-stopped")
    harness.client("cloudtrail").stop_logging(Name="quietly-stopped")

    # When the schedule fires
    executions = run_backstop(harness)

    # Then the cloudtrail-tamper workflow restarted it and told the team
    assert [e["status"] for e in executions] == ["SUCCEEDED"]
    assert read_trail(harness.client("cloudtrail"), "quietly-stopped")["isLogging"] is True
    assert [s.split()[1] for s in subjects(harness)] == ["CRITICAL", "remediated"]
    assert "found not logging by the scheduled check" in harness.emails[0]["body"]


def test_backstop_restarts_a_multi_region_trail_in_its_home_region(harness: Harness) -> None:
    # Given a stopped multi-region trail homed in us-west-2 (the app runs in us-east-1,
    # where it is only a shadow trail)
    west = boto3.client("cloudtrail", region_name="us-west-2")
    harness.client("s3").create_bucket(Bucket="org-trail-logs")
    arn = west.create_trail(
        Name="org-trail", S3BucketName="org-trail-logs", IsMultiRegionTrail=True
    )["TrailARN"]
    create_trail(harness.app, "local-trail")  # logging: the backstop leaves it alone

    # When the schedule fires in us-east-1
    executions = run_backstop(harness)

    # Then it was started in its home region
    assert [e["status"] for e in executions] == ["SUCCEEDED"]
    assert west.get_trail_status(Name=arn)["IsLogging"] is True
    (remediated,) = [m for m in harness.emails if "remediated" in m["subject"]]
    assert "us-west-2" in remediated["body"]


def test_backstop_runs_twice_in_a_window_but_acts_once(harness: Harness) -> None:
    create_trail(harness.app, "quietly-stopped")
    cloudtrail = harness.client("cloudtrail")
    cloudtrail.stop_logging(Name="quietly-stopped")

    run_backstop(harness, "2026-11-24T03:15:00Z")
    cloudtrail.stop_logging(Name="quietly-stopped")  # stopped again within the window
    second = run_backstop(harness, "2026-11-24T03:16:00Z")

    assert second == []  # same window: the execution name already exists
    assert len(harness.emails) == 2


def test_backstop_with_every_trail_logging_and_rules_enabled_is_silent(harness: Harness) -> None:
    create_trail(harness.app, "healthy")

    result = harness.app.invoke("TrailBackstopFunction", {"scheduledTime": SCHEDULED})

    assert result.function_error is None
    assert result.payload["executions"] == []
    assert all(r["ok"] for r in result.payload["rules"])
    assert len(result.payload["rules"]) == len(harness.app.rules)
    assert harness.inbox.drain() == []
