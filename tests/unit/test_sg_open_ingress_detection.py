"""sg-open-ingress detection: every request shape, world-open sources, ports, exemptions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.registry import load_workflow
from trailwarden.workflows.sg_open_ingress import detection as sg_open_ingress

OWN_ROLE = "arn:aws:iam::123456789012:role/trailwarden-SgOpenIngressRemediateFunctionRole-EXAMPLE"
EXEMPT = "sg-0e1e2e3e4e5e6e7e8"
SETTINGS = DetectionSettings(
    own_role_arns=frozenset({OWN_ROLE}),
    allowed_public_ports=frozenset({80, 443}),
    exempt_security_group_ids=frozenset({EXEMPT}),
)


def detect(raw: dict[str, Any], settings: DetectionSettings = SETTINGS) -> Detection:
    return decide(raw, load_workflow(sg_open_ingress.WORKFLOW), settings).detection


def risky_sources(detection: Detection) -> list[tuple[str, Any, Any, str, str]]:
    return [
        (r["protocol"], r["from"], r["to"], r["source"], r["ruleId"])
        for r in detection.facts.get("riskyRules", [])
    ]


# file -> (outcome, severity, risky rules: (protocol, from, to, source, rule id))
SAMPLES: dict[str, tuple[Outcome, Severity, list[tuple[str, Any, Any, str, str]]]] = {
    "ssh-world-nested.json": (
        Outcome.ACT,
        Severity.CRITICAL,
        [("tcp", 22, 22, "0.0.0.0/0", "sgr-0a11111111111111a")],
    ),
    "ssh-world-flat.json": (
        Outcome.ACT,
        Severity.CRITICAL,
        [("tcp", 22, 22, "0.0.0.0/0", "sgr-0a22222222222222a")],
    ),
    "rdp-ipv6-world.json": (
        Outcome.ACT,
        Severity.CRITICAL,
        [("tcp", 3389, 3389, "::/0", "sgr-0a33333333333333a")],
    ),
    "all-traffic.json": (
        Outcome.ACT,
        Severity.CRITICAL,
        [("-1", -1, -1, "0.0.0.0/0", "sgr-0a44444444444444a")],
    ),
    "https-world.json": (Outcome.IGNORE, Severity.INFO, []),
    "port-range-80-443.json": (
        Outcome.ACT,
        Severity.HIGH,
        [("tcp", 80, 443, "0.0.0.0/0", "sgr-0a66666666666666a")],
    ),
    "modify-rule-to-world.json": (
        Outcome.ACT,
        Severity.CRITICAL,
        [("tcp", 22, 22, "0.0.0.0/0", "sgr-0b77777777777777a")],
    ),
    "failed-authorize.json": (Outcome.IGNORE, Severity.INFO, []),
    "exempt-group.json": (
        Outcome.ALERT,
        Severity.INFO,
        [("tcp", 8080, 8080, "0.0.0.0/0", "sgr-0a88888888888888a")],
    ),
    "private-and-office-cidrs.json": (Outcome.IGNORE, Severity.INFO, []),
    "prefix-list-and-group-reference.json": (Outcome.IGNORE, Severity.INFO, []),
    "numeric-protocol-string-ports.json": (
        Outcome.ACT,
        Severity.CRITICAL,
        [("tcp", 5432, 5432, "0.0.0.0/0", "")],  # no rule set in the response: looked up live
    ),
    "icmp-world.json": (Outcome.IGNORE, Severity.INFO, []),
    "own-role-call.json": (Outcome.IGNORE, Severity.INFO, []),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_event_outcome_and_exactly_its_risky_rules(name: str) -> None:
    outcome, severity, risky = SAMPLES[name]

    detection = detect(load_event(f"sg-open-ingress/{name}"))

    assert (detection.outcome, detection.severity) == (outcome, severity)
    assert risky_sources(detection) == risky


def test_every_sg_open_ingress_sample_is_in_the_table() -> None:
    from tests.conftest import EVENTS

    assert {p.name for p in (EVENTS / "sg-open-ingress").glob("*.json")} == set(SAMPLES)


def nested(*permissions: dict[str, Any], group: str = "sg-0123456789abcdef0") -> dict[str, Any]:
    """The nested sample with its request replaced and no response rule set."""
    event = copy.deepcopy(load_event("sg-open-ingress/ssh-world-nested.json"))
    request = {"groupId": group, "ipPermissions": {"items": list(permissions)}}
    event["detail"]["requestParameters"] = request
    event["detail"]["responseElements"] = {"_return": True}
    return event


def perm(protocol: Any, low: Any, high: Any, **sources: Any) -> dict[str, Any]:
    permission: dict[str, Any] = {"ipProtocol": protocol, "groups": {}, "ipv6Ranges": {}}
    if low is not None:
        permission["fromPort"] = low
    if high is not None:
        permission["toPort"] = high
    permission.update(sources)
    return permission


def v4(*cidrs: str) -> dict[str, Any]:
    return {"items": [{"cidrIp": c} for c in cidrs]}


def v6(*cidrs: str) -> dict[str, Any]:
    return {"items": [{"cidrIpv6": c} for c in cidrs]}


@pytest.mark.parametrize(
    ("permission", "outcome"),
    [
        pytest.param(perm("tcp", 22, 22, ipRanges=v4("0.0.0.0/0")), Outcome.ACT, id="ipv4-world"),
        pytest.param(perm("tcp", 22, 22, ipRanges=v4("0.0.0.0/7")), Outcome.ACT, id="ipv4-slash-7"),
        pytest.param(perm("tcp", 22, 22, ipRanges=v4("1.0.0.0/8")), Outcome.IGNORE, id="ipv4-8"),
        pytest.param(
            perm("tcp", 22, 22, ipRanges=v4("208.236.235.254/0")),
            Outcome.ACT,
            id="ipv4-host-bits-slash-0",
        ),
        pytest.param(perm("tcp", 22, 22, ipv6Ranges=v6("::/0")), Outcome.ACT, id="ipv6-world"),
        pytest.param(perm("tcp", 22, 22, ipv6Ranges=v6("2000::/3")), Outcome.ACT, id="ipv6-3"),
        pytest.param(
            perm("tcp", 22, 22, ipv6Ranges=v6("2001:db8::/32")), Outcome.IGNORE, id="ipv6-32"
        ),
        pytest.param(
            perm("tcp", 22, 22, ipv6Ranges=v6("fd00::/8")), Outcome.IGNORE, id="ipv6-unique-local"
        ),
        pytest.param(perm("-1", None, None, ipRanges=v4("0.0.0.0/0")), Outcome.ACT, id="all"),
        pytest.param(perm("-1", 443, 443, ipRanges=v4("0.0.0.0/0")), Outcome.ACT, id="all-443"),
        pytest.param(perm("6", 22, 22, ipRanges=v4("0.0.0.0/0")), Outcome.ACT, id="proto-6"),
        pytest.param(perm("17", 443, 443, ipRanges=v4("0.0.0.0/0")), Outcome.IGNORE, id="udp-443"),
        pytest.param(perm("47", 443, 443, ipRanges=v4("0.0.0.0/0")), Outcome.ACT, id="gre"),
        pytest.param(perm("tcp", "22", "22", ipRanges=v4("0.0.0.0/0")), Outcome.ACT, id="str-22"),
        pytest.param(
            perm("tcp", "443", "443", ipRanges=v4("0.0.0.0/0")), Outcome.IGNORE, id="str-443"
        ),
        pytest.param(perm("tcp", 80, 443, ipRanges=v4("0.0.0.0/0")), Outcome.ACT, id="80-443"),
        pytest.param(perm("tcp", 79, 80, ipRanges=v4("0.0.0.0/0")), Outcome.ACT, id="79-80"),
        pytest.param(perm("icmp", 8, -1, ipRanges=v4("0.0.0.0/0")), Outcome.IGNORE, id="icmp"),
        pytest.param(perm("1", -1, -1, ipRanges=v4("0.0.0.0/0")), Outcome.IGNORE, id="icmp-1"),
        pytest.param(perm("58", -1, -1, ipv6Ranges=v6("::/0")), Outcome.IGNORE, id="icmpv6-58"),
        pytest.param(
            perm("tcp", 22, 22, prefixListIds={"items": [{"prefixListId": "pl-1"}]}),
            Outcome.IGNORE,
            id="prefix-list",
        ),
        pytest.param(
            perm("-1", None, None, groups={"items": [{"groupId": "sg-2", "userId": "1"}]}),
            Outcome.IGNORE,
            id="group-reference",
        ),
        pytest.param(
            perm("tcp", 22, 22, ipRanges=v4("10.0.0.0/8", "192.168.0.0/16")),
            Outcome.IGNORE,
            id="private",
        ),
        pytest.param(
            perm("tcp", 22, 22, ipRanges=v4("203.0.113.10/32")), Outcome.IGNORE, id="office-32"
        ),
        pytest.param(
            perm("tcp", 22, 22, ipRanges=v4("203.0.113.10/32", "0.0.0.0/0")),
            Outcome.ACT,
            id="office-and-world-in-one-permission",
        ),
    ],
)
def test_source_and_port_decide_the_outcome(permission: dict[str, Any], outcome: Outcome) -> None:
    assert detect(nested(permission)).outcome is outcome


def test_only_the_risky_rules_of_a_mixed_request_are_listed() -> None:
    event = nested(
        perm("tcp", 22, 22, ipRanges=v4("203.0.113.10/32", "0.0.0.0/0")),
        perm("tcp", 443, 443, ipRanges=v4("0.0.0.0/0")),
        perm("tcp", 3306, 3306, ipRanges=v4("10.0.0.0/8")),
    )

    detection = detect(event)

    assert risky_sources(detection) == [("tcp", 22, 22, "0.0.0.0/0", "")]
    assert len(detection.facts["rules"]) == 4
    assert detection.facts["ruleIdsFrom"] == "live lookup"


def test_response_rule_set_is_preferred_for_rule_ids() -> None:
    detection = detect(load_event("sg-open-ingress/ssh-world-flat.json"))

    assert detection.facts["ruleIdsFrom"] == "response"
    assert detection.facts["requestShape"] == "flat"


def test_incomplete_response_falls_back_to_the_request() -> None:
    event = copy.deepcopy(load_event("sg-open-ingress/ssh-world-nested.json"))
    event["detail"]["responseElements"]["securityGroupRuleSet"] = {
        "items": [{"groupId": "sg-0123456789abcdef0", "securityGroupRuleId": "sgr-1"}]
    }

    detection = detect(event)

    assert detection.outcome is Outcome.ACT
    assert risky_sources(detection) == [("tcp", 22, 22, "0.0.0.0/0", "")]


def test_allowed_public_ports_setting_is_honoured() -> None:
    ssh_allowed = DetectionSettings(allowed_public_ports=frozenset({22}))
    nothing_allowed = DetectionSettings(allowed_public_ports=frozenset())

    assert detect(load_event("sg-open-ingress/ssh-world-nested.json"), ssh_allowed).outcome is (
        Outcome.IGNORE
    )
    assert detect(load_event("sg-open-ingress/https-world.json"), nothing_allowed).outcome is (
        Outcome.ACT
    )


def test_exempt_group_is_an_info_alert_never_an_action() -> None:
    event = nested(perm("-1", None, None, ipRanges=v4("0.0.0.0/0")), group=EXEMPT)

    detection = detect(event)

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.INFO)
    assert "exempt" in detection.reason


def test_exemption_is_by_group_id_not_by_tag() -> None:
    event = nested(perm("tcp", 22, 22, ipRanges=v4("0.0.0.0/0")))
    tags = [{"key": "Public", "value": "true"}]
    event["detail"]["requestParameters"]["tagSpecifications"] = {
        "items": [{"resourceType": "security-group-rule", "tags": tags}]
    }

    assert detect(event).outcome is Outcome.ACT


def test_group_named_without_id_is_alerted_not_acted_on() -> None:
    event = nested(perm("tcp", 22, 22, ipRanges=v4("0.0.0.0/0")))
    event["detail"]["requestParameters"] = {
        "groupName": "default",
        **{k: v for k, v in event["detail"]["requestParameters"].items() if k != "groupId"},
    }

    detection = detect(event)

    assert detection.outcome is Outcome.ALERT
    assert detection.resource_id == ""


def test_modify_to_a_private_cidr_is_ignored() -> None:
    event = copy.deepcopy(load_event("sg-open-ingress/modify-rule-to-world.json"))
    spec = event["detail"]["requestParameters"]["ModifySecurityGroupRulesRequest"]
    spec["SecurityGroupRule"]["SecurityGroupRule"]["CidrIpv4"] = "10.1.0.0/16"

    assert detect(event).outcome is Outcome.IGNORE


def test_modify_to_ipv6_world_all_traffic_is_acted_on() -> None:
    event = copy.deepcopy(load_event("sg-open-ingress/modify-rule-to-world.json"))
    spec = event["detail"]["requestParameters"]["ModifySecurityGroupRulesRequest"]
    spec["SecurityGroupRule"]["SecurityGroupRule"] = {"IpProtocol": "-1", "CidrIpv6": "::/0"}

    detection = detect(event)

    assert detection.outcome is Outcome.ACT
    assert risky_sources(detection) == [("-1", None, None, "::/0", "sgr-0b77777777777777a")]


def test_failed_call_is_never_acted_on() -> None:
    detection = detect(load_event("sg-open-ingress/failed-authorize.json"))

    assert detection.outcome is Outcome.IGNORE
    assert "failed call" in detection.reason


def test_own_role_is_ignored_but_a_role_with_a_similar_name_is_not() -> None:
    own = load_event("sg-open-ingress/own-role-call.json")
    impostor = copy.deepcopy(own)
    issuer = impostor["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]
    issuer["arn"] = OWN_ROLE + "-impostor"

    assert detect(own).outcome is Outcome.IGNORE
    assert detect(impostor).outcome is Outcome.ACT


@pytest.mark.parametrize(
    "request_parameters",
    [
        None,
        {},
        {"groupId": "sg-1"},
        {"groupId": "sg-1", "ipPermissions": {"items": "x"}},
        {"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp"}]}},
        {"groupId": 5, "cidrIp": 7},
        {"ModifySecurityGroupRulesRequest": None},
    ],
)
def test_unreadable_requests_are_ignored_not_crashed(request_parameters: Any) -> None:
    event = copy.deepcopy(load_event("sg-open-ingress/ssh-world-nested.json"))
    event["detail"]["requestParameters"] = request_parameters
    event["detail"]["responseElements"] = None

    assert detect(event).outcome is Outcome.IGNORE
