"""app-tamper end to end: changes to the app's own rules, functions, state machines and
topic reach the alert function through the template's rule; the backstop notices a rule
switched off without any event."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.workflow.conftest import Harness, fresh
from trailwarden_local.drivers import DRIVERS
from trailwarden_local.drivers.app_tamper import DEFAULT_RULE, rewrite
from trailwarden_local.drivers.cloudtrail_tamper import backstop_trigger, create_trail
from trailwarden_local.samples import load_index

SAMPLES = {s.scenario: s for s in load_index().samples if s.workflow == "app-tamper"}


def prepare(harness: Harness, scenario: str) -> tuple[dict[str, Any], Any]:
    prepared = DRIVERS["app-tamper"](harness.app, SAMPLES[scenario])
    return fresh(prepared.event), prepared.read_state


def severities(harness: Harness) -> list[str]:
    return [m["subject"].split()[1] for m in harness.emails]


def test_disabling_one_of_the_apps_rules_raises_a_critical_alert(harness: Harness) -> None:
    event, read_state = prepare(harness, "disable-rule")

    run = harness.send(event)

    assert read_state()["ruleState"] == "DISABLED"
    assert run.verdict == "alert"
    assert [d.kind for d in run.deliveries] == ["lambda"]
    assert severities(harness) == ["CRITICAL"]
    body = harness.discord_bodies()[0]
    assert body["allowed_mentions"] == {"parse": []}
    assert "app-tamper" in body["embeds"][0]["title"]
    assert harness.audit(event)["severity"] == "critical"


@pytest.mark.parametrize(
    "scenario", ["remove-targets", "delete-function", "stop-execution", "unsubscribe"]
)
def test_changes_to_the_apps_targets_functions_executions_and_topic_are_critical(
    harness: Harness, scenario: str
) -> None:
    event, _ = prepare(harness, scenario)

    run = harness.send(event)

    assert run.verdict == "alert"
    assert run.findings[0]["severity"] == "critical"
    assert severities(harness) == ["CRITICAL"]


def test_a_stack_update_is_reported_at_info_never_dropped(harness: Harness) -> None:
    event, _ = prepare(harness, "update-function-code-cloudformation")

    run = harness.send(event)

    assert run.verdict == "alert"
    assert severities(harness) == ["INFO"]


def test_the_apps_own_backstop_role_triggers_nothing(harness: Harness) -> None:
    event, _ = prepare(harness, "disable-rule")
    identity = event["detail"]["userIdentity"]
    identity["sessionContext"]["sessionIssuer"]["arn"] = harness.app.functions[
        "TrailBackstopFunction"
    ].role_arn

    run = harness.send(event)

    assert run.deliveries == []


def test_another_stacks_rule_triggers_nothing(harness: Harness) -> None:
    event = fresh(copy.deepcopy(SAMPLES["disable-rule"].event))
    rewrite(harness.app, event, DEFAULT_RULE)
    event["detail"]["requestParameters"]["name"] = "payments-prod-nightly"

    run = harness.send(event)

    assert run.deliveries == []


@pytest.mark.parameters({"AppTamperMode": "off"})
def test_off_mode_silences_app_tamper(harness: Harness) -> None:
    event, _ = prepare(harness, "disable-rule")

    run = harness.send(event)

    assert run.verdict == "ignore"
    assert harness.emails == []


def test_backstop_notices_a_rule_switched_off_without_any_event(harness: Harness) -> None:
    # Given a logging trail, and one of the app's rules disabled with no event reaching us
    create_trail(harness.app, "main")
    rule = harness.app.rules[DEFAULT_RULE]
    harness.client("events").disable_rule(Name=rule.name)

    # When the schedule fires (twice in the same hour)
    first = backstop_trigger(harness.app, "2026-11-24T03:15:00Z")
    second = backstop_trigger(harness.app, "2026-11-24T03:20:00Z")
    harness.emails += harness.inbox.drain()

    # Then one critical app-tamper alert names the rule; the reminder waits for next hour
    assert [d.lambda_result["verdict"] for d in first] == ["alert"]
    assert [d.lambda_result["verdict"] for d in second] == ["ignore"]  # duplicate
    assert severities(harness) == ["CRITICAL"]
    assert rule.name in harness.emails[0]["body"]
    assert "found by the scheduled check" in harness.emails[0]["body"]
