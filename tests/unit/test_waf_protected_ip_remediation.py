"""waf-protected-ip remediation and live lookups: moto for state, Stubber for exact calls."""

from __future__ import annotations

import copy
import ipaddress
import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from tests.conftest import load_event
from trailwarden.models.errors import (
    RemediationFailed,
    RemediationRefused,
    ResourceGone,
    TransientAwsError,
)
from trailwarden.models.events import parse_cloudtrail, parse_envelope
from trailwarden.models.findings import Outcome, Severity
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.waf_protected_ip import detection as waf
from trailwarden.workflows.waf_protected_ip import lookups, remediation

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-east-1"
NAT_IP = ipaddress.ip_network("203.0.113.10/32")
PROTECTED = (
    waf.ProtectedNetwork(NAT_IP, "NAT gateway nat-1"),
    waf.ProtectedNetwork(ipaddress.ip_network("2001:db8:10::a/128"), "ProtectedIpCidrs"),
)
NO_WAIT = remediation.LockRetry(attempts=4, base_seconds=0.0, sleep=lambda _s: None)
VISIBILITY = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"}


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def make_ip_set(
    addresses: list[str], *, version: str = "IPV4", description: str = "abusers"
) -> tuple[Any, str]:
    wafv2 = boto3.client("wafv2", region_name=REGION)
    summary = wafv2.create_ip_set(
        Name="blocklist",
        Scope="REGIONAL",
        IPAddressVersion=version,
        Addresses=addresses,
        Description=description,
    )["Summary"]
    return wafv2, summary["ARN"]


def addresses_of(wafv2: Any, arn: str) -> list[str]:
    name, ip_set_id, scope, _ = waf.parse_arn(arn)
    return list(wafv2.get_ip_set(Name=name, Scope=scope, Id=ip_set_id)["IPSet"]["Addresses"])


# ------------------------------------------------------------------ apply (moto)


def test_protected_entry_is_removed_and_everything_else_kept(aws: None) -> None:
    wafv2, arn = make_ip_set(["192.0.2.44/32", "203.0.113.10/32", "198.51.100.7/32"])

    result = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT)

    assert result.status == "remediated"
    assert addresses_of(wafv2, arn) == ["192.0.2.44/32", "198.51.100.7/32"]
    assert result.before["addressCount"] == 3
    assert result.before["protectedEntries"] == ["203.0.113.10/32"]
    assert result.after["addressCount"] == 2
    assert (result.after["removed"], result.after["added"]) == (["203.0.113.10/32"], [])
    name, ip_set_id, scope, _ = waf.parse_arn(arn)
    assert wafv2.get_ip_set(Name=name, Scope=scope, Id=ip_set_id)["IPSet"]["Description"] == (
        "abusers"
    )


def test_ipv6_entry_in_another_spelling_is_removed(aws: None) -> None:
    wafv2, arn = make_ip_set(["2001:DB8:10:0:0:0:0:A/128", "2001:db8:bad::/48"], version="IPV6")

    remediation.apply(wafv2, arn, PROTECTED, NO_WAIT)

    assert addresses_of(wafv2, arn) == ["2001:db8:bad::/48"]


def test_covering_cidr_outside_the_approved_plan_is_left_for_a_human(aws: None) -> None:
    wafv2, arn = make_ip_set(["203.0.113.0/24", "203.0.113.10/32"])

    result = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT)

    assert addresses_of(wafv2, arn) == ["203.0.113.0/24"]
    assert result.status == "remediated"
    assert any("203.0.113.0/24 covers protected 203.0.113.10/32" in n for n in result.notes)


NAT_24 = ipaddress.ip_network("203.0.113.0/24")
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


def test_approved_carve_out_unblocks_the_nat_ip_and_keeps_blocking_the_rest(aws: None) -> None:
    wafv2, arn = make_ip_set(["192.0.2.44/32", "203.0.113.0/24"])

    result = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT, carve_out=[NAT_24])

    now = addresses_of(wafv2, arn)
    assert now == ["192.0.2.44/32", *CARVED_24]
    blocked = [ipaddress.ip_network(a) for a in now]
    assert not any(ipaddress.ip_address("203.0.113.10") in n for n in blocked)
    others = [a for a in NAT_24 if str(a) != "203.0.113.10"]
    assert all(any(a in n for n in blocked) for a in others)
    assert result.status == "remediated"
    assert result.before == {
        "name": "blocklist",
        "id": result.before["id"],
        "scope": "REGIONAL",
        "addressCount": 2,
        "protectedEntries": ["203.0.113.0/24"],
    }
    assert result.after["removed"] == ["203.0.113.0/24"]
    assert result.after["added"] == CARVED_24
    assert result.after["addressCount"] == 9
    assert result.actions[0].params["CarveOut"][0]["add"] == CARVED_24


def test_exact_and_covering_entries_are_fixed_in_one_update(aws: None) -> None:
    wafv2, arn = make_ip_set(["203.0.113.10/32", "203.0.113.0/24", "192.0.2.44/32"])

    result = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT, carve_out=[NAT_24])

    assert addresses_of(wafv2, arn) == [*CARVED_24, "192.0.2.44/32"]
    assert result.after["removed"] == ["203.0.113.10/32", "203.0.113.0/24"]


def test_ipv6_covering_prefix_is_carved_around_the_protected_address(aws: None) -> None:
    wafv2, arn = make_ip_set(["2001:db8:10::/64", "2001:db8:bad::/48"], version="IPV6")
    covering = ipaddress.ip_network("2001:db8:10::/64")

    result = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT, carve_out=[covering])

    now = [ipaddress.ip_network(a) for a in addresses_of(wafv2, arn)]
    protected = ipaddress.ip_network("2001:db8:10::a/128")
    assert len(result.after["added"]) == 64
    assert not any(n.overlaps(protected) for n in now)
    carved = [n for n in now if n.subnet_of(covering)]
    assert sum(n.num_addresses for n in carved) == covering.num_addresses - 1
    assert ipaddress.ip_network("2001:db8:bad::/48") in now


def test_carve_out_applies_only_to_entries_still_in_the_set(aws: None) -> None:
    wafv2, arn = make_ip_set(["192.0.2.44/32"])  # someone removed the /24 meanwhile

    result = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT, carve_out=[NAT_24])

    assert result.status == "already-clean"
    assert addresses_of(wafv2, arn) == ["192.0.2.44/32"]


def filler(count: int) -> list[str]:
    return [f"10.{i // 256}.{i % 256}.1/32" for i in range(count)]


def test_approved_carve_out_that_would_now_pass_the_set_limit_is_refused_unchanged(
    aws: None,
) -> None:
    grown = [*filler(waf.MAX_IP_SET_ADDRESSES - 5), "203.0.113.0/24"]
    wafv2, arn = make_ip_set(grown)

    with pytest.raises(RemediationRefused, match="10,000 per IP set"):
        remediation.apply(wafv2, arn, PROTECTED, NO_WAIT, carve_out=[NAT_24])

    assert addresses_of(wafv2, arn) == grown


def test_exact_entry_is_still_removed_when_the_carve_out_is_refused(aws: None) -> None:
    grown = [*filler(waf.MAX_IP_SET_ADDRESSES - 4), "203.0.113.0/24", "203.0.113.10/32"]
    wafv2, arn = make_ip_set(grown)

    result = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT, carve_out=[NAT_24])

    assert result.status == "partially-remediated"
    assert addresses_of(wafv2, arn) == grown[:-1]
    assert any("10,000 per IP set" in n for n in result.notes)


def test_large_set_result_carries_counts_not_the_address_list(aws: None) -> None:
    wafv2, arn = make_ip_set([*filler(9_990), "203.0.113.0/24"])

    result = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT, carve_out=[NAT_24])

    assert result.after["addressCount"] == 9_998
    assert len(json.dumps(result.to_dict())) < 4_000


def test_only_a_wider_cidr_left_is_already_clean_with_a_note(aws: None) -> None:
    wafv2, arn = make_ip_set(["203.0.113.0/24"])

    result = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT)

    assert result.status == "already-clean"
    assert addresses_of(wafv2, arn) == ["203.0.113.0/24"]
    assert result.notes


def test_entry_already_gone_is_success_without_an_update(aws: None) -> None:
    wafv2, arn = make_ip_set(["192.0.2.44/32"])

    result = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT)

    assert result.status == "already-clean"
    assert result.actions == ()


def test_applying_twice_is_safe(aws: None) -> None:
    wafv2, arn = make_ip_set(["203.0.113.10/32"])

    first = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT)
    second = remediation.apply(wafv2, arn, PROTECTED, NO_WAIT)

    assert (first.status, second.status) == ("remediated", "already-clean")
    assert addresses_of(wafv2, arn) == []


def test_deleted_ip_set_is_resource_gone(aws: None) -> None:
    wafv2, arn = make_ip_set(["203.0.113.10/32"])
    name, ip_set_id, scope, _ = waf.parse_arn(arn)
    lock = wafv2.get_ip_set(Name=name, Scope=scope, Id=ip_set_id)["LockToken"]
    wafv2.delete_ip_set(Name=name, Scope=scope, Id=ip_set_id, LockToken=lock)

    with pytest.raises(ResourceGone):
        remediation.apply(wafv2, arn, PROTECTED, NO_WAIT)


# ------------------------------------------------------------------ apply (Stubber)

ARN = (
    "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/blocklist/"
    "a1b2c3d4-5678-90ab-cdef-000000000601"
)
KEY = {"Name": "blocklist", "Scope": "REGIONAL", "Id": "a1b2c3d4-5678-90ab-cdef-000000000601"}


def get_response(addresses: list[str], lock: str) -> dict[str, Any]:
    return {
        "IPSet": {
            "Name": KEY["Name"],
            "Id": KEY["Id"],
            "ARN": ARN,
            "Description": "abusers",
            "IPAddressVersion": "IPV4",
            "Addresses": addresses,
        },
        "LockToken": lock,
    }


def update_params(addresses: list[str], lock: str) -> dict[str, Any]:
    return {**KEY, "Addresses": addresses, "Description": "abusers", "LockToken": lock}


def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client("wafv2", region_name=REGION)
    return client, Stubber(client)


def test_lock_conflict_is_retried_with_a_fresh_token_and_succeeds() -> None:
    wafv2, stub = stubbed()
    stub.add_response("get_ip_set", get_response(["1.1.1.1/32", "203.0.113.10/32"], "t1"), KEY)
    stub.add_client_error(
        "update_ip_set",
        service_error_code="WAFOptimisticLockException",
        http_status_code=400,
        expected_params=update_params(["1.1.1.1/32"], "t1"),
    )
    # Someone else changed the set meanwhile: the retry keeps their change.
    stub.add_response(
        "get_ip_set", get_response(["1.1.1.1/32", "203.0.113.10/32", "2.2.2.2/32"], "t2"), KEY
    )
    stub.add_response(
        "update_ip_set",
        {"NextLockToken": "t3"},
        update_params(["1.1.1.1/32", "2.2.2.2/32"], "t2"),
    )
    stub.add_response("get_ip_set", get_response(["1.1.1.1/32", "2.2.2.2/32"], "t3"), KEY)
    pauses: list[float] = []
    retry = remediation.LockRetry(attempts=3, base_seconds=0.2, sleep=pauses.append)

    with stub:
        result = remediation.apply(wafv2, ARN, PROTECTED, retry)

    stub.assert_no_pending_responses()
    assert result.status == "remediated"
    assert result.after["addressCount"] == 2
    assert result.after["removed"] == ["203.0.113.10/32"]
    assert len(pauses) == 1
    assert 0 <= pauses[0] <= 0.2


def test_lock_conflicts_past_the_bound_raise_transient_for_a_later_retry() -> None:
    wafv2, stub = stubbed()
    for attempt in range(3):
        stub.add_response("get_ip_set", get_response(["203.0.113.10/32"], f"t{attempt}"), KEY)
        stub.add_client_error(
            "update_ip_set",
            service_error_code="WAFOptimisticLockException",
            http_status_code=400,
            expected_params=update_params([], f"t{attempt}"),
        )
    pauses: list[float] = []
    retry = remediation.LockRetry(
        attempts=3, base_seconds=0.1, max_seconds=0.3, sleep=pauses.append
    )

    with stub, pytest.raises(TransientAwsError):
        remediation.apply(wafv2, ARN, PROTECTED, retry)

    stub.assert_no_pending_responses()
    assert len(pauses) == 2
    assert all(0 <= p <= 0.3 for p in pauses)


def test_entry_still_there_after_the_update_is_a_failed_remediation() -> None:
    wafv2, stub = stubbed()
    stub.add_response("get_ip_set", get_response(["203.0.113.10/32"], "t1"), KEY)
    stub.add_response("update_ip_set", {"NextLockToken": "t2"}, update_params([], "t1"))
    stub.add_response("get_ip_set", get_response(["203.0.113.10/32"], "t2"), KEY)

    with stub, pytest.raises(RemediationFailed):
        remediation.apply(wafv2, ARN, PROTECTED, NO_WAIT)


def test_lock_conflict_during_a_carve_out_carves_the_fresh_list() -> None:
    wafv2, stub = stubbed()
    stub.add_response("get_ip_set", get_response(["203.0.113.0/24"], "t1"), KEY)
    stub.add_client_error(
        "update_ip_set",
        service_error_code="WAFOptimisticLockException",
        http_status_code=400,
        expected_params=update_params(CARVED_24, "t1"),
    )
    stub.add_response("get_ip_set", get_response(["9.9.9.9/32", "203.0.113.0/24"], "t2"), KEY)
    stub.add_response(
        "update_ip_set", {"NextLockToken": "t3"}, update_params(["9.9.9.9/32", *CARVED_24], "t2")
    )
    stub.add_response("get_ip_set", get_response(["9.9.9.9/32", *CARVED_24], "t3"), KEY)

    with stub:
        result = remediation.apply(wafv2, ARN, PROTECTED, NO_WAIT, carve_out=[NAT_24])

    stub.assert_no_pending_responses()
    assert result.status == "remediated"


def test_covering_entry_still_there_after_the_update_is_a_failed_remediation() -> None:
    wafv2, stub = stubbed()
    stub.add_response("get_ip_set", get_response(["203.0.113.0/24"], "t1"), KEY)
    stub.add_response("update_ip_set", {"NextLockToken": "t2"}, update_params(CARVED_24, "t1"))
    stub.add_response("get_ip_set", get_response(["203.0.113.0/24"], "t2"), KEY)

    with stub, pytest.raises(RemediationFailed, match="still covers"):
        remediation.apply(wafv2, ARN, PROTECTED, NO_WAIT, carve_out=[NAT_24])


def test_carve_out_that_lost_part_of_the_range_is_a_failed_remediation() -> None:
    wafv2, stub = stubbed()
    stub.add_response("get_ip_set", get_response(["203.0.113.0/24"], "t1"), KEY)
    stub.add_response("update_ip_set", {"NextLockToken": "t2"}, update_params(CARVED_24, "t1"))
    stub.add_response("get_ip_set", get_response(CARVED_24[:-1], "t2"), KEY)

    with stub, pytest.raises(RemediationFailed, match=r"no longer blocks 203\.0\.113\.128/25"):
        remediation.apply(wafv2, ARN, PROTECTED, NO_WAIT, carve_out=[NAT_24])


def test_description_is_not_sent_when_the_set_has_none() -> None:
    wafv2, stub = stubbed()
    bare = get_response(["203.0.113.10/32"], "t1")
    del bare["IPSet"]["Description"]
    stub.add_response("get_ip_set", bare, KEY)
    stub.add_response(
        "update_ip_set", {"NextLockToken": "t2"}, {**KEY, "Addresses": [], "LockToken": "t1"}
    )
    after = get_response([], "t2")
    stub.add_response("get_ip_set", after, KEY)

    with stub:
        assert remediation.apply(wafv2, ARN, PROTECTED, NO_WAIT).status == "remediated"


def test_remediate_uses_the_protected_networks_assess_saw_and_settings_retries(aws: None) -> None:
    wafv2, arn = make_ip_set(["203.0.113.10/32", "192.0.2.1/32"])
    facts = {"protected": [p.to_dict() for p in PROTECTED]}
    settings = DetectionSettings(lock_retry_attempts=2, lock_retry_base_seconds=0.0)

    result = remediation.remediate(arn, facts, lambda service, region: wafv2, settings)

    assert result.status == "remediated"
    assert addresses_of(wafv2, arn) == ["192.0.2.1/32"]


def test_remediate_carves_the_covering_entries_the_finding_planned(aws: None) -> None:
    wafv2, arn = make_ip_set(["203.0.113.0/24", "198.51.100.0/24"])
    facts = {
        "protected": [
            *(p.to_dict() for p in PROTECTED),
            {"cidr": "198.51.100.0/28", "source": "ProtectedIpCidrs"},
        ],
        "carveOut": [{"entry": "203.0.113.0/24", "network": "203.0.113.0/24"}],
    }
    settings = DetectionSettings(lock_retry_attempts=2, lock_retry_base_seconds=0.0)

    result = remediation.remediate(arn, facts, lambda service, region: wafv2, settings)

    assert addresses_of(wafv2, arn) == [*CARVED_24, "198.51.100.0/24"]
    assert any("198.51.100.0/24" in n and "approved" in n for n in result.notes)


# ------------------------------------------------------------------ plan


def test_plan_names_exact_entries_and_is_also_the_offline_dry_run() -> None:
    facts = {
        "protected": [p.to_dict() for p in PROTECTED],
        "inside": [{"entry": "203.0.113.10/32"}],
    }

    state = {"protectedEntries": ["203.0.113.10", "203.0.113.0/24"], "addressCount": 9}
    live = remediation.plan_for(ARN, facts, state)
    offline = remediation.plan_for(ARN, facts, None)

    assert [a.params["RemoveAddresses"] for a in live] == [["203.0.113.10"]]
    assert [c["add"] for c in live[0].params["CarveOut"]] == [CARVED_24]
    assert (live[0].params["AddressCount"], live[0].params["AddressCountAfter"]) == (9, 15)
    assert "replace 203.0.113.0/24 with 8 prefixes" in live[0].description
    assert [a.params["RemoveAddresses"] for a in offline] == [["203.0.113.10/32"]]
    assert live[0].action == "wafv2:UpdateIPSet"
    assert "NAT gateway nat-1" in live[0].description


def test_nothing_protected_in_the_live_set_plans_nothing() -> None:
    facts = {"protected": [p.to_dict() for p in PROTECTED]}

    state = {"protectedEntries": [], "addressCount": 1}

    assert remediation.plan_for(ARN, facts, state) == ()


# ------------------------------------------------------------------ Assess lookups


def seed_event(addresses: list[str], arn: str) -> Any:
    name, ip_set_id, _scope, _ = waf.parse_arn(arn)
    raw = copy.deepcopy(load_event("waf-protected-ip/nat-ip-blocked.json"))
    raw["detail"]["requestParameters"].update(
        {"addresses": addresses, "name": name, "id": ip_set_id}
    )
    return parse_cloudtrail(parse_envelope(raw))


def add_nat_gateway(ip: str) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc", Address=ip)["AllocationId"]
    return str(
        ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"][
            "NatGatewayId"
        ]
    )


def add_web_acl(wafv2: Any, arn: str, statement: dict[str, Any], action: str) -> None:
    wafv2.create_web_acl(
        Name=f"acl-{action.lower()}",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig=VISIBILITY,
        Rules=[
            {
                "Name": "ips",
                "Priority": 1,
                "Action": {action: {}},
                "Statement": statement,
                "VisibilityConfig": VISIBILITY,
            }
        ],
    )


def clients(service: str, region: str | None) -> Any:
    return boto3.client(service, region_name=region or REGION)


def test_nat_gateway_elastic_ip_is_found_live(aws: None) -> None:
    nat_id = add_nat_gateway("203.0.113.10")
    wafv2, arn = make_ip_set(["203.0.113.10/32"])
    add_web_acl(wafv2, arn, {"IPSetReferenceStatement": {"ARN": arn}}, "Block")

    detection = lookups.live_detect(
        seed_event(["203.0.113.10/32"], arn), DetectionSettings(), clients
    )

    assert (detection.outcome, detection.severity) == (Outcome.ACT, Severity.CRITICAL)
    assert f"NAT gateway {nat_id}" in detection.reason
    assert "acl-block" in detection.reason


def test_allow_list_use_only_alerts_at_lower_severity(aws: None) -> None:
    add_nat_gateway("203.0.113.10")
    wafv2, arn = make_ip_set(["203.0.113.10/32"])
    add_web_acl(wafv2, arn, {"IPSetReferenceStatement": {"ARN": arn}}, "Allow")

    detection = lookups.live_detect(
        seed_event(["203.0.113.10/32"], arn), DetectionSettings(), clients
    )

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.MEDIUM)
    assert "acl-allow" in detection.reason


def test_block_rule_exempting_the_set_with_not_does_not_count_as_blocking(aws: None) -> None:
    add_nat_gateway("203.0.113.10")
    wafv2, arn = make_ip_set(["203.0.113.10/32"])
    add_web_acl(
        wafv2,
        arn,
        {"NotStatement": {"Statement": {"IPSetReferenceStatement": {"ARN": arn}}}},
        "Block",
    )

    detection = lookups.live_detect(
        seed_event(["203.0.113.10/32"], arn), DetectionSettings(), clients
    )

    assert detection.outcome is Outcome.ALERT


class Failing:
    """A client whose every call fails as AWS would refuse it."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __getattr__(self, name: str) -> Any:
        def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, name)

        return fail


def test_failing_lookups_never_hide_a_configured_ip_and_assume_blocking() -> None:
    settings = DetectionSettings(protected_ip_cidrs=(NAT_IP,))

    detection = lookups.live_detect(
        seed_event(["203.0.113.10/32"], ARN), settings, lambda s, r: Failing("AccessDenied")
    )

    assert (detection.outcome, detection.severity) == (Outcome.ACT, Severity.CRITICAL)
    assert detection.facts["natLookupError"] == "AccessDenied"
    assert detection.facts["webAclUsage"] == "unknown"
    assert "assuming it blocks" in detection.reason


def test_no_web_acl_lookup_when_nothing_protected_is_touched() -> None:
    calls: list[str] = []

    class NoNatGateways:
        def get_paginator(self, _name: str) -> Any:
            return self

        def paginate(self, **_kwargs: Any) -> list[dict[str, Any]]:
            return [{"NatGateways": []}]

        def describe_nat_gateways(self, **_kwargs: Any) -> dict[str, Any]:
            return {"NatGateways": []}

    def factory(service: str, region: str | None) -> Any:
        calls.append(service)
        return NoNatGateways() if service == "ec2" else Failing("AccessDenied")

    detection = lookups.live_detect(
        seed_event(["203.0.113.12/32"], ARN),
        DetectionSettings(protected_ip_cidrs=(NAT_IP,)),
        factory,
    )

    assert detection.outcome is Outcome.IGNORE
    assert calls == ["ec2"]


def test_deleted_nat_gateways_are_not_protected(aws: None) -> None:
    nat_id = add_nat_gateway("203.0.113.10")
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.delete_nat_gateway(NatGatewayId=nat_id)

    found = lookups.nat_gateway_networks(ec2)

    assert found == ()


# ------------------------------------------------------------------ live state (Assess's "before")


def test_live_state_lists_only_the_entries_that_touch_a_nat_ip_found_live(aws: None) -> None:
    add_nat_gateway("203.0.113.10")
    _wafv2, arn = make_ip_set([*filler(3_000), "203.0.113.0/24", "198.51.100.3/32"])
    settings = DetectionSettings(protected_ip_cidrs=(ipaddress.ip_network("198.51.100.0/28"),))

    state = remediation.live_state(arn, clients, settings)

    assert state["addressCount"] == 3_002
    assert state["protectedEntries"] == ["203.0.113.0/24", "198.51.100.3/32"]
    assert "addresses" not in state
    assert len(json.dumps(state)) < 1_000


def test_plan_trusts_the_event_when_the_nat_lookup_failed_at_re_read() -> None:
    facts = {
        "protected": [p.to_dict() for p in PROTECTED],
        "carveOut": [{"entry": "203.0.113.0/24", "network": "203.0.113.0/24"}],
    }
    state = {"protectedEntries": [], "addressCount": 5, "natLookupError": "AccessDenied"}

    (action,) = remediation.plan_for(ARN, facts, state)

    assert action.params["CarveOut"][0]["add"] == CARVED_24
