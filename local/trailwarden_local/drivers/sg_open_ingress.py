"""Demo driver for sg-open-ingress: a fresh VPC and group per scenario, opened as the
event says.

The scenario's ``setup`` lists the group's ingress rules before the call
(``{"ingress": [{"protocol", "from", "to", "source", "ruleId"?}]}``; a ``ruleId`` names
a rule the event refers to, e.g. the one ModifySecurityGroupRules changes). The driver
applies them, then makes the call the event records for real (AuthorizeSecurityGroupIngress
or ModifySecurityGroupRules; a failed call changes nothing), and rewrites the event to
the emulator's ids: the group, any referenced group, and the rule ids in the response
or request (matched to the rules moto created). ``read_state`` returns the group's
ingress as a sorted list of ``{"protocol", "from", "to", "source"}`` in the sample's
id space, so the index can state the expected end state.

moto gaps designed around: AuthorizeSecurityGroupIngress returns only the last
permission's rules (new ids are found by difference instead), protocols other than -1
need ports, and ModifySecurityGroupRules applies only ``CidrIpv4``.
"""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any

from trailwarden.models.sg_rules import (
    ALL_PROTOCOLS,
    IPV6,
    PREFIX_LIST,
    SECURITY_GROUP,
    IngressRule,
    parse_ip_permissions,
    parse_modify_request,
    parse_rule_set,
)
from trailwarden.workflows.sg_open_ingress.remediation import read_ingress
from trailwarden_local.drivers.base import Prepared, client, own_role_arn, rewrite_issuer

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample

_GROUP_ID = re.compile(r"\bsg-[0-9a-f]{8,17}\b")
_VPC_ID = re.compile(r"\bvpc-[0-9a-f]{8,17}\b")


class IdMap:
    """Sample ids <-> emulator ids, applied to whole JSON documents."""

    def __init__(self) -> None:
        self.to_emulator: dict[str, str] = {}

    def add(self, sample_id: str, emulator_id: str) -> None:
        self.to_emulator[sample_id] = emulator_id

    def rewrite(self, document: Any) -> Any:
        text = json.dumps(document)
        for old, new in self.to_emulator.items():
            text = text.replace(f'"{old}"', f'"{new}"')
        return json.loads(text)

    def back(self, value: str) -> str:
        for old, new in self.to_emulator.items():
            if value == new:
                return old
        return value


def sort_key(rule: Mapping[str, Any]) -> tuple[str, int, int, str]:
    low, high = rule.get("from"), rule.get("to")
    return (
        str(rule["protocol"]),
        low if isinstance(low, int) else -1,
        high if isinstance(high, int) else -1,
        str(rule["source"]),
    )


def summary(rules: Iterable[IngressRule], ids: IdMap) -> list[dict[str, Any]]:
    """Rules as the index states them: sorted, no rule ids, sample group ids."""
    out = [
        {"protocol": r.protocol, "from": r.from_port, "to": r.to_port, "source": ids.back(r.source)}
        for r in rules
    ]
    return sorted(out, key=sort_key)


def permission(rule: Mapping[str, Any] | IngressRule) -> dict[str, Any]:
    """One single-source IpPermission for the EC2 API (moto wants ports unless -1)."""
    if isinstance(rule, IngressRule):
        protocol, low, high, source = rule.protocol, rule.from_port, rule.to_port, rule.source
    else:
        protocol, low, high, source = rule["protocol"], rule["from"], rule["to"], rule["source"]
    out: dict[str, Any] = {"IpProtocol": str(protocol)}
    if str(protocol) != ALL_PROTOCOLS:
        out["FromPort"] = low if low is not None else -1
        out["ToPort"] = high if high is not None else -1
    if source.startswith("pl-"):
        out["PrefixListIds"] = [{"PrefixListId": source}]
    elif source.startswith("sg-"):
        out["UserIdGroupPairs"] = [{"GroupId": source}]
    elif ":" in source:
        out["Ipv6Ranges"] = [{"CidrIpv6": source}]
    else:
        out["IpRanges"] = [{"CidrIp": source}]
    return out


def authorize_one(ec2: Any, group_id: str, perm: Mapping[str, Any]) -> str:
    """Authorize one rule; its id, found by difference (moto's response lists only the
    last permission's rules)."""
    before = {r.rule_id for r in read_ingress(ec2, group_id)}
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[perm])
    (new,) = {r.rule_id for r in read_ingress(ec2, group_id)} - before
    return new


def new_vpc(ec2: Any, sample_event: Mapping[str, Any], ids: IdMap) -> str:
    vpc: str = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for sample_vpc in set(_VPC_ID.findall(json.dumps(sample_event))):
        ids.add(sample_vpc, vpc)
    return vpc


def new_groups(
    ec2: Any, vpc: str, sample_event: Mapping[str, Any], main: str, scenario: str, ids: IdMap
) -> str:
    """The scenario's group, plus one for every other group the event names."""
    group: str = ec2.create_security_group(
        GroupName=f"demo-{scenario}", Description=f"trailwarden demo {scenario}", VpcId=vpc
    )["GroupId"]
    ids.add(main, group)
    others = set(_GROUP_ID.findall(json.dumps(sample_event))) - {main}
    for n, other in enumerate(sorted(others)):
        peer = ec2.create_security_group(
            GroupName=f"demo-{scenario}-peer{n}", Description="peer", VpcId=vpc
        )["GroupId"]
        ids.add(other, str(peer))
    return group


def apply_setup(ec2: Any, group_id: str, rules: Iterable[Mapping[str, Any]], ids: IdMap) -> None:
    for rule in rules:
        new_id = authorize_one(ec2, group_id, ids.rewrite(permission(rule)))
        if rule.get("ruleId"):
            ids.add(str(rule["ruleId"]), new_id)


def _authorize_as_recorded(ec2: Any, group_id: str, detail: Mapping[str, Any], ids: IdMap) -> None:
    """Make the AuthorizeSecurityGroupIngress the event records; map its rule ids."""
    requested = parse_ip_permissions(detail.get("requestParameters") or {})
    before = {r.rule_id for r in read_ingress(ec2, group_id)}
    ec2.authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=[permission(r) for r in requested]
    )
    created = [r for r in read_ingress(ec2, group_id) if r.rule_id not in before]
    for recorded in parse_rule_set(detail.get("responseElements") or {}).rules:
        match = [r for r in created if r.same_permission(recorded)]
        if match:
            ids.add(recorded.rule_id, match[0].rule_id)


def _modify_as_recorded(ec2: Any, group_id: str, detail: Mapping[str, Any], ids: IdMap) -> None:
    _, rules = parse_modify_request(detail.get("requestParameters") or {})
    updates = []
    for rule in rules:
        spec: dict[str, Any] = {"IpProtocol": rule.protocol}
        spec["FromPort"] = rule.from_port if rule.from_port is not None else -1
        spec["ToPort"] = rule.to_port if rule.to_port is not None else -1
        key = {IPV6: "CidrIpv6", PREFIX_LIST: "PrefixListId", SECURITY_GROUP: "ReferencedGroupId"}
        spec[key.get(rule.source_type, "CidrIpv4")] = ids.to_emulator.get(rule.source, rule.source)
        updates.append(
            {"SecurityGroupRuleId": ids.to_emulator[rule.rule_id], "SecurityGroupRule": spec}
        )
    ec2.modify_security_group_rules(GroupId=group_id, SecurityGroupRules=updates)


def main_group(request: Mapping[str, Any]) -> str:
    modify = request.get("ModifySecurityGroupRulesRequest")
    if isinstance(modify, dict):
        return str(modify.get("GroupId", ""))
    return str(request.get("groupId", ""))


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    ec2 = client(app, "ec2")
    ids = IdMap()
    detail = sample.event["detail"]
    vpc = new_vpc(ec2, sample.event, ids)
    group = new_groups(
        ec2, vpc, sample.event, main_group(detail["requestParameters"]), sample.scenario, ids
    )
    apply_setup(ec2, group, sample.setup.get("ingress", []), ids)
    if not detail.get("errorCode"):  # a failed call changed nothing
        rewritten = ids.rewrite(detail)
        if detail["eventName"] == "ModifySecurityGroupRules":
            _modify_as_recorded(ec2, group, detail, ids)
        else:
            _authorize_as_recorded(ec2, group, rewritten, ids)
    event = ids.rewrite(copy.deepcopy(sample.event))  # now also knows the new rule ids
    if sample.own_role:
        rewrite_issuer(event, own_role_arn(app, "SgOpenIngressRemediateFunction"))
    return Prepared(
        event=event, read_state=lambda: {"ingress": summary(read_ingress(ec2, group), ids)}
    )
