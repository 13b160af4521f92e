"""One careless parameter never stops the app: unrelated workflows still alert and
remediate, and the alerts say which setting was skipped (issue 11)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.workflow.approvals import ApprovalHarness, approval_harness
from tests.workflow.conftest import Harness, fresh
from tests.workflow.function_env import set_function_env
from trailwarden.notify.messages import SETTINGS_WARNING_LABEL
from trailwarden_local.approval_server import ApprovalClient
from trailwarden_local.drivers import DRIVERS
from trailwarden_local.samples import Sample, load_index

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["approval_harness"]

SAMPLES = {(s.workflow, s.scenario): s for s in load_index().samples}
SSH_WORLD = {"protocol": "tcp", "from": 22, "to": 22, "source": "0.0.0.0/0"}

CARELESS = [
    pytest.param({"PROTECTED_IP_CIDRS": "10.0.0.0/7"}, id="protected-cidr-too-wide"),
    pytest.param({"PROTECTED_IP_CIDRS": "203.0.113.300"}, id="protected-octet-300"),
    pytest.param({"PROTECTED_IP_CIDRS": "/33"}, id="protected-prefix-33"),
    pytest.param({"ALLOWED_PUBLIC_PORTS": "80,443,99999"}, id="port-99999"),
    pytest.param({"APPROVER_CIDRS": "0.0.0.0/0"}, id="approver-whole-internet"),
    pytest.param({"TIME_ZONE": "Asia/Seol"}, id="time-zone-typo"),
    pytest.param({"LANGUAGE": "fr"}, id="unknown-language"),
]


def prepare(
    harness: Harness, workflow: str, scenario: str
) -> tuple[dict[str, Any], Callable[[], Any]]:
    sample: Sample = SAMPLES[(workflow, scenario)]
    prepared = DRIVERS[workflow](harness.app, sample)
    return fresh(prepared.event), prepared.read_state


def field_line(body: str, label: str) -> str:
    """The ``label : value`` line of an email body (labels are padded to one width)."""
    found = re.search(rf"^{re.escape(label)} *: (.*)$", body, re.MULTILINE)
    assert found, f"no {label!r} line in:\n{body}"
    return found.group(1)


@pytest.mark.parametrize("careless", CARELESS)
def test_careless_parameter_leaves_unrelated_workflows_alerting_and_remediating(
    harness: Harness, careless: dict[str, str]
) -> None:
    set_function_env(harness.app, careless)
    sg_event, read_group = prepare(harness, "sg-open-ingress", "ssh-world-nested")
    iam_event, _ = prepare(harness, "iam-user-change", "create-user")
    assert SSH_WORLD in read_group()["ingress"]

    sg = harness.send(sg_event)
    iam = harness.send(iam_event)

    assert [e["status"] for e in sg.executions] == ["SUCCEEDED"]
    assert sg.verdict == "remediate"
    assert SSH_WORLD not in read_group()["ingress"]
    assert iam.verdict == "alert"
    subjects = [m["subject"] for m in harness.emails]
    assert [s.split()[1:3] for s in subjects] == [
        ["CRITICAL", "sg-open-ingress"],
        ["remediated", "sg-open-ingress"],
        ["MEDIUM", "iam-user-change"],
    ]
    assert len(harness.discord_bodies()) == 3
    for mail in harness.emails:  # a warning, where one shows, names the parameter
        if SETTINGS_WARNING_LABEL in mail["body"]:
            assert field_line(mail["body"], SETTINGS_WARNING_LABEL).split(":")[0] in (
                "ProtectedIpCidrs",
                "AllowedPublicPorts",
                "TimeZone",
                "Language",
            )


def test_port_over_65535_is_named_in_every_alert_of_the_workflow(harness: Harness) -> None:
    set_function_env(harness.app, {"ALLOWED_PUBLIC_PORTS": "80,443,99999"})
    event, read_group = prepare(harness, "sg-open-ingress", "ssh-world-nested")

    harness.send(event)

    assert SSH_WORLD not in read_group()["ingress"]
    assert len(harness.emails) == 2  # "remediating" (Notify) and "remediated" (Report)
    for mail in harness.emails:
        line = field_line(mail["body"], SETTINGS_WARNING_LABEL)
        assert line == "AllowedPublicPorts: skipped '99999' (not a port number)"
    for body in harness.discord_bodies():
        first = body["embeds"][0]["fields"][0]
        assert first["name"] == SETTINGS_WARNING_LABEL
        assert "99999" in first["value"]


def test_unknown_time_zone_shows_utc_times_and_says_so(harness: Harness) -> None:
    set_function_env(harness.app, {"TIME_ZONE": "Asia/Seol"})
    sg_event, read_group = prepare(harness, "sg-open-ingress", "ssh-world-nested")
    iam_event, _ = prepare(harness, "iam-user-change", "create-user")

    harness.send(sg_event)
    harness.send(iam_event)

    assert SSH_WORLD not in read_group()["ingress"]
    assert len(harness.emails) == 3  # remediating, remediated, IAM alert: nobody left untold
    for mail in harness.emails:
        assert field_line(mail["body"], "When").endswith(" UTC")
        warning = field_line(mail["body"], SETTINGS_WARNING_LABEL)
        assert warning.startswith("TimeZone: 'Asia/Seol' is not a known time zone")


def test_unknown_language_writes_english_and_says_so(harness: Harness) -> None:
    set_function_env(harness.app, {"LANGUAGE": "fr"})
    event, _ = prepare(harness, "iam-user-change", "create-user")

    harness.send(event)

    (mail,) = harness.emails
    assert field_line(mail["body"], "IAM user") == "svc-reporting"
    assert field_line(mail["body"], SETTINGS_WARNING_LABEL) == (
        "Language: 'fr' is not en or ko; writing English"
    )


def test_careless_protected_cidr_is_named_in_the_approval_request(
    approval_harness: ApprovalHarness,
) -> None:
    harness = approval_harness
    set_function_env(harness.app, {"PROTECTED_IP_CIDRS": "10.0.0.0/7,203.0.113.300"})
    sample = SAMPLES[("waf-protected-ip", "nat-ip-blocked")]
    prepared = DRIVERS["waf-protected-ip"](harness.app, sample)

    execution = harness.start(fresh(prepared.event))
    link = harness.link()  # the NAT gateway's IP is still protected: approval is asked
    human = ApprovalClient()
    decided = human.decide(link, human.get(link), "approve")
    result = harness.app.wait_for_execution(execution)

    assert (decided.status, result["status"]) == (200, "SUCCEEDED")
    assert "203.0.113.10/32" not in prepared.read_state()["addresses"]
    request, remediated = harness.base.inbox.drain()
    assert "Review and decide" in request["body"]
    assert remediated["subject"].split()[1] == "remediated"
    for mail in (request, remediated):
        warning = field_line(mail["body"], SETTINGS_WARNING_LABEL)
        assert warning.startswith("ProtectedIpCidrs: skipped '10.0.0.0/7' (wider than /8)")
        assert "'203.0.113.300'" in mail["body"]


@pytest.mark.parameters({"ApprovalTimeoutSeconds": "3"})
def test_unusable_approver_cidrs_refuse_every_decision_with_403_not_500(
    approval_harness: ApprovalHarness,
) -> None:
    harness = approval_harness
    set_function_env(harness.app, {"APPROVER_CIDRS": "0.0.0.0/0"})
    sample = SAMPLES[("waf-protected-ip", "nat-ip-blocked")]
    prepared = DRIVERS["waf-protected-ip"](harness.app, sample)
    blocked = prepared.read_state()
    event = fresh(prepared.event)

    execution = harness.start(event)
    link = harness.link()
    human = ApprovalClient()
    page = human.get(link)
    posted = human.post(link, {"decision": "approve", "nonce": page.nonce or "x"})
    result = harness.app.wait_for_execution(execution)

    assert (page.status, posted.status) == (403, 403)
    assert "approver network setting is invalid" in page.text
    assert "approver network setting is invalid" in posted.text
    assert result["status"] == "SUCCEEDED"  # nobody could decide: it expired
    assert prepared.read_state() == blocked
    assert "Remediate" not in harness.app.entered_states(execution)
    assert harness.base.audit(event)["status"] == "expired"
