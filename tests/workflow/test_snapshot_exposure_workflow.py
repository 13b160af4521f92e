"""snapshot-exposure end to end: real ASL on moto, handlers in-process, the snapshot's
create-volume permissions read back with plain EC2 calls."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow.conftest import Harness, fresh
from trailwarden_local.drivers import DRIVERS
from trailwarden_local.samples import Sample, load_index

SAMPLES = {s.scenario: s for s in load_index().samples if s.workflow == "snapshot-exposure"}


def prepare(harness: Harness, scenario: str) -> tuple[dict[str, Any], Any]:
    sample: Sample = SAMPLES[scenario]
    prepared = DRIVERS["snapshot-exposure"](harness.app, sample)
    return fresh(prepared.event), prepared.read_state


def test_public_snapshot_is_made_private_alerted_and_audited(harness: Harness) -> None:
    event, read_state = prepare(harness, "made-public")

    run = harness.send(event)

    assert run.verdict == "remediate"
    assert [e["status"] for e in run.executions] == ["SUCCEEDED"]
    assert read_state() == {"public": False, "accountIds": ["222222222222"]}
    assert len(harness.discord_bodies()) == 2
    assert [m["subject"].split()[1] for m in harness.emails] == ["CRITICAL", "remediated"]
    record = harness.audit(event)
    assert record["before"]["public"] is True
    assert record["after"]["public"] is False


def test_untrusted_share_is_removed_and_trusted_share_kept(harness: Harness) -> None:
    event, read_state = prepare(harness, "shared-untrusted-account")

    run = harness.send(event)

    assert run.verdict == "remediate"
    assert read_state() == {"public": False, "accountIds": ["222222222222"]}


def test_trusted_share_only_is_left_alone_silently(harness: Harness) -> None:
    event, read_state = prepare(harness, "shared-trusted-account")

    run = harness.send(event)

    assert run.verdict == "ignore"
    assert read_state()["accountIds"] == ["222222222222"]
    assert harness.emails == []


@pytest.mark.parametrize("scenario", ["failed-access-denied", "own-role-call"])
def test_failed_or_own_calls_start_no_workflow(harness: Harness, scenario: str) -> None:
    event, read_state = prepare(harness, scenario)
    before = read_state()

    run = harness.send(event)

    assert run.deliveries == []
    assert read_state() == before
    assert harness.discord_bodies() == []


@pytest.mark.parameters({"SnapshotExposureMode": "alert"})
def test_alert_mode_tells_but_leaves_the_snapshot_public(harness: Harness) -> None:
    event, read_state = prepare(harness, "made-public")

    run = harness.send(event)

    assert run.verdict == "alert"
    assert read_state()["public"] is True
    assert len(harness.emails) == 1
