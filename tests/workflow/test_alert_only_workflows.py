"""iam-user-change, ssm-session and ec2-keypair end to end on the local engine.

Each event is routed by the template's own rule patterns to the workflow's alert
function (no state machine), which runs in-process: the alert must arrive at the
Discord stand-in and on the SNS topic. The harness checks least privilege on teardown.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.workflow.conftest import Harness, fresh
from trailwarden_local.drivers import DRIVERS
from trailwarden_local.drivers.ec2_keypair import evaluate_instances
from trailwarden_local.drivers.ssm_session import launch
from trailwarden_local.samples import Sample, load_index

if TYPE_CHECKING:
    from trailwarden_local.drivers.base import Prepared

SAMPLES = {(s.workflow, s.scenario): s for s in load_index().samples}


def prepare(harness: Harness, workflow: str, scenario: str) -> Prepared:
    sample: Sample = SAMPLES[(workflow, scenario)]
    return DRIVERS[workflow](harness.app, sample)


def fields_of(body: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in body["embeds"][0]["fields"]}


def test_created_iam_user_is_alerted_on_discord_and_by_email(harness: Harness) -> None:
    prepared = prepare(harness, "iam-user-change", "create-user")

    run = harness.send(fresh(prepared.event))

    assert run.verdict == "alert"
    assert [d.rule_logical_id for d in run.deliveries] == [
        "IamUserChangeAlertFunctionUserCreatedOrDeleted"
    ]
    assert run.executions == []  # alert-only: no state machine
    (body,) = harness.discord_bodies()
    assert body["allowed_mentions"] == {"parse": []}
    fields = fields_of(body)
    assert fields["IAM user"] == "svc-reporting"
    assert fields["Path"] == "/service-accounts/"
    assert fields["Made through"] == "AWS console"
    (mail,) = harness.emails
    assert mail["subject"].startswith("[trailwarden] MEDIUM iam-user-change svc-reporting")
    assert "owner=data-platform, ticket=SEC-4711" in mail["body"]


def test_user_named_everyone_pings_nobody(harness: Harness) -> None:
    prepared = prepare(harness, "iam-user-change", "create-user-mention-name")

    harness.send(fresh(prepared.event))

    (body,) = harness.discord_bodies()
    text = json.dumps(body, ensure_ascii=False)
    assert body["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in text and "@here" not in text and "<@&" not in text
    assert "@everyone" in harness.emails[0]["body"]  # email shows the name as it is


def test_deleted_iam_user_is_alerted(harness: Harness) -> None:
    prepared = prepare(harness, "iam-user-change", "delete-user")

    run = harness.send(fresh(prepared.event))

    assert run.verdict == "alert"
    assert prepared.read_state() == {"exists": False}
    assert len(harness.discord_bodies()) == len(harness.emails) == 1


@pytest.mark.parametrize(
    ("workflow", "scenario"),
    [
        ("iam-user-change", "failed-access-denied"),
        ("ssm-session", "failed-target-not-connected"),
        ("ec2-keypair", "compliant"),
        ("ec2-keypair", "other-config-rule"),
    ],
)
def test_events_that_cannot_alert_match_no_rule(
    harness: Harness, workflow: str, scenario: str
) -> None:
    prepared = prepare(harness, workflow, scenario)

    run = harness.send(fresh(prepared.event))

    assert run.deliveries == []
    assert harness.discord_bodies() == []
    assert harness.emails == []


def test_athena_start_session_matches_no_rule(harness: Harness) -> None:
    athena = SAMPLES[(None, "athena-start-session")]

    run = harness.send(fresh(athena.event))

    assert run.deliveries == []
    assert harness.discord_bodies() == []


def test_shell_session_alert_names_the_instance_from_a_live_lookup(harness: Harness) -> None:
    prepared = prepare(harness, "ssm-session", "shell-session")

    run = harness.send(fresh(prepared.event))

    assert run.verdict == "alert"
    fields = fields_of(harness.discord_bodies()[0])
    assert fields["Name tag"] == "bastion-prod-1"
    assert fields["Session type"] == "interactive shell"
    assert fields["Session id"] == "jin.park-0a1b2c3d4e5f60718"
    assert harness.app.operations_by_function()["SsmSessionAlertFunction"] >= {
        "ec2:DescribeInstances"
    }


def test_port_forwarding_alert_shows_remote_host_and_ports(harness: Harness) -> None:
    prepared = prepare(harness, "ssm-session", "port-forwarding-remote-host")

    harness.send(fresh(prepared.event))

    (body,) = harness.discord_bodies()
    fields = fields_of(body)
    assert fields["Remote host"].startswith("orders-db.cluster-c0ffee12")
    assert (fields["Port"], fields["Local port"]) == ("5432", "15432")
    assert "[trailwarden] HIGH ssm-session" in harness.emails[0]["subject"]


def test_session_on_an_unknown_instance_still_alerts(harness: Harness) -> None:
    sample = SAMPLES[("ssm-session", "shell-session")]  # its target is not in the emulator

    run = harness.send(fresh(sample.event))

    assert run.verdict == "alert"
    assert run.findings[0]["facts"]["lookupError"] == "ResourceGone"
    assert len(harness.discord_bodies()) == len(harness.emails) == 1


def test_duplicate_delivery_alerts_once(harness: Harness) -> None:
    prepared = prepare(harness, "ssm-session", "shell-session")
    event = fresh(prepared.event)

    first, second = harness.send(event), harness.send(event)

    assert (first.verdict, second.verdict) == ("alert", "ignore")
    assert len(harness.discord_bodies()) == len(harness.emails) == 1


def test_three_instances_one_without_key_pair_give_exactly_one_alert(harness: Harness) -> None:
    # Given three instances evaluated by the Config rule's function, as Config would
    prepared = prepare(harness, "ec2-keypair", "three-instances-one-without-key-pair")
    state = prepared.read_state()
    assert sorted(state["compliance"].values()) == ["COMPLIANT", "COMPLIANT", "NON_COMPLIANT"]
    assert prepared.simulated and "AWS Config" in prepared.simulated

    # When every compliance change that follows reaches the bus
    runs = [harness.send(e) for e in [*prepared.preceding_events, prepared.event]]

    # Then exactly one alert, about the instance without a key pair
    assert [r.verdict for r in runs] == ["ignore", "ignore", "alert"]
    (body,) = harness.discord_bodies()
    assert fields_of(body)["Name tag"] == "batch-1"
    assert len(harness.emails) == 1
    assert harness.app.operations_by_function()["KeyPairRuleFunction"] == {"config:PutEvaluations"}


def test_terminated_instance_is_not_applicable(harness: Harness) -> None:
    ec2 = harness.client("ec2")
    instance_id = launch(ec2, "short-lived")
    ec2.terminate_instances(InstanceIds=[instance_id])

    (evaluation,) = evaluate_instances(harness.app, [instance_id])

    assert evaluation["ComplianceType"] == "NOT_APPLICABLE"


@pytest.mark.parameters({"Ec2KeyPairMode": "off"})
def test_keypair_mode_off_creates_no_config_rule_and_sends_nothing(harness: Harness) -> None:
    assert "KeyPairRuleFunction" not in harness.app.functions
    assert "KeyPairConfigRule" in harness.app.inactive_resources
    event = SAMPLES[("ec2-keypair", "three-instances-one-without-key-pair")].event

    run = harness.send(fresh(event))

    assert run.verdict == "ignore"
    assert harness.discord_bodies() == []


@pytest.mark.parameters({"Language": "ko", "TimeZone": "Asia/Seoul"})
def test_korean_alert_for_a_session(harness: Harness) -> None:
    prepared = prepare(harness, "ssm-session", "shell-session")

    harness.send(fresh(prepared.event))

    body = harness.emails[0]["body"]
    assert "Session Manager 세션 시작" in body
    assert "대화형 셸" in body
    assert "2026-11-24 14:42:17 KST" in body


@pytest.mark.parameters({"IamUserChangeMode": "off", "SsmSessionMode": "off"})
def test_mode_off_silences_iam_and_session_alerts(harness: Harness) -> None:
    user = prepare(harness, "iam-user-change", "create-user")
    session = prepare(harness, "ssm-session", "shell-session")

    runs = [harness.send(fresh(user.event)), harness.send(fresh(session.event))]

    assert [r.verdict for r in runs] == ["ignore", "ignore"]
    assert harness.discord_bodies() == []
    assert harness.emails == []
