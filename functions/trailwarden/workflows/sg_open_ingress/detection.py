"""sg-open-ingress: a security group was opened to the internet on a port that must not be.

Triggers: AuthorizeSecurityGroupIngress (nested or flat request) and
ModifySecurityGroupRules (PascalCase request; the rule ids are in it). For
AuthorizeSecurityGroupIngress the response's ``securityGroupRuleSet`` lists the rules
that were created with their ids, so it is preferred to the request when every item
can be read; otherwise the request is used and the remediation finds the rule ids
live (``DescribeSecurityGroupRules``). See :mod:`trailwarden.models.sg_rules` for the model
and for what "risky" means (ICMP included).

Groups listed in ExemptSecurityGroupIds get an info alert and are never remediated.
The exemption is a deployment parameter on purpose, never a tag: whoever can open a
port can usually tag the group too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.models.sg_rules import (
    IngressRule,
    is_risky,
    parse_ip_permissions,
    parse_modify_request,
    parse_rule_set,
    request_shape,
)
from trailwarden.workflows.common import text_of
from trailwarden.workflows.sg_open_ingress import DECLARATION

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.settings import DetectionSettings

WORKFLOW = DECLARATION.id
TRIGGERS = frozenset(
    {
        ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
        ("ec2.amazonaws.com", "ModifySecurityGroupRules"),
    }
)
RESOURCE_TYPE = "AWS::EC2::SecurityGroup"
_GROUP_ID = re.compile(r"sg-[0-9a-f]{8,17}")

# Remote administration and databases: world-open, these are a breach waiting to happen.
CRITICAL_PORTS = frozenset(
    {22, 23, 445, 1433, 1521, 2375, 2379, 3306, 3389, 5432, 5900, 6379, 9200, 11211, 27017}
)


def _severity(risky: list[IngressRule]) -> Severity:
    for rule in risky:
        reach = rule.port_range()
        if reach is None:
            continue
        low, high = reach
        if rule.all_ports or any(low <= port <= high for port in CRITICAL_PORTS):
            return Severity.CRITICAL
    return Severity.HIGH


def _change(event: CloudTrailEvent) -> tuple[str, str, str, list[IngressRule]]:
    """(group id, group name, request shape, rules the call added or changed).

    A group id that is not one (``sg-`` and hex) names no group: it is absent.
    """
    group_id, group_name, shape, rules = _parsed_change(event)
    return (group_id if _GROUP_ID.fullmatch(group_id) else ""), group_name, shape, rules


def _parsed_change(event: CloudTrailEvent) -> tuple[str, str, str, list[IngressRule]]:
    request = event.request
    if event.event_name == "ModifySecurityGroupRules":
        group_id, rules = parse_modify_request(request)
        return group_id, "", "modify", rules
    shape = request_shape(request)
    response = parse_rule_set(event.response)
    group_id = text_of(request.get("groupId")) or response.group_id
    group_name = text_of(request.get("groupName"))
    if response.complete:
        return group_id, group_name, shape, list(response.rules)
    return group_id, group_name, shape, parse_ip_permissions(request)


def _why_not_risky(rules: list[IngressRule], ports: str) -> str:
    world = [r for r in rules if r.world_open]
    if not world:
        return "no world-open source (private, single-address, prefix-list or group sources)"
    icmp = [r for r in world if r.port_range() is None]
    if len(icmp) == len(world):
        return "world-open ICMP only (ICMP has no ports)"
    if icmp:
        return f"world-open only on allowed public ports ({ports}) and ICMP"
    return f"world-open only on allowed public ports ({ports})"


def _ids_from(shape: str, rules: list[IngressRule]) -> str:
    if shape == "modify":
        return "request"
    return "response" if all(r.rule_id for r in rules) else "live lookup"


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    group_id, group_name, shape, rules = _change(event)
    group = group_id or group_name
    if not group:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, "no security group in the event")
    if not rules:
        return Detection(
            WORKFLOW,
            Outcome.IGNORE,
            Severity.INFO,
            f"no ingress rule readable in the {shape} request",
        )
    allowed = settings.allowed_public_ports
    risky = [r for r in rules if is_risky(r, allowed)]
    facts: dict[str, Any] = {
        "groupId": group_id,
        "groupName": group_name,
        "requestShape": shape,
        # where the remediation gets the rule ids: the event, or a live lookup by match
        "ruleIdsFrom": _ids_from(shape, rules),
        "rules": [r.to_dict() for r in rules],
        "riskyRules": [r.to_dict() for r in risky],
        "allowedPublicPorts": sorted(allowed),
        "exempt": group_id in settings.exempt_security_group_ids,
    }

    def found(outcome: Outcome, severity: Severity, reason: str) -> Detection:
        return Detection(WORKFLOW, outcome, severity, reason, RESOURCE_TYPE, group_id, facts)

    ports = ", ".join(str(p) for p in sorted(allowed)) or "none"
    if not risky:
        return found(Outcome.IGNORE, Severity.INFO, _why_not_risky(rules, ports))
    opened = "; ".join(r.label() for r in risky)
    reason = f"{group} opened to the internet: {opened} (allowed public ports: {ports})"
    if facts["exempt"]:
        return found(
            Outcome.ALERT, Severity.INFO, f"{reason}; group is exempt (ExemptSecurityGroupIds)"
        )
    if not group_id:
        return found(
            Outcome.ALERT,
            _severity(risky),
            f"{reason}; the event names no group id, so it cannot be remediated",
        )
    return found(Outcome.ACT, _severity(risky), reason)
