"""waf-protected-ip end to end: the real ASL on moto, approvals over real HTTP on 127.0.0.1."""

from __future__ import annotations

import copy
import ipaddress
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from tests.workflow.approvals import ApprovalHarness, approval_harness
from tests.workflow.conftest import audit_item, fresh
from trailwarden_local.approval_server import ApprovalClient, approval_links
from trailwarden_local.demo_approval import UNFURLER
from trailwarden_local.drivers import DRIVERS
from trailwarden_local.samples import Sample, load_index

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["approval_harness"]

SAMPLES = {
    s.scenario: s for s in load_index().samples if s.workflow in ("waf-protected-ip", "waf-change")
}
# Another acting workflow, for the test that every acting workflow can wait for approval.
AMI_SAMPLES = {s.scenario: s for s in load_index().samples if s.workflow == "ami-exposure"}
KEPT = "192.0.2.44/32"


def prepare(
    harness: ApprovalHarness, scenario: str, **setup: Any
) -> tuple[dict[str, Any], Callable[[], Any]]:
    sample: Sample = SAMPLES[scenario]
    if setup:
        sample = Sample(**{**sample.__dict__, "setup": {**sample.setup, **setup}})
    assert sample.workflow is not None
    prepared = DRIVERS[sample.workflow](harness.app, sample)
    return fresh(prepared.event), prepared.read_state


def audit(harness: ApprovalHarness, event: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(audit_item(harness.app, event)["record"]["S"]))


def titles(harness: ApprovalHarness) -> list[str]:
    """Discord embed titles without the markdown escapes (``\\[CRITICAL\\]``)."""
    return [b["embeds"][0]["title"].replace("\\", "") for b in harness.base.discord_bodies()]


@pytest.mark.parameters({"ProtectedIpCidrs": ""})
def test_seed_incident_nat_ip_leaves_the_set_only_after_a_human_approves(
    approval_harness: ApprovalHarness,
) -> None:
    harness = approval_harness
    event, read_state = prepare(harness, "nat-ip-blocked")
    blocked = read_state()

    execution = harness.start(event)
    link = harness.link()
    human, unfurler = ApprovalClient(), ApprovalClient(user_agent=UNFURLER)
    pages = [human.get(link) for _ in range(4)] + [unfurler.get(link) for _ in range(4)]

    assert [p.status for p in pages] == [200] * 8
    assert harness.status(execution) == "RUNNING"
    assert harness.app.entered_states(execution)[-1] == "RequestApproval"
    assert read_state() == blocked == {"addresses": [KEPT, "203.0.113.10/32"]}
    assert harness.approvals_item()["status"] == {"S": "pending"}

    decided = human.decide(link, pages[0], "approve")
    result = harness.app.wait_for_execution(execution)

    assert decided.status == 200
    assert result["status"] == "SUCCEEDED"
    assert read_state() == {"addresses": [KEPT]}
    assert titles(harness)[0] == "[CRITICAL] Approval needed: protected IP in a WAF IP set"
    assert titles(harness)[1].startswith("Remediated: waf-protected-ip")
    record = audit(harness, event)
    assert record["status"] == "remediated"
    assert record["decision"]["status"] == "approved"
    assert record["decision"]["sourceIp"] == "127.0.0.1"
    assert record["decision"]["userAgent"] == human.user_agent
    assert record["before"]["addressCount"] == 2
    assert record["before"]["protectedEntries"] == ["203.0.113.10/32"]
    assert (record["after"]["addressCount"], record["after"]["removed"]) == (1, ["203.0.113.10/32"])
    assert "NAT gateway nat-" in record["reason"]
    emails = harness.base.inbox.drain()
    assert len(emails) == 2
    assert "Decision" in emails[1]["body"]
    assert "127.0.0.1" in emails[1]["body"]


def test_rejected_request_changes_nothing_and_tells_the_team(
    approval_harness: ApprovalHarness,
) -> None:
    harness = approval_harness
    event, read_state = prepare(harness, "ipv6-protected-ip-rejected")
    before = read_state()

    execution = harness.start(event)
    link = harness.link()
    client = ApprovalClient()
    rejected = client.decide(link, client.get(link), "reject")
    result = harness.app.wait_for_execution(execution)

    assert rejected.status == 200
    assert result["status"] == "SUCCEEDED"
    assert read_state() == before
    assert "Remediate" not in harness.app.entered_states(execution)
    assert titles(harness)[1].startswith("Rejected, nothing changed")
    assert audit(harness, event)["decision"]["status"] == "rejected"


@pytest.mark.parameters({"ApprovalTimeoutSeconds": "4"})
def test_nobody_deciding_expires_the_request_and_changes_nothing(
    approval_harness: ApprovalHarness,
) -> None:
    harness = approval_harness
    event, read_state = prepare(harness, "office-ip-expired")
    before = read_state()

    execution = harness.start(event)
    link = harness.link()
    client = ApprovalClient()
    page = client.get(link)
    result = harness.app.wait_for_execution(execution, timeout=30)
    late = client.decide(link, page, "approve")

    assert page.status == 200
    assert result["status"] == "SUCCEEDED"
    assert "Remediate" not in harness.app.entered_states(execution)
    assert read_state() == before
    assert late.status == 410
    assert client.get(link).status == 410
    assert titles(harness)[1].startswith("Approval expired, nothing changed")
    assert audit(harness, event)["status"] == "expired"


def test_task_token_never_appears_in_a_url_a_log_record_or_a_message(
    approval_harness: ApprovalHarness,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    harness = approval_harness
    event, _ = prepare(harness, "nat-ip-blocked")

    execution = harness.start(event)
    link = harness.link()
    token = harness.approvals_item()["taskToken"]["S"]
    client = ApprovalClient()
    page = client.get(link)
    decided = client.decide(link, page, "approve")
    replay = client.decide(link, page, "approve")
    harness.app.wait_for_execution(execution)
    captured = capfd.readouterr()

    bodies = json.dumps(harness.base.discord_bodies())
    emails = json.dumps(harness.base.inbox.drain())
    links = approval_links(harness.base.discord_bodies())
    scanned = {
        "discord": bodies,
        "email": emails,
        "links": " ".join(links),
        "log records": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
        "pages": page.text + decided.text + replay.text,
    }
    assert len(token) > 16
    assert links
    assert [where for where, text in scanned.items() if token in text] == []
    assert "taskToken" not in harness.approvals_item()  # spent, then dropped


@pytest.mark.parameters({"ProtectedIpCidrs": ""})
def test_set_used_only_by_an_allow_rule_is_a_medium_alert_without_approval(
    approval_harness: ApprovalHarness,
) -> None:
    harness = approval_harness
    event, read_state = prepare(
        harness, "nat-ip-blocked", webAcl={"name": "acl-partners", "action": "Allow"}
    )

    run = harness.base.send(event)

    assert run.verdict == "alert"
    assert run.findings[0]["severity"] == "medium"
    assert "no web ACL blocks" in run.findings[0]["reason"]
    assert read_state() == {"addresses": [KEPT, "203.0.113.10/32"]}
    assert approval_links(harness.base.discord_bodies()) == []
    assert len(harness.base.discord_bodies()) == 1


@pytest.mark.parametrize(
    ("scenario", "verdict", "messages"),
    [("too-wide-cidr", "alert", 1), ("near-miss", "ignore", 0)],
)
def test_too_wide_cidr_is_reported_and_near_miss_ignored_both_unchanged(
    approval_harness: ApprovalHarness, scenario: str, verdict: str, messages: int
) -> None:
    harness = approval_harness
    event, read_state = prepare(harness, scenario)
    before = read_state()

    run = harness.base.send(event)

    assert run.verdict == verdict
    assert read_state() == before
    assert len(harness.base.discord_bodies()) == messages
    assert approval_links(harness.base.discord_bodies()) == []


CARVED_24 = [
    "203.0.113.0/29",
    "203.0.113.8/31",
    "203.0.113.11/32",
    "203.0.113.12/30",
    "203.0.113.16/28",
    "203.0.113.32/27",
    "203.0.113.64/26",
    "203.0.113.128/25",
]


def blocks(addresses: list[str], address: str) -> bool:
    return any(ipaddress.ip_address(address) in ipaddress.ip_network(a) for a in addresses)


def test_approved_carve_out_unblocks_the_nat_ip_and_keeps_the_rest_of_the_24_blocked(
    approval_harness: ApprovalHarness,
) -> None:
    harness = approval_harness
    event, read_state = prepare(harness, "nat-ip-carved-out")

    execution = harness.start(event)
    link = harness.link()
    client = ApprovalClient()
    page = client.get(link)
    still_blocked = read_state()["addresses"]
    client.decide(link, page, "approve")
    result = harness.app.wait_for_execution(execution)

    after = read_state()["addresses"]
    assert result["status"] == "SUCCEEDED"
    assert still_blocked == [KEPT, "203.0.113.0/24"]
    assert after == [KEPT, *CARVED_24]
    assert not blocks(after, "203.0.113.10")
    others = [str(a) for a in ipaddress.ip_network("203.0.113.0/24") if str(a) != "203.0.113.10"]
    assert all(blocks(after, a) for a in others)
    assert "replace 203.0.113.0/24 with 8 prefixes" in page.text
    record = audit(harness, event)
    assert record["status"] == "remediated"
    assert (record["after"]["removed"], record["after"]["added"]) == (["203.0.113.0/24"], CARVED_24)


def test_rejected_carve_out_leaves_the_covering_entry(approval_harness: ApprovalHarness) -> None:
    harness = approval_harness
    event, read_state = prepare(harness, "wider-cidr")
    before = read_state()

    execution = harness.start(event)
    link = harness.link()
    client = ApprovalClient()
    client.decide(link, client.get(link), "reject")
    harness.app.wait_for_execution(execution)

    assert before == {"addresses": [KEPT, "203.0.113.0/24"]}
    assert read_state() == before
    assert "Remediate" not in harness.app.entered_states(execution)
    assert titles(harness)[1].startswith("Rejected, nothing changed")


def filler(count: int) -> list[str]:
    return [f"10.{i // 256}.{i % 256}.1/32" for i in range(count)]


def prepare_large(
    harness: ApprovalHarness, existing: list[str], added: list[str]
) -> tuple[dict[str, Any], Callable[[], Any]]:
    """The wider-cidr sample on a set that already holds ``existing``."""
    sample = SAMPLES["wider-cidr"]
    raw = copy.deepcopy(sample.event)
    raw["detail"]["requestParameters"]["addresses"] = [*existing, *added]
    setup = {**sample.setup, "ipSet": {"name": "big-blocklist", "addresses": existing}}
    large = Sample(**{**sample.__dict__, "event": raw, "setup": setup})
    prepared = DRIVERS["waf-protected-ip"](harness.app, large)
    return fresh(prepared.event), prepared.read_state


def test_carve_out_past_the_ip_set_limit_only_alerts_and_changes_nothing(
    approval_harness: ApprovalHarness,
) -> None:
    harness = approval_harness
    event, read_state = prepare_large(harness, filler(9_995), ["203.0.113.0/24"])
    before = read_state()

    run = harness.base.send(event)

    assert run.verdict == "alert"
    assert run.findings[0]["severity"] == "critical"
    assert "AWS WAF allows 10,000 per IP set" in run.findings[0]["reason"]
    assert read_state() == before
    assert approval_links(harness.base.discord_bodies()) == []


def state_outputs(harness: ApprovalHarness, execution: str) -> dict[str, int]:
    """Size in bytes of every state's output (and every task result) of an execution."""
    sizes: dict[str, int] = {}
    for event in harness.app.execution_history(execution):
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict) and "output" in details:
                name = details.get("name") or f"{event['type']}#{event['id']}"
                sizes[name] = max(sizes.get(name, 0), len(details["output"].encode()))
    return sizes


def test_ten_thousand_address_set_never_carries_its_list_through_the_state_machine(
    approval_harness: ApprovalHarness,
) -> None:
    harness = approval_harness
    existing = filler(9_990)
    event, read_state = prepare_large(harness, existing, ["203.0.113.0/24", "203.0.113.10/32"])

    execution = harness.start(event)
    link = harness.link()
    client = ApprovalClient()
    client.decide(link, client.get(link), "approve")
    result = harness.app.wait_for_execution(execution, timeout=60)

    sizes = state_outputs(harness, execution)
    assert result["status"] == "SUCCEEDED"
    assert read_state()["addresses"] == [*existing, *CARVED_24]
    assert {"Assess", "RequestApproval", "Remediate", "ReportResult"} <= set(sizes)
    assert max(sizes.values()) < 32_000, sizes
    record = audit(harness, event)
    assert record["before"]["addressCount"] == 9_992
    assert record["after"]["addressCount"] == 9_998
    assert len(json.dumps(record)) < 32_000


@pytest.mark.parameters({"WafProtectedIpMode": "remediate"})
def test_remediate_mode_removes_the_ip_at_once(approval_harness: ApprovalHarness) -> None:
    harness = approval_harness
    event, read_state = prepare(harness, "nat-ip-blocked")

    run = harness.base.send(event)

    assert run.verdict == "remediate"
    assert read_state() == {"addresses": [KEPT]}
    assert approval_links(harness.base.discord_bodies()) == []


def test_duplicate_delivery_asks_once(approval_harness: ApprovalHarness) -> None:
    harness = approval_harness
    event, read_state = prepare(harness, "nat-ip-blocked")

    execution = harness.start(event)
    harness.wait_until_waiting(execution)
    second = harness.base.send(event)
    link = harness.link()
    client = ApprovalClient()
    client.decide(link, client.get(link), "approve")
    harness.app.wait_for_execution(execution)

    assert second.verdict == "ignore"
    assert len(approval_links(harness.base.discord_bodies())) == 1
    assert read_state() == {"addresses": [KEPT]}


@pytest.mark.parameters({"AmiExposureMode": "approval"})
def test_other_acting_workflows_wait_for_the_same_kind_of_decision(
    approval_harness: ApprovalHarness,
) -> None:
    harness = approval_harness
    sample = AMI_SAMPLES["made-public"]
    prepared = DRIVERS["ami-exposure"](harness.app, sample)
    event = fresh(prepared.event)

    execution = harness.start(event)
    link = harness.link()
    client = ApprovalClient()
    page = client.get(link)
    still_public = prepared.read_state()["public"]
    client.decide(link, page, "approve")
    harness.app.wait_for_execution(execution)

    assert still_public is True
    assert prepared.read_state()["public"] is False
    assert titles(harness)[0].startswith("[CRITICAL] Approval needed")


def test_web_acl_changes_are_alerted(approval_harness: ApprovalHarness) -> None:
    harness = approval_harness
    event, _ = prepare(harness, "delete-web-acl")

    run = harness.base.send(event)

    assert run.verdict == "alert"
    assert run.findings[0]["severity"] == "high"
    assert titles(harness) == ["[HIGH] Security alert: web ACL deleted"]
