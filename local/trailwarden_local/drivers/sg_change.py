"""Demo driver for sg-change: make the security-group call the event records, in the emulator.

``setup``: ``{"exists": false}`` for a group the call creates, otherwise the group's
``ingress`` (and optional ``egress``) rules before the call, as in the sg-open-ingress
driver. ``read_state`` returns ``{"exists", "ingress", "egress"}`` (sorted
``{"protocol", "from", "to", "source"}``, sample ids), copied field by field from
DescribeSecurityGroups / DescribeSecurityGroupRules.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import Prepared, client, items_of, own_role_arn, rewrite_issuer
from trailwarden_local.drivers.observe import rule_summary, security_group_rules
from trailwarden_local.drivers.sg_open_ingress import (
    IdMap,
    apply_setup,
    new_groups,
    new_vpc,
    permission,
    recorded_rules,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample


def read_group(ec2: Any, group_id: str, ids: IdMap) -> dict[str, Any]:
    try:
        ec2.describe_security_groups(GroupIds=[group_id])
    except ec2.exceptions.ClientError as err:
        if err.response["Error"]["Code"] != "InvalidGroup.NotFound":
            raise
        return {"exists": False, "ingress": [], "egress": []}
    items = security_group_rules(ec2, group_id)
    return {
        "exists": True,
        "ingress": rule_summary(items, egress=False, rename=ids.back),
        "egress": rule_summary(items, egress=True, rename=ids.back),
    }


def _call(ec2: Any, name: str, group: str, request: Mapping[str, Any], ids: IdMap) -> None:
    """The call the event records (request already in emulator ids)."""
    perms = [permission(r) for r in recorded_rules(request)]
    if name == "DeleteSecurityGroup":
        ec2.delete_security_group(GroupId=group)
    elif name == "RevokeSecurityGroupIngress":
        by_id = [i["securityGroupRuleId"] for i in items_of(request.get("securityGroupRuleIds"))]
        if by_id:
            ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=by_id)
        else:
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=perms)
    elif name == "AuthorizeSecurityGroupEgress":
        ec2.authorize_security_group_egress(GroupId=group, IpPermissions=perms)
    elif name == "RevokeSecurityGroupEgress":
        ec2.revoke_security_group_egress(GroupId=group, IpPermissions=perms)


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    ec2 = client(app, "ec2")
    ids = IdMap()
    detail = sample.event["detail"]
    name = detail["eventName"]
    request = detail.get("requestParameters") or {}
    response = detail.get("responseElements") or {}
    sample_group = str(request.get("groupId") or response.get("groupId") or "")
    vpc = new_vpc(ec2, sample.event, ids)
    failed = bool(detail.get("errorCode"))
    if name == "CreateSecurityGroup":
        if failed:
            raise ValueError("a failed CreateSecurityGroup has no group to show")
        group = str(
            ec2.create_security_group(
                GroupName=f"{request['groupName']}-{sample.scenario}",
                Description=str(request.get("groupDescription", "demo")),
                VpcId=vpc,
            )["GroupId"]
        )
        ids.add(sample_group, group)
    else:
        group = new_groups(ec2, vpc, sample.event, sample_group, sample.scenario, ids)
        apply_setup(ec2, group, sample.setup.get("ingress", []), ids)
        for rule in sample.setup.get("egress", []):
            ec2.authorize_security_group_egress(
                GroupId=group, IpPermissions=[ids.rewrite(permission(rule))]
            )
        if not failed:
            _call(ec2, name, group, ids.rewrite(request), ids)
    event = ids.rewrite(copy.deepcopy(sample.event))
    if sample.own_role:
        rewrite_issuer(event, own_role_arn(app, "SgOpenIngressRemediateFunction"))
    return Prepared(event=event, read_state=lambda: read_group(ec2, group, ids))
