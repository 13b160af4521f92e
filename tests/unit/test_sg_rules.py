"""The security-group rule model: world-open sources, ports, protocols, every logged shape."""

from __future__ import annotations

from typing import Any

import pytest

from trailwarden.models.sg_rules import (
    IPV4,
    IPV6,
    PREFIX_LIST,
    SECURITY_GROUP,
    IngressRule,
    from_api,
    is_risky,
    normalize_protocol,
    parse_ip_permissions,
    parse_modify_request,
    parse_rule_set,
    port_of,
)

ALLOWED = frozenset({80, 443})


def rule(protocol: str, low: int | None, high: int | None, source: str) -> IngressRule:
    kind = IPV6 if ":" in source else IPV4
    return IngressRule(normalize_protocol(protocol), low, high, source, kind)


@pytest.mark.parametrize(
    ("source", "world_open"),
    [
        ("0.0.0.0/0", True),
        ("0.0.0.0/1", True),
        ("128.0.0.0/7", True),
        ("208.236.235.254/0", True),  # host bits set: still the whole internet
        ("1.0.0.0/8", False),  # /8 is the first prefix that is not "shorter than /8"
        ("10.0.0.0/8", False),
        ("10.0.0.0/7", True),  # covers 11.0.0.0/8, which is public
        ("172.16.0.0/12", False),
        ("192.168.1.0/24", False),
        ("203.0.113.10/32", False),
        ("::/0", True),
        ("2000::/3", True),
        ("2001:db8::/31", True),
        ("2001:db8::/32", False),
        ("2001:db8::10/128", False),
        ("fd00::/8", False),  # unique-local: private however short
        ("fc00::/7", False),
        ("fe80::/10", False),
        ("not-a-cidr", False),
    ],
)
def test_world_open_sources(source: str, world_open: bool) -> None:
    assert rule("tcp", 22, 22, source).world_open is world_open


def test_world_open_depends_on_the_source_kind_whatever_was_asked_before() -> None:
    # the answer for an address text is memoised; the kind is checked on every rule
    assert rule("tcp", 22, 22, "0.0.0.0/0").world_open
    assert not IngressRule("tcp", 22, 22, "0.0.0.0/0", PREFIX_LIST).world_open
    assert not IngressRule("tcp", 22, 22, "::/0", SECURITY_GROUP).world_open
    assert IngressRule("tcp", 22, 22, "::/0", IPV6).world_open


def test_prefix_lists_and_group_references_are_never_world_open() -> None:
    assert not IngressRule("-1", None, None, "pl-0abc", PREFIX_LIST).world_open
    assert not IngressRule("-1", None, None, "sg-0abc", SECURITY_GROUP).world_open


@pytest.mark.parametrize(
    ("protocol", "low", "high", "risky"),
    [
        pytest.param("tcp", 22, 22, True, id="ssh"),
        pytest.param("tcp", 443, 443, False, id="https-allowed"),
        pytest.param("tcp", 80, 80, False, id="http-allowed"),
        pytest.param("tcp", 80, 443, True, id="range-straddling-allowed-ports"),
        pytest.param("tcp", 0, 65535, True, id="every-port"),
        pytest.param("udp", 443, 443, False, id="udp-allowed-port"),
        pytest.param("udp", 53, 53, True, id="udp-dns"),
        pytest.param("-1", None, None, True, id="all-traffic"),
        pytest.param("-1", 443, 443, True, id="all-traffic-ignores-the-port-range"),
        pytest.param("all", None, None, True, id="all-keyword"),
        pytest.param("6", 22, 22, True, id="tcp-by-number"),
        pytest.param("6", 443, 443, False, id="tcp-by-number-allowed"),
        pytest.param("17", 443, 443, False, id="udp-by-number-allowed"),
        pytest.param("50", 443, 443, True, id="esp-allows-every-port"),
        pytest.param("132", 80, 80, True, id="sctp-allows-every-port"),
        pytest.param("icmp", 8, -1, False, id="icmp-echo-has-no-ports"),
        pytest.param("1", -1, -1, False, id="icmp-by-number"),
        pytest.param("icmpv6", -1, -1, False, id="icmpv6"),
        pytest.param("58", -1, -1, False, id="icmpv6-by-number"),
        pytest.param("tcp", None, None, True, id="tcp-without-ports-assumes-every-port"),
        pytest.param("tcp", 500, 100, True, id="inverted-range-assumes-every-port"),
    ],
)
def test_world_open_rule_is_risky_when_it_reaches_a_port_not_allowed(
    protocol: str, low: int | None, high: int | None, risky: bool
) -> None:
    assert is_risky(rule(protocol, low, high, "0.0.0.0/0"), ALLOWED) is risky
    assert is_risky(rule(protocol, low, high, "::/0"), ALLOWED) is risky
    assert not is_risky(rule(protocol, low, high, "203.0.113.10/32"), ALLOWED)


def test_allowed_ports_come_from_the_setting() -> None:
    ssh = rule("tcp", 22, 22, "0.0.0.0/0")
    https = rule("tcp", 443, 443, "0.0.0.0/0")

    assert not is_risky(ssh, frozenset({22}))
    assert is_risky(https, frozenset())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("tcp", "tcp"),
        ("TCP", "tcp"),
        ("6", "tcp"),
        (6, "tcp"),
        ("17", "udp"),
        ("1", "icmp"),
        ("58", "icmpv6"),
        ("-1", "-1"),
        (-1, "-1"),
        ("ALL", "-1"),
        ("050", "50"),
        (None, "-1"),
    ],
)
def test_protocols_are_normalised(raw: Any, expected: str) -> None:
    assert normalize_protocol(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(22, 22), ("22", 22), (" 443 ", 443), ("-1", -1), (None, None), ("x", None), (True, None)],
)
def test_ports_as_numbers_or_strings(raw: Any, expected: int | None) -> None:
    assert port_of(raw) == expected


def test_nested_request_yields_one_rule_per_source_and_skips_empty_lists() -> None:
    request = {
        "groupId": "sg-1",
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": "22",
                    "toPort": "22",
                    "groups": {"items": [{"groupId": "sg-2", "userId": "1"}]},
                    "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]},
                    "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]},
                    "prefixListIds": {"items": [{"prefixListId": "pl-1"}]},
                },
                {"ipProtocol": "-1", "groups": {}, "ipRanges": {}, "ipv6Ranges": {}},
            ]
        },
    }

    rules = parse_ip_permissions(request)

    assert [(r.protocol, r.from_port, r.to_port, r.source, r.source_type) for r in rules] == [
        ("tcp", 22, 22, "0.0.0.0/0", IPV4),
        ("tcp", 22, 22, "10.0.0.0/8", IPV4),
        ("tcp", 22, 22, "::/0", IPV6),
        ("tcp", 22, 22, "pl-1", PREFIX_LIST),
        ("tcp", 22, 22, "sg-2", SECURITY_GROUP),
    ]


def test_flat_cli_request_is_read() -> None:
    request = {
        "groupId": "sg-1",
        "ipPermissions": {},
        "ipProtocol": "tcp",
        "fromPort": 3389,
        "toPort": 3389,
        "cidrIp": "0.0.0.0/0",
    }

    (only,) = parse_ip_permissions(request)

    assert (only.protocol, only.from_port, only.source) == ("tcp", 3389, "0.0.0.0/0")


def test_response_rule_set_carries_rule_ids_and_skips_egress() -> None:
    response = {
        "securityGroupRuleSet": {
            "items": [
                {
                    "groupId": "sg-1",
                    "securityGroupRuleId": "sgr-1",
                    "isEgress": False,
                    "ipProtocol": "tcp",
                    "fromPort": 22,
                    "toPort": 22,
                    "cidrIpv4": "0.0.0.0/0",
                },
                {
                    "groupId": "sg-1",
                    "securityGroupRuleId": "sgr-2",
                    "isEgress": False,
                    "ipProtocol": "-1",
                    "fromPort": -1,
                    "toPort": -1,
                    "referencedGroupInfo": {"groupId": "sg-9", "userId": "1"},
                },
                {"securityGroupRuleId": "sgr-3", "isEgress": True, "ipProtocol": "-1"},
            ]
        }
    }

    rule_set = parse_rule_set(response)

    assert rule_set.complete
    assert rule_set.group_id == "sg-1"
    assert [(r.rule_id, r.source) for r in rule_set.rules] == [
        ("sgr-1", "0.0.0.0/0"),
        ("sgr-2", "sg-9"),
    ]


def test_response_items_without_details_are_incomplete() -> None:
    response = {"securityGroupRuleSet": {"items": [{"securityGroupRuleId": "sgr-1"}]}}

    assert not parse_rule_set(response).complete
    assert not parse_rule_set({"_return": True}).complete


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0"}, "0.0.0.0/0"),
        ({"IpProtocol": "6", "FromPort": "22", "ToPort": "22", "CidrIpv6": "::/0"}, "::/0"),
        ({"IpProtocol": "-1", "PrefixListId": "pl-1"}, "pl-1"),
        ({"IpProtocol": "-1", "ReferencedGroupId": "sg-2"}, "sg-2"),
    ],
)
def test_modify_request_pascal_case(spec: dict[str, Any], expected: str) -> None:
    request = {
        "ModifySecurityGroupRulesRequest": {
            "GroupId": "sg-1",
            "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": spec},
        }
    }

    group_id, (only,) = parse_modify_request(request)

    assert (group_id, only.rule_id, only.source) == ("sg-1", "sgr-1", expected)


def test_modify_request_with_several_rules() -> None:
    spec = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0"}
    request = {
        "ModifySecurityGroupRulesRequest": {
            "GroupId": "sg-1",
            "SecurityGroupRule": [
                {"SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": spec},
                {"SecurityGroupRuleId": "sgr-2", "SecurityGroupRule": spec},
            ],
        }
    }

    _, rules = parse_modify_request(request)

    assert [r.rule_id for r in rules] == ["sgr-1", "sgr-2"]


@pytest.mark.parametrize(
    "request_parameters",
    [
        {},
        {"ipPermissions": "x"},
        {"ipPermissions": {"items": ["x", 3, None]}},
        {"ipPermissions": {"items": [{"ipProtocol": "tcp", "ipRanges": {"items": [5]}}]}},
        {"ModifySecurityGroupRulesRequest": "x"},
        {"ModifySecurityGroupRulesRequest": {"SecurityGroupRule": [None, {"x": 1}]}},
    ],
)
def test_unreadable_requests_yield_no_rules(request_parameters: dict[str, Any]) -> None:
    assert parse_ip_permissions(request_parameters) == []
    assert parse_modify_request(request_parameters)[1] == []


def test_same_permission_compares_networks_and_ignores_ports_for_all_traffic() -> None:
    a = rule("tcp", 22, 22, "2001:db8:0::/32")
    b = rule("6", 22, 22, "2001:0db8::/32")

    assert a.same_permission(b)
    assert not a.same_permission(rule("tcp", 23, 23, "2001:db8::/32"))
    assert rule("-1", None, None, "0.0.0.0/0").same_permission(rule("-1", -1, -1, "0.0.0.0/0"))


def test_describe_security_group_rules_item_is_read() -> None:
    item = {
        "SecurityGroupRuleId": "sgr-1",
        "GroupId": "sg-1",
        "IsEgress": False,
        "IpProtocol": "58",
        "FromPort": -1,
        "ToPort": -1,
        "CidrIpv6": "::/0",
    }

    parsed = from_api(item)

    assert parsed is not None
    assert (parsed.rule_id, parsed.protocol, parsed.source_type) == ("sgr-1", "icmpv6", IPV6)


def test_rule_round_trips_through_json() -> None:
    original = IngressRule("tcp", 80, 443, "0.0.0.0/0", IPV4, "sgr-1")

    assert IngressRule.from_dict(original.to_dict()) == original
