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

``read_state`` copies DescribeSecurityGroupRules field by field
(``observe.rule_summary``); the recorded call is read from the event with the small
plain readers below (``recorded_rules``), never with the code under test.

moto gaps designed around: AuthorizeSecurityGroupIngress returns only the last
permission's rules (new ids are found by difference instead), protocols other than -1
need ports, ModifySecurityGroupRules applies only ``CidrIpv4``, and protocol ``58`` is
kept as a number (the rule is created as ``icmpv6``, the name the index expects).
"""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import Prepared, client, items_of, own_role_arn, rewrite_issuer
from trailwarden_local.drivers.observe import (
    rule_of,
    rule_summary,
    security_group_rules,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample

_GROUP_ID = re.compile(r"\bsg-[0-9a-f]{8,17}\b")
_VPC_ID = re.compile(r"\bvpc-[0-9a-f]{8,17}\b")
# CloudTrail may log a protocol by number; the rule is created under its name.
_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
# The fields of ModifySecurityGroupRules' ``SecurityGroupRule`` (EC2 API).
_MODIFY_FIELDS = (
    "IpProtocol",
    "FromPort",
    "ToPort",
    "CidrIpv4",
    "CidrIpv6",
    "PrefixListId",
    "ReferencedGroupId",
    "Description",
)


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


def ingress_state(ec2: Any, group_id: str, ids: IdMap) -> dict[str, Any]:
    """What the index states: the group's ingress, sorted, in the sample's ids."""
    items = security_group_rules(ec2, group_id)
    return {"ingress": rule_summary(items, egress=False, rename=ids.back)}


def protocol_name(value: Any) -> str:
    text = str(value).lower()
    return _PROTOCOL_NAMES.get(text, text)


def _port(value: Any) -> int:
    return -1 if value is None else int(value)  # logged as a number or a string


def permission(rule: Mapping[str, Any]) -> dict[str, Any]:
    """One single-source IpPermission for the EC2 API from ``{"protocol", "from", "to",
    "source"}`` (moto wants ports unless the protocol is -1)."""
    protocol, source = protocol_name(rule["protocol"]), str(rule["source"])
    out: dict[str, Any] = {"IpProtocol": protocol}
    if protocol != "-1":
        out["FromPort"] = _port(rule.get("from"))
        out["ToPort"] = _port(rule.get("to"))
    if source.startswith("pl-"):
        out["PrefixListIds"] = [{"PrefixListId": source}]
    elif source.startswith("sg-"):
        out["UserIdGroupPairs"] = [{"GroupId": source}]
    elif ":" in source:
        out["Ipv6Ranges"] = [{"CidrIpv6": source}]
    else:
        out["IpRanges"] = [{"CidrIp": source}]
    return out


def recorded_rules(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rules an Authorize/Revoke SecurityGroup Ingress/Egress request names, one per
    source, as ``{"protocol", "from", "to", "source"}``: the nested
    ``ipPermissions.items[]`` or the CLI's flat form (``cidrIp`` at the top level)."""
    rules: list[dict[str, Any]] = []
    for perm in items_of(request.get("ipPermissions")):
        sources = [r["cidrIp"] for r in items_of(perm.get("ipRanges"))]
        sources += [r["cidrIpv6"] for r in items_of(perm.get("ipv6Ranges"))]
        sources += [r["prefixListId"] for r in items_of(perm.get("prefixListIds"))]
        sources += [r["groupId"] for r in items_of(perm.get("groups"))]
        rules += [
            {
                "protocol": perm["ipProtocol"],
                "from": perm.get("fromPort"),
                "to": perm.get("toPort"),
                "source": source,
            }
            for source in sources
        ]
    if request.get("cidrIp"):
        rules.append(
            {
                "protocol": request["ipProtocol"],
                "from": request.get("fromPort"),
                "to": request.get("toPort"),
                "source": request["cidrIp"],
            }
        )
    return rules


def _same_rule_key(rule: Mapping[str, Any]) -> tuple[str, int, int, str]:
    return protocol_name(rule["protocol"]), _port(rule["from"]), _port(rule["to"]), rule["source"]


def _logged_rule(item: Mapping[str, Any]) -> dict[str, Any]:
    """One ``responseElements.securityGroupRuleSet.items[]`` entry (camelCase)."""
    referenced = item.get("referencedGroupInfo") or {}
    source = (
        item.get("cidrIpv4")
        or item.get("cidrIpv6")
        or item.get("prefixListId")
        or referenced.get("groupId", "")
    )
    return {
        "protocol": item["ipProtocol"],
        "from": item.get("fromPort"),
        "to": item.get("toPort"),
        "source": source,
    }


def _ingress_ids(ec2: Any, group_id: str) -> set[str]:
    items = security_group_rules(ec2, group_id)
    return {str(i["SecurityGroupRuleId"]) for i in items if not i.get("IsEgress")}


def authorize_one(ec2: Any, group_id: str, perm: Mapping[str, Any]) -> str:
    """Authorize one rule; its id, found by difference (moto's response lists only the
    last permission's rules)."""
    before = _ingress_ids(ec2, group_id)
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[perm])
    (new,) = _ingress_ids(ec2, group_id) - before
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
    """Make the AuthorizeSecurityGroupIngress the event records (``detail`` already in
    emulator ids) and map the rule ids its response lists to the rules moto created."""
    requested = recorded_rules(detail.get("requestParameters") or {})
    if not requested:
        raise ValueError("the sample's request names no rule the driver can replay")
    before = _ingress_ids(ec2, group_id)
    ec2.authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=[permission(r) for r in requested]
    )
    created = {
        _same_rule_key(rule_of(item)): str(item["SecurityGroupRuleId"])
        for item in security_group_rules(ec2, group_id)
        if not item.get("IsEgress") and item["SecurityGroupRuleId"] not in before
    }
    response = detail.get("responseElements") or {}
    for item in items_of(response.get("securityGroupRuleSet")):
        new_id = created.get(_same_rule_key(_logged_rule(item)))
        if new_id and not item.get("isEgress"):
            ids.add(str(item["securityGroupRuleId"]), new_id)


def _modify_as_recorded(ec2: Any, group_id: str, detail: Mapping[str, Any]) -> None:
    """Make the ModifySecurityGroupRules the event records (``detail`` in emulator ids)."""
    body = detail["requestParameters"]["ModifySecurityGroupRulesRequest"]
    logged = body["SecurityGroupRule"]  # one object, or a list when several changed
    updates = [
        {
            "SecurityGroupRuleId": update["SecurityGroupRuleId"],
            "SecurityGroupRule": {
                key: update["SecurityGroupRule"][key]
                for key in _MODIFY_FIELDS
                if key in update["SecurityGroupRule"]
            },
        }
        for update in (logged if isinstance(logged, list) else [logged])
    ]
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
            _modify_as_recorded(ec2, group, rewritten)
        else:
            _authorize_as_recorded(ec2, group, rewritten, ids)
    event = ids.rewrite(copy.deepcopy(sample.event))  # now also knows the new rule ids
    if sample.own_role:
        rewrite_issuer(event, own_role_arn(app, "SgOpenIngressRemediateFunction"))
    return Prepared(event=event, read_state=lambda: ingress_state(ec2, group, ids))
