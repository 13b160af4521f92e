"""sg-change: security-group changes the security team wants to see (info alerts).

CreateSecurityGroup, DeleteSecurityGroup, RevokeSecurityGroupIngress and both egress
calls. Openings of *ingress* (AuthorizeSecurityGroupIngress, ModifySecurityGroupRules)
belong to sg-open-ingress, which acts on the risky ones. Failed calls and the app's
own calls (its own revokes) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.models.sg_rules import parse_ip_permissions
from trailwarden.workflows.common import as_list, text_of
from trailwarden.workflows.sg_change import DECLARATION

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.settings import DetectionSettings

WORKFLOW = DECLARATION.id
_EVENTS = (
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "RevokeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupEgress",
)
TRIGGERS = frozenset(("ec2.amazonaws.com", name) for name in _EVENTS)
RESOURCE_TYPE = "AWS::EC2::SecurityGroup"

_VERB = {
    "RevokeSecurityGroupIngress": ("ingress revoked from", "from"),
    "AuthorizeSecurityGroupEgress": ("egress added to", "to"),
    "RevokeSecurityGroupEgress": ("egress revoked from", "to"),
}


def rule_ids(request: Mapping[str, Any]) -> list[str]:
    """``securityGroupRuleIds``: items of strings or of ``{"securityGroupRuleId": ...}``."""
    out = []
    for item in as_list(request.get("securityGroupRuleIds")):
        value = item.get("securityGroupRuleId") if isinstance(item, Mapping) else item
        if text_of(value):
            out.append(text_of(value))
    return out


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    request, response = event.request, event.response
    name = event.event_name
    group_id = text_of(request.get("groupId")) or text_of(response.get("groupId"))
    group_name = text_of(request.get("groupName"))
    group = group_id or group_name or "a security group"
    facts: dict[str, Any] = {"groupId": group_id, "groupName": group_name, "eventName": name}

    def found(reason: str) -> Detection:
        return Detection(
            WORKFLOW, Outcome.ALERT, Severity.INFO, reason, RESOURCE_TYPE, group_id, facts
        )

    if name == "CreateSecurityGroup":
        vpc = text_of(request.get("vpcId")) or "the default VPC"
        facts["vpcId"] = text_of(request.get("vpcId"))
        label = f"{group_name} ({group_id})" if group_name and group_id else group
        return found(f"security group {label} created in {vpc}")
    if name == "DeleteSecurityGroup":
        return found(f"security group {group} deleted")
    if name not in _VERB:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, f"{name} is not watched")
    verb, direction = _VERB[name]
    rules = parse_ip_permissions(request)
    ids = rule_ids(request)
    facts["rules"] = [r.to_dict() for r in rules]
    facts["ruleIds"] = ids
    what = [r.label(direction) for r in rules] + ids
    return found(f"{verb} {group}: {'; '.join(what) or 'rules not listed in the event'}")
