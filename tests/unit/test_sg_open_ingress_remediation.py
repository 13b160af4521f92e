"""sg-open-ingress remediation: moto's EC2 for state, botocore's Stubber for exact requests
and errors, and a property-style check that nothing outside the risky change is removed."""

from __future__ import annotations

import copy
import random
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.conftest import load_event
from trailwarden.logic.assess import assess
from trailwarden.logic.remediate import remediate
from trailwarden.models.errors import RemediationFailed, RemediationRefused, TransientAwsError
from trailwarden.models.findings import Verdict
from trailwarden.models.settings import DetectionSettings
from trailwarden.models.sg_rules import IPV4, IPV6, IngressRule, is_risky, normalize_protocol
from trailwarden.workflows.registry import BY_ID
from trailwarden.workflows.sg_open_ingress import remediation as sg_open_ingress

if TYPE_CHECKING:
    from collections.abc import Iterator

ALLOWED = frozenset({80, 443})
OFFICE = {
    "IpProtocol": "tcp",
    "FromPort": 22,
    "ToPort": 22,
    "IpRanges": [{"CidrIp": "203.0.113.10/32"}],
}
HTTPS = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
SSH_WORLD = {
    "IpProtocol": "tcp",
    "FromPort": 22,
    "ToPort": 22,
    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
}


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def new_group(ec2: Any) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"])


def rule_ids(ec2: Any, group_id: str) -> set[str]:
    return {r.rule_id for r in sg_open_ingress.read_ingress(ec2, group_id)}


def authorize(ec2: Any, group_id: str, permission: dict[str, Any]) -> str:
    """Add one single-source rule and return its id (found by difference: moto's response
    lists only the last permission's rules)."""
    before = rule_ids(ec2, group_id)
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[permission])
    (new,) = rule_ids(ec2, group_id) - before
    return new


def ingress(ec2: Any, group_id: str) -> list[tuple[str, Any, Any, str]]:
    return sorted(
        (r.protocol, r.from_port, r.to_port, r.source)
        for r in sg_open_ingress.read_ingress(ec2, group_id)
    )


def change(*rules: tuple[str, Any, Any, str, str]) -> list[IngressRule]:
    return [
        IngressRule(p, lo, hi, src, IPV6 if ":" in src else IPV4, rid)
        for p, lo, hi, src, rid in rules
    ]


def test_world_open_ssh_is_revoked_and_every_other_rule_stays(ec2: Any) -> None:
    group = new_group(ec2)
    authorize(ec2, group, OFFICE)
    authorize(ec2, group, HTTPS)
    ssh = authorize(ec2, group, SSH_WORLD)

    result = sg_open_ingress.apply(ec2, group, change(("tcp", 22, 22, "0.0.0.0/0", ssh)), ALLOWED)

    assert result.status == "remediated"
    assert ingress(ec2, group) == [
        ("tcp", 22, 22, "203.0.113.10/32"),
        ("tcp", 443, 443, "0.0.0.0/0"),
    ]
    assert ssh in {r["ruleId"] for r in result.before["ingress"]}
    assert ssh not in {r["ruleId"] for r in result.after["ingress"]}
    (action,) = result.actions
    assert action.params == {"GroupId": group, "SecurityGroupRuleIds": [ssh]}


def test_rule_without_an_id_is_found_live_by_exact_match_only(ec2: Any) -> None:
    group = new_group(ec2)
    authorize(ec2, group, OFFICE)
    authorize(ec2, group, {**SSH_WORLD, "FromPort": 22, "ToPort": 23})  # risky, not the change
    authorize(ec2, group, {**SSH_WORLD, "IpRanges": [{"CidrIp": "0.0.0.0/1"}]})  # ditto
    authorize(ec2, group, {"IpProtocol": "6", "FromPort": 5432, "ToPort": 5432, **_world()})

    result = sg_open_ingress.apply(
        ec2, group, change(("tcp", 5432, 5432, "0.0.0.0/0", "")), ALLOWED
    )

    assert result.status == "remediated"
    assert ingress(ec2, group) == sorted(
        [
            ("tcp", 22, 22, "203.0.113.10/32"),
            ("tcp", 22, 23, "0.0.0.0/0"),
            ("tcp", 22, 22, "0.0.0.0/1"),
        ]
    )


def _world() -> dict[str, Any]:
    return {"IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def test_rule_widened_by_modify_is_revoked_by_the_id_in_the_request(ec2: Any) -> None:
    group = new_group(ec2)
    office = authorize(ec2, group, OFFICE)
    authorize(ec2, group, HTTPS)
    ec2.modify_security_group_rules(
        GroupId=group,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": office,
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "CidrIpv4": "0.0.0.0/0",
                },
            }
        ],
    )

    result = sg_open_ingress.apply(
        ec2, group, change(("tcp", 22, 22, "0.0.0.0/0", office)), ALLOWED
    )

    assert result.status == "remediated"
    assert ingress(ec2, group) == [("tcp", 443, 443, "0.0.0.0/0")]


def test_rule_narrowed_since_the_event_is_left_alone(ec2: Any) -> None:
    group = new_group(ec2)
    ssh = authorize(ec2, group, SSH_WORLD)
    ec2.modify_security_group_rules(
        GroupId=group,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": ssh,
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "CidrIpv4": "203.0.113.10/32",
                },
            }
        ],
    )

    result = sg_open_ingress.apply(ec2, group, change(("tcp", 22, 22, "0.0.0.0/0", ssh)), ALLOWED)

    assert result.status == "already-clean"
    assert ingress(ec2, group) == [("tcp", 22, 22, "203.0.113.10/32")]


def test_rule_already_gone_is_success_without_a_revoke(ec2: Any) -> None:
    group = new_group(ec2)
    authorize(ec2, group, OFFICE)

    result = sg_open_ingress.apply(
        ec2, group, change(("tcp", 22, 22, "0.0.0.0/0", "sgr-0123456789abcdef0")), ALLOWED
    )

    assert (result.status, result.actions) == ("already-clean", ())
    assert ingress(ec2, group) == [("tcp", 22, 22, "203.0.113.10/32")]


def test_applying_twice_is_safe(ec2: Any) -> None:
    group = new_group(ec2)
    ssh = authorize(ec2, group, SSH_WORLD)
    risky = change(("tcp", 22, 22, "0.0.0.0/0", ssh))

    first = sg_open_ingress.apply(ec2, group, risky, ALLOWED)
    second = sg_open_ingress.apply(ec2, group, risky, ALLOWED)

    assert (first.status, second.status) == ("remediated", "already-clean")


def test_deleted_group_is_already_clean(ec2: Any) -> None:
    group = new_group(ec2)
    ssh = authorize(ec2, group, SSH_WORLD)
    ec2.delete_security_group(GroupId=group)

    result = sg_open_ingress.apply(ec2, group, change(("tcp", 22, 22, "0.0.0.0/0", ssh)), ALLOWED)

    assert result.status == "already-clean"


def test_egress_rule_named_by_a_modify_is_never_touched(ec2: Any) -> None:
    group = new_group(ec2)
    egress = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    (egress_id,) = [r["SecurityGroupRuleId"] for r in egress["SecurityGroupRules"] if r["IsEgress"]]

    result = sg_open_ingress.apply(
        ec2, group, change(("-1", None, None, "0.0.0.0/0", egress_id)), ALLOWED
    )

    assert result.status == "already-clean"
    after = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    assert egress_id in {r["SecurityGroupRuleId"] for r in after["SecurityGroupRules"]}


def test_exempt_group_is_refused_even_if_asked(ec2: Any) -> None:
    group = new_group(ec2)
    ssh = authorize(ec2, group, SSH_WORLD)
    facts = {"riskyRules": [r.to_dict() for r in change(("tcp", 22, 22, "0.0.0.0/0", ssh))]}

    with pytest.raises(RemediationRefused):
        sg_open_ingress.remediate(
            group, facts, "us-east-1", lambda _s, _r: ec2, ALLOWED, frozenset({group})
        )

    assert ssh in rule_ids(ec2, group)


def test_plan_from_live_state_is_exactly_the_risky_rule_ids() -> None:
    live = change(
        ("tcp", 22, 22, "0.0.0.0/0", "sgr-1"),
        ("tcp", 22, 22, "203.0.113.10/32", "sgr-2"),
        ("tcp", 443, 443, "0.0.0.0/0", "sgr-3"),
        ("tcp", 3389, 3389, "::/0", "sgr-4"),  # risky but not part of the change
    )
    risky = change(("tcp", 22, 22, "0.0.0.0/0", "sgr-1"), ("tcp", 443, 443, "0.0.0.0/0", "sgr-3"))

    (action,) = sg_open_ingress.plan("sg-1", risky, live, ALLOWED)

    assert action.action == "ec2:RevokeSecurityGroupIngress"
    assert action.params == {"GroupId": "sg-1", "SecurityGroupRuleIds": ["sgr-1"]}


def test_offline_plan_is_the_dry_run_from_the_event_alone() -> None:
    facts = {
        "riskyRules": [
            r.to_dict()
            for r in change(
                ("-1", None, None, "0.0.0.0/0", "sgr-1"), ("tcp", 5432, 5432, "::/0", "")
            )
        ]
    }

    by_id, lookup = sg_open_ingress.plan_for("sg-1", facts, None, ALLOWED)

    assert by_id.params == {"GroupId": "sg-1", "SecurityGroupRuleIds": ["sgr-1"]}
    assert "all traffic from 0.0.0.0/0" in by_id.description
    assert lookup.params["match"][0]["source"] == "::/0"
    assert "looked up" in lookup.description


def test_nothing_risky_plans_nothing() -> None:
    facts: dict[str, Any] = {"riskyRules": []}
    state = {"groupId": "sg-1", "ingress": []}

    assert sg_open_ingress.plan_for("sg-1", facts, state, ALLOWED) == ()
    assert sg_open_ingress.plan_for("sg-1", facts, None, ALLOWED) == ()


# --- exact requests and AWS errors (Stubber) -----------------------------------------

GROUP = "sg-0123456789abcdef0"
FILTER = {"Filters": [{"Name": "group-id", "Values": [GROUP]}]}


def api_rule(rule_id: str, cidr: str = "0.0.0.0/0", port: int = 22) -> dict[str, Any]:
    return {
        "SecurityGroupRuleId": rule_id,
        "GroupId": GROUP,
        "IsEgress": False,
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "CidrIpv4": cidr,
    }


def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client("ec2", region_name="us-east-1")
    return client, Stubber(client)


def test_invalid_permission_not_found_on_revoke_is_success() -> None:
    client, stub = stubbed()
    ssh = change(("tcp", 22, 22, "0.0.0.0/0", "sgr-1"))
    stub.add_response(
        "describe_security_group_rules", {"SecurityGroupRules": [api_rule("sgr-1")]}, FILTER
    )
    stub.add_client_error(
        "revoke_security_group_ingress",
        "InvalidPermission.NotFound",
        expected_params={"GroupId": GROUP, "SecurityGroupRuleIds": ["sgr-1"]},
    )
    stub.add_response("describe_security_group_rules", {"SecurityGroupRules": []}, FILTER)
    stub.add_response("describe_security_group_rules", {"SecurityGroupRules": []}, FILTER)

    with stub:
        result = sg_open_ingress.apply(client, GROUP, ssh, ALLOWED)

    assert result.status == "already-clean"
    stub.assert_no_pending_responses()


def test_revoke_race_retries_only_what_is_still_there() -> None:
    client, stub = stubbed()
    risky = change(("tcp", 22, 22, "0.0.0.0/0", "sgr-1"), ("tcp", 23, 23, "0.0.0.0/0", "sgr-2"))
    office = api_rule("sgr-9", "203.0.113.10/32")
    both = [api_rule("sgr-1"), api_rule("sgr-2", port=23), office]
    stub.add_response("describe_security_group_rules", {"SecurityGroupRules": both}, FILTER)
    stub.add_client_error(
        "revoke_security_group_ingress",
        "InvalidPermission.NotFound",
        expected_params={"GroupId": GROUP, "SecurityGroupRuleIds": ["sgr-1", "sgr-2"]},
    )
    rest = [api_rule("sgr-2", port=23), office]
    stub.add_response("describe_security_group_rules", {"SecurityGroupRules": rest}, FILTER)
    stub.add_response(
        "revoke_security_group_ingress",
        {"Return": True},
        {"GroupId": GROUP, "SecurityGroupRuleIds": ["sgr-2"]},
    )
    stub.add_response("describe_security_group_rules", {"SecurityGroupRules": [office]}, FILTER)

    with stub:
        result = sg_open_ingress.apply(client, GROUP, risky, ALLOWED)

    assert result.status == "remediated"
    assert [a.params["SecurityGroupRuleIds"] for a in result.actions] == [["sgr-2"]]
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    "operation", ["describe_security_group_rules", "revoke_security_group_ingress"]
)
def test_throttling_raises_transient_error(operation: str) -> None:
    client, stub = stubbed()
    if operation == "revoke_security_group_ingress":
        stub.add_response(
            "describe_security_group_rules", {"SecurityGroupRules": [api_rule("sgr-1")]}, FILTER
        )
    stub.add_client_error(operation, "RequestLimitExceeded", http_status_code=503)

    with stub, pytest.raises(TransientAwsError):
        sg_open_ingress.apply(client, GROUP, change(("tcp", 22, 22, "0.0.0.0/0", "sgr-1")), ALLOWED)


def test_rule_still_listed_after_revoke_fails_verification() -> None:
    client, stub = stubbed()
    listed = {"SecurityGroupRules": [api_rule("sgr-1")]}
    stub.add_response("describe_security_group_rules", listed, FILTER)
    stub.add_response("revoke_security_group_ingress", {"Return": True})
    stub.add_response("describe_security_group_rules", listed, FILTER)

    with stub, pytest.raises(RemediationFailed):
        sg_open_ingress.apply(client, GROUP, change(("tcp", 22, 22, "0.0.0.0/0", "sgr-1")), ALLOWED)


def test_every_page_of_rules_is_read() -> None:
    client, stub = stubbed()
    stub.add_response(
        "describe_security_group_rules",
        {"SecurityGroupRules": [api_rule("sgr-1")], "NextToken": "t"},
        FILTER,
    )
    stub.add_response(
        "describe_security_group_rules",
        {"SecurityGroupRules": [api_rule("sgr-2", port=23)]},
        {**FILTER, "NextToken": "t"},
    )

    with stub:
        rules = sg_open_ingress.read_ingress(client, GROUP)

    assert [r.rule_id for r in rules] == ["sgr-1", "sgr-2"]


# --- property: never remove a rule outside the risky change --------------------------

PROTOCOLS = ["tcp", "udp", "icmp", "-1", "58"]
SOURCES = ["0.0.0.0/0", "0.0.0.0/4", "10.0.0.0/8", "203.0.113.10/32", "::/0", "2001:db8::/32"]


def random_permission(rng: random.Random) -> dict[str, Any]:
    protocol = rng.choice(PROTOCOLS)
    source = rng.choice(SOURCES)
    low = rng.choice([22, 80, 443, 3389, 5432, 0])
    high = rng.choice([low, low + 1, 443, 65535]) if protocol in ("tcp", "udp") else low
    if protocol in ("icmp", "58", "-1"):
        low, high = -1, -1
    key = "Ipv6Ranges" if ":" in source else "IpRanges"
    field = "CidrIpv6" if ":" in source else "CidrIp"
    return {
        "IpProtocol": protocol,
        "FromPort": low,
        "ToPort": max(low, high),
        key: [{field: source}],
    }


def random_rule(rng: random.Random, rule_id: str) -> IngressRule:
    permission = random_permission(rng)
    (source,) = [
        r.get("CidrIp") or r.get("CidrIpv6")
        for k in ("IpRanges", "Ipv6Ranges")
        for r in permission.get(k, [])
    ]
    return IngressRule(
        normalize_protocol(permission["IpProtocol"]),
        permission["FromPort"],
        permission["ToPort"],
        source,
        IPV6 if ":" in source else IPV4,
        rule_id,
    )


def test_plan_never_selects_a_rule_outside_the_risky_change() -> None:
    rng = random.Random(7)
    for _ in range(500):
        live = [random_rule(rng, f"sgr-{n}") for n in range(rng.randint(0, 10))]
        event = rng.sample(live, rng.randint(0, len(live)))
        event = [r if rng.random() < 0.5 else replace(r, rule_id="") for r in event]
        event += [random_rule(rng, "sgr-gone") for _ in range(rng.randint(0, 2))]

        chosen = sg_open_ingress.select(event, live, ALLOWED)

        for rule in chosen:
            assert rule in live
            assert is_risky(rule, ALLOWED)
            assert any(
                rule.rule_id == e.rule_id or (not e.rule_id and rule.same_permission(e))
                for e in event
            )


def test_remediation_never_removes_a_rule_outside_the_risky_change(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for seed in range(30):
        rng = random.Random(seed)
        group = ec2.create_security_group(GroupName=f"g{seed}", Description="p", VpcId=vpc)
        group_id = group["GroupId"]
        ids: list[str] = []
        for _ in range(rng.randint(1, 8)):
            try:
                ids.append(authorize(ec2, group_id, random_permission(rng)))
            except ec2.exceptions.ClientError:
                continue  # duplicate rule: EC2 refuses it too
        before = {r.rule_id: r for r in sg_open_ingress.read_ingress(ec2, group_id)}
        # The "event": a random subset of the rules, some by id and some by match only.
        picked = rng.sample(ids, rng.randint(0, len(ids)))
        event_rules = [
            before[i] if rng.random() < 0.5 else replace(before[i], rule_id="") for i in picked
        ]
        risky_change = [r for r in event_rules if is_risky(r, ALLOWED)]

        sg_open_ingress.apply(ec2, group_id, risky_change, ALLOWED)

        after = {r.rule_id for r in sg_open_ingress.read_ingress(ec2, group_id)}
        removed = set(before) - after
        should_go = {i for i in picked if is_risky(before[i], ALLOWED)}
        assert removed == should_go, f"seed {seed}"  # exactly the risky rules of the change
        assert after <= set(before), f"seed {seed}"  # nothing was added or widened


# --- through the generic Assess and Remediate steps ----------------------------------


class _AlwaysNewStore:
    def claim(self, event_id: str, workflow: str) -> bool:
        return True


def test_assess_then_remediate_revokes_only_what_the_event_added(ec2: Any) -> None:
    group = new_group(ec2)
    authorize(ec2, group, OFFICE)
    extra_ssh = authorize(ec2, group, {**SSH_WORLD, "IpRanges": [{"CidrIp": "0.0.0.0/2"}]})
    ssh = authorize(ec2, group, SSH_WORLD)
    event = copy.deepcopy(load_event("sg-open-ingress/ssh-world-nested.json"))
    event["detail"]["requestParameters"]["groupId"] = group
    (item,) = event["detail"]["responseElements"]["securityGroupRuleSet"]["items"]
    item.update(groupId=group, securityGroupRuleId=ssh)
    workflow, settings = BY_ID["sg-open-ingress"], DetectionSettings()

    def clients(_service: str, _region: str | None) -> Any:
        return ec2

    finding = assess(event, workflow, settings, clients, _AlwaysNewStore())  # type: ignore[arg-type]
    result = remediate(finding, workflow, settings, clients)

    assert finding.verdict is Verdict.REMEDIATE
    assert [a.params for a in finding.plan] == [{"GroupId": group, "SecurityGroupRuleIds": [ssh]}]
    assert result.status == "remediated"
    assert rule_ids(ec2, group) >= {extra_ssh}  # risky too, but not part of this event
    assert ssh not in rule_ids(ec2, group)
