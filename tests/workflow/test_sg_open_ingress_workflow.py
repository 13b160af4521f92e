"""sg-open-ingress and sg-change end to end: real ASL on moto, handlers in-process, the
emulator's security group read back afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow.conftest import Harness, fresh
from trailwarden_local.drivers import DRIVERS
from trailwarden_local.samples import Sample, load_index

SAMPLES = {
    (s.workflow, s.scenario): s
    for s in load_index().samples
    if s.workflow in ("sg-open-ingress", "sg-change")
}
OFFICE = {"protocol": "tcp", "from": 22, "to": 22, "source": "203.0.113.10/32"}
HTTPS = {"protocol": "tcp", "from": 443, "to": 443, "source": "0.0.0.0/0"}


def prepare(
    harness: Harness, scenario: str, workflow: str = "sg-open-ingress"
) -> tuple[dict[str, Any], Any]:
    sample: Sample = SAMPLES[(workflow, scenario)]
    prepared = DRIVERS[workflow](harness.app, sample)
    return fresh(prepared.event), prepared.read_state


def group_of(event: dict[str, Any]) -> str:
    request = event["detail"]["requestParameters"]
    modify = request.get("ModifySecurityGroupRulesRequest")
    return str(modify["GroupId"] if modify else request["groupId"])


def audit_record(harness: Harness, event: dict[str, Any]) -> dict[str, Any]:
    return harness.audit(event)


@pytest.mark.parametrize(
    ("scenario", "revoked", "kept"),
    [
        pytest.param(
            "ssh-world-nested",
            {"protocol": "tcp", "from": 22, "to": 22, "source": "0.0.0.0/0"},
            [OFFICE, HTTPS],
            id="nested",
        ),
        pytest.param(
            "ssh-world-flat",
            {"protocol": "tcp", "from": 22, "to": 22, "source": "0.0.0.0/0"},
            [OFFICE],
            id="flat",
        ),
        pytest.param(
            "modify-rule-to-world",
            {"protocol": "tcp", "from": 22, "to": 22, "source": "0.0.0.0/0"},
            [HTTPS],
            id="modify-security-group-rules",
        ),
        pytest.param(
            "rdp-ipv6-world",
            {"protocol": "tcp", "from": 3389, "to": 3389, "source": "::/0"},
            [OFFICE, HTTPS],
            id="rdp-ipv6",
        ),
        pytest.param(
            "all-traffic",
            {"protocol": "-1", "from": -1, "to": -1, "source": "0.0.0.0/0"},
            [OFFICE, {"protocol": "tcp", "from": 443, "to": 443, "source": "::/0"}],
            id="all-traffic",
        ),
        pytest.param(
            "numeric-protocol-string-ports",
            {"protocol": "tcp", "from": 5432, "to": 5432, "source": "0.0.0.0/0"},
            [OFFICE],
            id="no-rule-ids-in-the-event",
        ),
    ],
)
def test_risky_rule_is_revoked_and_every_other_rule_stays(
    harness: Harness, scenario: str, revoked: dict[str, Any], kept: list[dict[str, Any]]
) -> None:
    event, read_state = prepare(harness, scenario)
    assert revoked in read_state()["ingress"]

    run = harness.send(event)

    assert run.verdict == "remediate"
    assert [e["status"] for e in run.executions] == ["SUCCEEDED"]
    assert read_state() == {"ingress": kept}
    bodies = harness.discord_bodies()
    assert len(bodies) == 2
    assert all(b["allowed_mentions"] == {"parse": []} for b in bodies)
    assert [m["subject"].split()[1] for m in harness.emails] == ["CRITICAL", "remediated"]
    assert group_of(event) in harness.emails[0]["subject"]


def test_audit_record_holds_the_group_before_and_after(harness: Harness) -> None:
    event, _ = prepare(harness, "ssh-world-nested")

    harness.send(event)

    record = audit_record(harness, event)
    assert record["status"] == "remediated"
    assert len(record["before"]["ingress"]) == 3
    assert [r["source"] for r in record["after"]["ingress"]] == ["203.0.113.10/32", "0.0.0.0/0"]
    (action,) = record["actions"]
    assert action["action"] == "ec2:RevokeSecurityGroupIngress"
    assert record["actor"]["arn"] == "arn:aws:iam::123456789012:user/alice"


def test_a_risky_rule_the_event_did_not_add_is_left_alone(harness: Harness) -> None:
    event, read_state = prepare(harness, "ssh-world-nested")
    mysql = {"protocol": "tcp", "from": 3306, "to": 3306, "source": "0.0.0.0/0"}
    harness.client("ec2").authorize_security_group_ingress(
        GroupId=group_of(event), IpProtocol="tcp", FromPort=3306, ToPort=3306, CidrIp="0.0.0.0/0"
    )

    run = harness.send(event)

    assert run.verdict == "remediate"
    assert read_state() == {"ingress": [OFFICE, HTTPS, mysql]}


@pytest.mark.parametrize(
    "scenario",
    ["https-world", "private-and-office-cidrs", "prefix-list-and-group-reference", "icmp-world"],
)
def test_rules_that_are_not_risky_are_left_alone_silently(harness: Harness, scenario: str) -> None:
    event, read_state = prepare(harness, scenario)
    before = read_state()

    run = harness.send(event)

    assert run.verdict == "ignore"
    assert [e["status"] for e in run.executions] == ["SUCCEEDED"]
    assert read_state() == before
    assert harness.discord_bodies() == []
    assert harness.emails == []


@pytest.mark.parametrize("scenario", ["failed-authorize", "own-role-call"])
def test_failed_or_own_calls_start_no_workflow(harness: Harness, scenario: str) -> None:
    event, read_state = prepare(harness, scenario)
    before = read_state()

    run = harness.send(event)

    assert run.deliveries == []
    assert read_state() == before
    assert harness.discord_bodies() == []


def test_rule_already_revoked_at_reread_is_only_alerted(harness: Harness) -> None:
    event, read_state = prepare(harness, "ssh-world-nested")
    (item,) = event["detail"]["responseElements"]["securityGroupRuleSet"]["items"]
    harness.client("ec2").revoke_security_group_ingress(
        GroupId=group_of(event), SecurityGroupRuleIds=[item["securityGroupRuleId"]]
    )

    run = harness.send(event)

    assert run.verdict == "alert"
    assert "already reverted" in run.findings[0]["reason"]
    assert read_state() == {"ingress": [OFFICE, HTTPS]}
    assert len(harness.emails) == 1


def test_duplicate_delivery_acts_once_and_alerts_once(harness: Harness) -> None:
    event, read_state = prepare(harness, "ssh-world-flat")

    first = harness.send(event)
    second = harness.send(event)

    assert (first.verdict, second.verdict) == ("remediate", "ignore")
    assert len(harness.emails) == 2
    assert read_state() == {"ingress": [OFFICE]}


@pytest.mark.parameters({"SgOpenIngressMode": "alert"})
def test_alert_mode_tells_but_leaves_the_rule(harness: Harness) -> None:
    event, read_state = prepare(harness, "ssh-world-nested")
    before = read_state()

    run = harness.send(event)

    assert run.verdict == "alert"
    assert read_state() == before
    assert len(harness.emails) == 1
    assert len(harness.discord_bodies()) == 1


@pytest.mark.parameters({"SgOpenIngressMode": "off"})
def test_off_mode_silences_the_workflow(harness: Harness) -> None:
    event, read_state = prepare(harness, "all-traffic")
    before = read_state()

    run = harness.send(event)

    assert run.verdict == "ignore"
    assert read_state() == before
    assert harness.emails == []


@pytest.mark.parameters({"AllowedPublicPorts": "22,80,443"})
def test_allowed_public_ports_parameter_is_honoured(harness: Harness) -> None:
    event, read_state = prepare(harness, "ssh-world-nested")
    before = read_state()

    run = harness.send(event)

    assert run.verdict == "ignore"
    assert read_state() == before


# --- sg-change: alert-only, the rule invokes the alert function directly -------------


@pytest.mark.parametrize(
    ("scenario", "reason_starts"),
    [
        ("create-group", "security group payments-api"),
        ("delete-group", "security group sg-"),
        ("revoke-ingress", "ingress revoked from sg-"),
        ("authorize-egress", "egress added to sg-"),
        ("revoke-egress", "egress revoked from sg-"),
    ],
)
def test_security_group_change_is_an_info_alert(
    harness: Harness, scenario: str, reason_starts: str
) -> None:
    event, _ = prepare(harness, scenario, "sg-change")

    run = harness.send(event)

    (delivery,) = run.deliveries
    assert delivery.execution_arn is None  # no state machine for an alert-only workflow
    assert run.verdict == "alert"
    assert run.findings[0]["reason"].startswith(reason_starts)
    assert [m["subject"].split()[1] for m in harness.emails] == ["INFO"]
    (body,) = harness.discord_bodies()
    assert body["allowed_mentions"] == {"parse": []}
    assert audit_record(harness, event)["status"] == "alerted"


@pytest.mark.parametrize("scenario", ["own-role-revoke", "failed-delete-group"])
def test_our_own_revoke_and_failed_calls_are_not_reported_as_changes(
    harness: Harness, scenario: str
) -> None:
    event, _ = prepare(harness, scenario, "sg-change")

    run = harness.send(event)

    assert run.deliveries == []
    assert harness.emails == []


@pytest.mark.parameters({"SgChangeMode": "off"})
def test_sg_change_off_mode_is_silent(harness: Harness) -> None:
    event, _ = prepare(harness, "create-group", "sg-change")

    run = harness.send(event)

    assert run.verdict == "ignore"
    assert harness.emails == []
    assert harness.discord_bodies() == []
