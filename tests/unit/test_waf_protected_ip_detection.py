"""waf-protected-ip detection: addresses compared as networks, live context, web ACL usage."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.events import parse_cloudtrail, parse_envelope
from trailwarden.models.findings import Outcome, Severity
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.registry import load_workflow
from trailwarden.workflows.waf_protected_ip import detection as waf

OWN_ROLE = "arn:aws:iam::123456789012:role/tw-waf-remediate"
SETTINGS = DetectionSettings(
    own_role_arns=frozenset({OWN_ROLE}),
    protected_ip_cidrs=tuple(
        ipaddress.ip_network(c)
        for c in ("203.0.113.10/32", "198.51.100.0/28", "2001:db8:10::a/128")
    ),
)
IP_SET_ARN = (
    "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/blocklist/"
    "a1b2c3d4-5678-90ab-cdef-000000000601"
)
BLOCKING = waf.WafContext(
    web_acls=(waf.WebAclUse("prod-web", "arn:acl", blocking_rules=("ip-blocklist",)),)
)


def event_with(addresses: Any, **request_changes: Any) -> Any:
    raw = copy.deepcopy(load_event("waf-protected-ip/nat-ip-blocked.json"))
    raw["detail"]["requestParameters"]["addresses"] = addresses
    raw["detail"]["requestParameters"].update(request_changes)
    return parse_cloudtrail(parse_envelope(raw))


def detect(
    addresses: Any, context: waf.WafContext = BLOCKING, *, wide: bool = False, **changes: Any
) -> Any:
    settings = SETTINGS
    if wide:  # a second protected network inside 198.51.100.0/24
        extra = (ipaddress.ip_network("198.51.100.64/30"),)
        settings = DetectionSettings(
            own_role_arns=SETTINGS.own_role_arns,
            protected_ip_cidrs=(*SETTINGS.protected_ip_cidrs, *extra),
        )
    return waf.evaluate(event_with(addresses, **changes), settings, context)


@pytest.mark.parametrize(
    ("addresses", "outcome"),
    [
        pytest.param(["203.0.113.10/32"], Outcome.ACT, id="exact-protected-ip-is-acted-on"),
        pytest.param(["203.0.113.10"], Outcome.ACT, id="ip-without-prefix-is-acted-on"),
        pytest.param(["203.0.113.12/32"], Outcome.IGNORE, id="near-miss-triggers-nothing"),
        pytest.param(
            ["203.0.113.11/32", "203.0.113.9/32"], Outcome.IGNORE, id="neighbours-ignored"
        ),
        pytest.param(["203.0.113.0/24"], Outcome.ACT, id="covering-cidr-is-carved-out"),
        pytest.param(["203.0.0.0/15"], Outcome.ALERT, id="too-wide-cidr-is-only-reported"),
        pytest.param(["198.51.100.5/32"], Outcome.ACT, id="ip-inside-protected-range-acted-on"),
        pytest.param(["198.51.100.0/29"], Outcome.ACT, id="cidr-inside-protected-range-acted-on"),
        pytest.param(["2001:db8:10::a/128"], Outcome.ACT, id="ipv6-compressed"),
        pytest.param(["2001:DB8:10::A/128"], Outcome.ACT, id="ipv6-upper-case"),
        pytest.param(["2001:db8:10:0:0:0:0:a/128"], Outcome.ACT, id="ipv6-uncompressed"),
        pytest.param(
            ["2001:0db8:0010:0000:0000:0000:0000:000a/128"], Outcome.ACT, id="ipv6-padded"
        ),
        pytest.param(["2001:db8:10::b/128"], Outcome.IGNORE, id="ipv6-near-miss"),
        pytest.param(["2001:db8:10::/64"], Outcome.ACT, id="ipv6-covering-prefix-carved-out"),
        pytest.param(["2001:db8::/32"], Outcome.ALERT, id="ipv6-too-wide-prefix-reported"),
        pytest.param(["not-an-ip", "192.0.2.44/32"], Outcome.IGNORE, id="garbage-entry-skipped"),
        pytest.param([], Outcome.IGNORE, id="emptied-set"),
    ],
)
def test_addresses_are_compared_as_networks(addresses: list[str], outcome: Outcome) -> None:
    detection = detect(addresses)

    assert detection.outcome is outcome


def test_seed_incident_is_critical_and_names_who_what_and_which_web_acl() -> None:
    detection = detect(["192.0.2.44/32", "203.0.113.10/32"])

    assert (detection.outcome, detection.severity) == (Outcome.ACT, Severity.CRITICAL)
    assert detection.resource_id == IP_SET_ARN
    assert "minsu.kim" in detection.reason
    assert "blocklist" in detection.reason
    assert "203.0.113.10/32" in detection.reason
    assert "prod-web" in detection.reason
    assert detection.facts["inside"] == [
        {
            "entry": "203.0.113.10/32",
            "network": "203.0.113.10/32",
            "protected": "203.0.113.10/32",
            "source": "ProtectedIpCidrs",
        }
    ]


def test_entry_inside_and_wider_entry_together_act_and_report_the_wider_one() -> None:
    detection = detect(["203.0.113.10/32", "198.51.100.0/24"])

    assert detection.outcome is Outcome.ACT
    assert [h["entry"] for h in detection.facts["covering"]] == ["198.51.100.0/24"]
    assert "198.51.100.0/24 covers" in detection.reason


def test_covering_cidr_alone_acts_with_a_carve_out_plan() -> None:
    detection = detect(["192.0.2.44/32", "203.0.113.0/24"])

    assert (detection.outcome, detection.severity) == (Outcome.ACT, Severity.CRITICAL)
    assert detection.facts["carveOut"] == [
        {
            "entry": "203.0.113.0/24",
            "network": "203.0.113.0/24",
            "exclude": ["203.0.113.10/32"],
            "sources": ["ProtectedIpCidrs"],
            "prefixCount": 8,
        }
    ]
    assert (detection.facts["addressCount"], detection.facts["addressCountAfter"]) == (2, 9)
    assert "replaces 203.0.113.0/24 with the 8 prefixes" in detection.reason


def test_covering_ipv6_prefix_is_carved_around_the_protected_address() -> None:
    detection = detect(["2001:db8:10::/48"])

    assert detection.outcome is Outcome.ACT
    assert detection.facts["carveOut"][0]["prefixCount"] == 80


@pytest.mark.parametrize(
    ("entry", "limit"),
    [
        pytest.param("203.0.0.0/15", "/16", id="ipv4-wider-than-a-16"),
        pytest.param("2001:db8::/40", "/48", id="ipv6-wider-than-a-48"),
    ],
)
def test_covering_cidr_wider_than_the_limit_is_a_critical_alert_that_says_why(
    entry: str, limit: str
) -> None:
    detection = detect(["192.0.2.44/32", entry])

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.CRITICAL)
    assert f"{entry} (wider than {limit}" in detection.reason
    assert "a human must decide" in detection.reason
    assert detection.facts["carveOut"] == []
    assert detection.facts["covering"][0]["refused"].startswith(f"wider than {limit}")


def test_carve_out_that_would_pass_the_ip_set_limit_is_refused() -> None:
    filler = [f"10.{i // 256}.{i % 256}.1/32" for i in range(waf.MAX_IP_SET_ADDRESSES - 5)]
    fits = detect([*filler[:-3], "203.0.113.0/24"])  # 9,992 kept + 8 prefixes = 10,000

    too_many = detect([*filler, "203.0.113.0/24"])  # 9,995 kept + 8 prefixes = 10,003

    assert fits.outcome is Outcome.ACT
    assert fits.facts["addressCountAfter"] == 10_000
    assert (too_many.outcome, too_many.severity) == (Outcome.ALERT, Severity.CRITICAL)
    assert "would hold 10003 entries; AWS WAF allows 10,000 per IP set" in too_many.reason
    assert len(too_many.facts["covering"]) == 1
    assert "filler" not in str(too_many.facts)


def test_exact_and_covering_entries_in_one_change_remove_one_and_carve_the_other() -> None:
    detection = detect(["198.51.100.5/32", "203.0.113.0/24", "2001:db8:10::/64"])

    assert detection.outcome is Outcome.ACT
    assert [h["entry"] for h in detection.facts["inside"]] == ["198.51.100.5/32"]
    assert [c["entry"] for c in detection.facts["carveOut"]] == [
        "203.0.113.0/24",
        "2001:db8:10::/64",
    ]


def test_several_protected_networks_inside_one_entry_are_all_left_out() -> None:
    detection = detect(["203.0.113.0/24", "198.51.100.0/24"], wide=True)

    carve_outs = {c["entry"]: c for c in detection.facts["carveOut"]}
    assert carve_outs["198.51.100.0/24"]["exclude"] == ["198.51.100.0/28", "198.51.100.64/30"]
    assert carve_outs["198.51.100.0/24"]["prefixCount"] == 7  # .16/28 .32/27 .68/30 ... .128/25
    assert carve_outs["203.0.113.0/24"]["exclude"] == ["203.0.113.10/32"]


@pytest.mark.parametrize(
    ("network", "excluded", "expected"),
    [
        pytest.param(
            "203.0.113.0/24",
            ["203.0.113.10/32"],
            [
                "203.0.113.0/29",
                "203.0.113.8/31",
                "203.0.113.11/32",
                "203.0.113.12/30",
                "203.0.113.16/28",
                "203.0.113.32/27",
                "203.0.113.64/26",
                "203.0.113.128/25",
            ],
            id="one-address-out-of-a-24",
        ),
        pytest.param(
            "203.0.113.0/30",
            ["203.0.113.1/32", "203.0.113.2/32"],
            ["203.0.113.0/32", "203.0.113.3/32"],
            id="two-addresses-in-either-order",
        ),
        pytest.param(
            "203.0.113.0/30",
            ["203.0.113.2/32", "203.0.113.1/32", "203.0.113.2/32"],
            ["203.0.113.0/32", "203.0.113.3/32"],
            id="duplicates-and-order-do-not-matter",
        ),
        pytest.param(
            "203.0.113.0/29",
            ["203.0.113.0/30", "203.0.113.1/32"],
            ["203.0.113.4/30"],
            id="nested-protected-networks",
        ),
        pytest.param(
            "2001:db8:10::/126",
            ["2001:db8:10::1/128"],
            ["2001:db8:10::/128", "2001:db8:10::2/127"],
            id="ipv6",
        ),
    ],
)
def test_carve_is_the_smallest_prefix_set_for_the_range_minus_the_protected(
    network: str, excluded: list[str], expected: list[str]
) -> None:
    whole = ipaddress.ip_network(network)
    cuts = [ipaddress.ip_network(e) for e in excluded]

    prefixes = waf.carve(whole, cuts)

    assert [str(p) for p in prefixes] == expected
    kept = {a for p in prefixes for a in p}
    assert kept == {a for a in whole if not any(a in c for c in cuts)}


def test_nat_gateway_ip_found_live_is_protected_without_configuration() -> None:
    nat = waf.ProtectedNetwork(ipaddress.ip_network("192.0.2.99/32"), "NAT gateway nat-1")
    context = waf.WafContext(nat_networks=(nat,), web_acls=BLOCKING.web_acls)

    detection = waf.evaluate(event_with(["192.0.2.99/32"]), DetectionSettings(), context)

    assert detection.outcome is Outcome.ACT
    assert "NAT gateway nat-1" in detection.reason


def test_failed_nat_lookup_still_protects_configured_ips_and_says_so() -> None:
    context = waf.WafContext(nat_lookup_error="AccessDenied", web_acls=BLOCKING.web_acls)

    detection = detect(["203.0.113.10/32"], context)

    assert detection.outcome is Outcome.ACT
    assert "AccessDenied" in detection.reason
    assert detection.facts["natLookupError"] == "AccessDenied"


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(DetectionSettings(), id="nothing-configured"),
        pytest.param(
            DetectionSettings(protected_ip_cidrs=(ipaddress.ip_network("198.51.100.7/32"),)),
            id="other-ips-configured",
        ),
    ],
)
def test_failed_nat_lookup_never_hides_an_unchecked_address_list(
    settings: DetectionSettings,
) -> None:
    context = waf.WafContext(nat_lookup_error="ThrottlingException", web_acls=BLOCKING.web_acls)

    detection = waf.evaluate(event_with(["192.0.2.99/32"]), settings, context)

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.HIGH)
    assert "ThrottlingException" in detection.reason


def test_set_not_used_by_any_blocking_rule_lowers_severity_and_only_alerts() -> None:
    allow_only = waf.WafContext(
        web_acls=(waf.WebAclUse("partners", "arn:acl", other_rules=("allow-partners",)),)
    )

    detection = detect(["203.0.113.10/32"], allow_only)

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.MEDIUM)
    assert "no web ACL blocks" in detection.reason
    assert "partners" in detection.reason


def test_set_no_web_acl_uses_at_all_only_alerts() -> None:
    detection = detect(["203.0.113.10/32"], waf.WafContext(web_acls=()))

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.MEDIUM)
    assert detection.facts["webAclUsage"] == "not-blocking"


@pytest.mark.parametrize(
    "context",
    [waf.OFFLINE, waf.WafContext(usage_error="AccessDeniedException")],
    ids=["offline", "lookup-failed"],
)
def test_unknown_usage_is_assumed_to_block(context: waf.WafContext) -> None:
    detection = detect(["203.0.113.10/32"], context)

    assert (detection.outcome, detection.severity) == (Outcome.ACT, Severity.CRITICAL)
    assert "assuming it blocks" in detection.reason
    assert detection.facts["webAclUsage"] == "unknown"


def test_cloudfront_scope_set_lives_in_us_east_1_as_a_global_arn() -> None:
    detection = detect(["203.0.113.10/32"], scope="CLOUDFRONT", name="edge")

    assert detection.resource_id.startswith(
        "arn:aws:wafv2:us-east-1:123456789012:global/ipset/edge/"
    )
    assert detection.facts["wafRegion"] == "us-east-1"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"errorCode": "WAFOptimisticLockException"}, "failed call"),
        (
            {
                "userIdentity": {
                    "type": "AssumedRole",
                    "sessionContext": {"sessionIssuer": {"arn": OWN_ROLE}},
                }
            },
            "own call",
        ),
    ],
    ids=["failed-call", "own-role"],
)
def test_failed_and_own_calls_are_ignored(changes: dict[str, Any], reason: str) -> None:
    raw = copy.deepcopy(load_event("waf-protected-ip/nat-ip-blocked.json"))
    raw["detail"].update(changes)

    detection = decide(raw, load_workflow(waf.WORKFLOW), SETTINGS).detection

    assert detection.outcome is Outcome.IGNORE
    assert reason in detection.reason


@pytest.mark.parametrize(
    "request_changes",
    [{"scope": "GLOBAL"}, {"id": ""}, {"name": None}],
    ids=["unknown-scope", "no-id", "no-name"],
)
def test_unreadable_request_is_ignored(request_changes: dict[str, Any]) -> None:
    assert detect(["203.0.113.10/32"], **request_changes).outcome is Outcome.IGNORE


def test_without_any_protected_ip_nothing_triggers() -> None:
    detection = waf.evaluate(event_with(["203.0.113.10/32"]), DetectionSettings(), BLOCKING)

    assert detection.outcome is Outcome.IGNORE


def test_missing_address_list_uses_the_live_one() -> None:
    raw = copy.deepcopy(load_event("waf-protected-ip/nat-ip-blocked.json"))
    del raw["detail"]["requestParameters"]["addresses"]
    event = parse_cloudtrail(parse_envelope(raw))

    offline = waf.evaluate(event, SETTINGS, BLOCKING)
    live = waf.evaluate(
        event,
        SETTINGS,
        waf.WafContext(web_acls=BLOCKING.web_acls, live_addresses=("203.0.113.10/32",)),
    )

    assert offline.outcome is Outcome.IGNORE
    assert live.outcome is Outcome.ACT


# ----------------------------------------------------------------- web ACL usage

OTHER_ARN = IP_SET_ARN.replace("blocklist", "allowlist")


def ref(arn: str = IP_SET_ARN) -> dict[str, Any]:
    return {"IPSetReferenceStatement": {"ARN": arn}}


def rule(statement: dict[str, Any], action: str | None = "Block", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"Name": "r1", "Priority": 1, "Statement": statement, **extra}
    if action:
        body["Action"] = {action: {}}
    return body


def acl(*rules: dict[str, Any], default: str = "Allow") -> dict[str, Any]:
    return {"Name": "web", "ARN": "arn:web", "DefaultAction": {default: {}}, "Rules": list(rules)}


def no_groups(arn: str) -> list[dict[str, Any]]:
    raise AssertionError(f"unexpected rule group lookup {arn}")


@pytest.mark.parametrize(
    ("web_acl", "blocks"),
    [
        pytest.param(acl(rule(ref())), True, id="block-rule"),
        pytest.param(acl(rule(ref(), "Captcha")), True, id="captcha-stops-machines"),
        pytest.param(acl(rule(ref(), "Challenge")), True, id="challenge-stops-machines"),
        pytest.param(acl(rule(ref(), "Allow")), False, id="allow-rule-does-not-block"),
        pytest.param(acl(rule(ref(), "Count")), False, id="count-rule-does-not-block"),
        pytest.param(
            acl(rule(ref(), "Count", RuleLabels=[{"Name": "bad"}])),
            True,
            id="count-rule-labelling-for-a-later-block",
        ),
        pytest.param(
            acl(rule({"NotStatement": {"Statement": ref()}})),
            False,
            id="block-not-in-set-exempts-the-set",
        ),
        pytest.param(
            acl(rule({"NotStatement": {"Statement": {"NotStatement": {"Statement": ref()}}}})),
            True,
            id="double-negation-blocks",
        ),
        pytest.param(
            acl(
                rule(
                    {
                        "AndStatement": {
                            "Statements": [
                                ref(),
                                {"ByteMatchStatement": {"SearchString": "/login"}},
                            ]
                        }
                    }
                )
            ),
            True,
            id="and-nested-blocks",
        ),
        pytest.param(
            acl(
                rule(
                    {
                        "OrStatement": {
                            "Statements": [
                                ref(OTHER_ARN),
                                {"AndStatement": {"Statements": [ref()]}},
                            ]
                        }
                    }
                )
            ),
            True,
            id="deeply-nested-blocks",
        ),
        pytest.param(
            acl(rule({"NotStatement": {"Statement": ref()}}, "Allow"), default="Block"),
            True,
            id="excluded-from-allow-in-default-block-acl",
        ),
        pytest.param(
            acl(rule({"NotStatement": {"Statement": ref()}}, "Allow"), default="Allow"),
            False,
            id="excluded-from-allow-in-default-allow-acl",
        ),
        pytest.param(
            acl(rule({"RateBasedStatement": {"Limit": 100, "ScopeDownStatement": ref()}})),
            True,
            id="rate-based-scope-down",
        ),
        pytest.param(
            acl(
                rule(
                    {
                        "ManagedRuleGroupStatement": {
                            "Name": "AWSManagedRulesCommonRuleSet",
                            "ScopeDownStatement": ref(),
                        }
                    },
                    None,
                    OverrideAction={"None": {}},
                )
            ),
            True,
            id="managed-group-scope-down",
        ),
        pytest.param(
            acl(
                rule(
                    {
                        "ManagedRuleGroupStatement": {
                            "Name": "AWSManagedRulesCommonRuleSet",
                            "ScopeDownStatement": ref(),
                        }
                    },
                    None,
                    OverrideAction={"Count": {}},
                )
            ),
            False,
            id="managed-group-counted",
        ),
    ],
)
def test_web_acl_usage_follows_actions_and_negation(web_acl: dict[str, Any], blocks: bool) -> None:
    use = waf.web_acl_use(web_acl, IP_SET_ARN, no_groups)

    assert use is not None
    assert use.blocks is blocks


def test_web_acl_that_references_another_set_does_not_use_this_one() -> None:
    assert waf.web_acl_use(acl(rule(ref(OTHER_ARN))), IP_SET_ARN, no_groups) is None


@pytest.mark.parametrize(
    ("override", "action_overrides", "blocks"),
    [
        ({"None": {}}, [], True),
        ({"Count": {}}, [], False),
        ({"None": {}}, [{"Name": "g1", "ActionToUse": {"Count": {}}}], False),
    ],
    ids=["group-rule-blocks", "group-counted", "rule-action-overridden-to-count"],
)
def test_rule_groups_are_read_with_the_web_acls_overrides(
    override: dict[str, Any], action_overrides: list[dict[str, Any]], blocks: bool
) -> None:
    group_rule = {"Name": "g1", "Statement": ref(), "Action": {"Block": {}}}
    web_acl = acl(
        rule(
            {
                "RuleGroupReferenceStatement": {
                    "ARN": "arn:group",
                    "RuleActionOverrides": action_overrides,
                }
            },
            None,
            OverrideAction=override,
        )
    )

    use = waf.web_acl_use(
        web_acl, IP_SET_ARN, lambda arn: [group_rule] if arn == "arn:group" else []
    )

    assert use is not None
    assert use.blocks is blocks
    assert (use.blocking_rules or use.other_rules) == ("r1 > g1",)


def test_arn_round_trip() -> None:
    assert waf.parse_arn(IP_SET_ARN) == (
        "blocklist",
        "a1b2c3d4-5678-90ab-cdef-000000000601",
        "REGIONAL",
        "us-east-1",
    )
    with pytest.raises(ValueError, match="not an IP set"):
        waf.parse_arn("arn:aws:wafv2:us-east-1:1:regional/webacl/x/y")


def _classify_with_ipaddress(
    addresses: list[str], protected: tuple[waf.ProtectedNetwork, ...]
) -> tuple[tuple[waf.Hit, ...], tuple[waf.Hit, ...]]:
    """classify as ipaddress's subnet_of / supernet_of answer it (the reference)."""
    inside, covering = [], []
    for entry in addresses:
        network = waf.parse_network(entry)
        if network is None:
            continue
        same = [p for p in protected if p.network.version == network.version]
        holder = next((p for p in same if network.subnet_of(p.network)), None)  # type: ignore[arg-type]
        if holder is not None:
            inside.append(waf.Hit(entry, network, holder, inside=True))
            continue
        covered = next((p for p in same if network.supernet_of(p.network)), None)  # type: ignore[arg-type]
        if covered is not None:
            covering.append(waf.Hit(entry, network, covered, inside=False))
    return tuple(inside), tuple(covering)


def test_classify_compares_first_and_last_addresses_as_ipaddress_does() -> None:
    import random

    rng = random.Random(12)
    protected = tuple(
        waf.ProtectedNetwork(ipaddress.ip_network(text, strict=False), f"source {i}")
        for i, text in enumerate(
            ["203.0.113.10", "198.51.100.0/28", "2001:db8:10::a", "10.0.0.0/8", "203.0.113.0/30"]
        )
    )
    addresses = ["not an address", "", "203.0.113.10/32", "2001:DB8:10::A/128"]
    for _ in range(3000):
        if rng.random() < 0.7:
            base = rng.choice(["203.0.113.", "198.51.100.", "10.1.2.", "192.0.2."])
            addresses.append(f"{base}{rng.randrange(256)}/{rng.randrange(8, 33)}")
        else:
            addresses.append(
                f"2001:db8:{rng.randrange(0, 32):x}::{rng.randrange(16):x}/{rng.randrange(16, 129)}"
            )

    assert waf.classify(addresses, protected) == _classify_with_ipaddress(addresses, protected)
    assert waf.classify(addresses, protected[::-1]) == _classify_with_ipaddress(
        addresses, protected[::-1]
    )


def test_the_configured_networks_follow_the_settings_they_are_read_from() -> None:
    first = DetectionSettings(protected_ip_cidrs=(ipaddress.ip_network("203.0.113.10/32"),))
    second = DetectionSettings(protected_ip_cidrs=(ipaddress.ip_network("198.51.100.0/28"),))

    for _ in range(2):
        assert [p.cidr for p in waf.configured_networks(first)] == ["203.0.113.10/32"]
        assert [p.cidr for p in waf.configured_networks(second)] == ["198.51.100.0/28"]
        assert waf.configured_networks(first) == waf.configured_networks(
            DetectionSettings(protected_ip_cidrs=(ipaddress.ip_network("203.0.113.10"),))
        )


def test_an_entry_with_an_ipv6_scope_id_is_no_network() -> None:
    # WAF refuses scoped addresses; the integer comparison would ignore the scope.
    from trailwarden.workflows.waf_protected_ip.detection import parse_network

    assert parse_network("fe80::1%eth0/128") is None
    assert parse_network("fe80::1/128") is not None
