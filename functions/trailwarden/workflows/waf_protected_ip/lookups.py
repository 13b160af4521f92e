"""waf-protected-ip: the live lookups Assess makes before it decides.

Two pieces of live state the pure detection cannot know: the Elastic IPs of the
account's NAT gateways (in the app's region) and which web ACLs use the IP set in a
blocking rule. A failing lookup never hides anything: the configured
``ProtectedIpCidrs`` still count, an address list that could not be cleared against the
NAT IPs is a HIGH alert, and an unknown usage is treated as blocking. Their IAM grants
are ``ASSESS_GRANTS`` below (the Assess function's).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from trailwarden.dal.aws_errors import error_code, translate
from trailwarden.models.errors import TransientAwsError
from trailwarden.models.findings import Outcome
from trailwarden.workflows.declaration import ANY_RESOURCE, Grant, actions_of, sub
from trailwarden.workflows.waf_protected_ip import detection as waf

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aws_lambda_powertools import Logger

    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.findings import Detection
    from trailwarden.models.settings import DetectionSettings
    from trailwarden.workflows.base import ClientFactory


@cache
def _logger() -> Logger:
    """This module's Powertools child logger, made on first use: replay never logs here,
    and importing Powertools is ~20 ms of its start-up."""
    from aws_lambda_powertools import Logger

    return Logger(child=True)


# What Assess's lookups call: template.yaml grants exactly these (make template), and the
# workflow tests compare them with the calls made.
_WAF = "arn:${AWS::Partition}:wafv2:"
REGIONAL_ARNS = _WAF + "${AWS::Region}:${AWS::AccountId}:regional/"
GLOBAL_ARNS = _WAF + "us-east-1:${AWS::AccountId}:global/"  # CLOUDFRONT scope: us-east-1
ASSESS_GRANTS = (
    Grant(
        ("ec2:DescribeNatGateways", "wafv2:ListWebACLs"),
        ANY_RESOURCE,
        "Describe*/List* have no resource-level permissions",
    ),
    Grant(
        ("wafv2:GetWebACL", "wafv2:GetRuleGroup", "wafv2:GetIPSet"),
        tuple(
            sub(f"{prefix}{kind}/*/*")
            for prefix in (REGIONAL_ARNS, GLOBAL_ARNS)
            for kind in ("webacl", "rulegroup", "ipset")
        ),
    ),
)
ASSESS_ACTIONS = actions_of(ASSESS_GRANTS)
LOOKUP_ACTIONS = ASSESS_ACTIONS - {"wafv2:GetIPSet"}

_NAT_STATES = frozenset({"pending", "available"})
GONE_CODES = frozenset({"WAFNonexistentItemException"})


@dataclass(frozen=True)
class IpSet:
    arn: str
    name: str
    id: str
    scope: str
    addresses: tuple[str, ...]
    description: str
    lock_token: str

    def summary(self, protected: Sequence[waf.ProtectedNetwork]) -> dict[str, Any]:
        """What travels through the state machine: a count and the entries that touch a
        protected network, never the whole list (a set holds up to 10,000 entries)."""
        inside, covering = waf.classify(self.addresses, protected)
        hits = {h.entry for h in (*inside, *covering)}
        touching = [a for a in self.addresses if a in hits]
        raw: dict[str, Any] = {
            "name": self.name,
            "id": self.id,
            "scope": self.scope,
            "addressCount": len(self.addresses),
            "protectedEntries": waf.listed(touching),
        }
        if len(touching) > waf.MAX_LISTED_ENTRIES:
            raw["protectedEntryCount"] = len(touching)
        return raw


def read_ip_set(wafv2: Any, arn: str) -> IpSet:
    from botocore.exceptions import ClientError  # boto only when calling AWS

    name, ip_set_id, scope, _region = waf.parse_arn(arn)
    try:
        resp = wafv2.get_ip_set(Name=name, Scope=scope, Id=ip_set_id)
    except ClientError as err:
        raise translate(err, gone_codes=GONE_CODES) from err
    body = resp.get("IPSet", {})
    return IpSet(
        arn=arn,
        name=name,
        id=ip_set_id,
        scope=scope,
        addresses=tuple(body.get("Addresses", [])),
        description=str(body.get("Description") or ""),
        lock_token=str(resp.get("LockToken", "")),
    )


def nat_gateway_networks(ec2: Any) -> tuple[waf.ProtectedNetwork, ...]:
    """The public IPs of the region's pending/available NAT gateways, as /32 or /128."""
    found: list[waf.ProtectedNetwork] = []
    for page in ec2.get_paginator("describe_nat_gateways").paginate():
        for gateway in page.get("NatGateways", []):
            if gateway.get("State") not in _NAT_STATES:
                continue
            for address in gateway.get("NatGatewayAddresses", []):
                network = waf.parse_network(str(address.get("PublicIp") or ""))
                if network is not None:
                    source = f"NAT gateway {gateway.get('NatGatewayId', '?')}"
                    found.append(waf.ProtectedNetwork(network, source))
    return tuple(found)


def ip_set_usage(wafv2: Any, ip_set_arn: str, scope: str) -> tuple[waf.WebAclUse, ...]:
    """Every web ACL of the scope that references the set, and whether it blocks."""
    groups: dict[str, Sequence[Mapping[str, Any]]] = {}

    def rule_group_rules(arn: str) -> Sequence[Mapping[str, Any]]:
        if arn not in groups:
            groups[arn] = wafv2.get_rule_group(ARN=arn)["RuleGroup"].get("Rules", [])
        return groups[arn]

    uses: list[waf.WebAclUse] = []
    kwargs: dict[str, Any] = {"Scope": scope, "Limit": 100}
    while True:
        page = wafv2.list_web_acls(**kwargs)
        for summary in page.get("WebACLs", []):
            web_acl = wafv2.get_web_acl(Name=summary["Name"], Scope=scope, Id=summary["Id"])
            use = waf.web_acl_use(web_acl["WebACL"], ip_set_arn, rule_group_rules)
            if use is not None:
                uses.append(use)
        marker = page.get("NextMarker")
        if not marker or not page.get("WebACLs"):
            return tuple(uses)
        kwargs["NextMarker"] = marker


def lookup_error(err: Exception) -> str:
    from botocore.exceptions import ClientError  # boto only when calling AWS

    if isinstance(err, ClientError):
        return error_code(err) or type(err).__name__
    return type(err).__name__


def live_detect(
    event: CloudTrailEvent, settings: DetectionSettings, clients: ClientFactory
) -> Detection:
    """The detection with live inputs (Assess), after decide's shared prechecks. Lookups
    are made only when they matter."""
    from botocore.exceptions import BotoCoreError, ClientError  # boto only when calling AWS

    change = waf.parse_change(event)
    if change is None:
        return waf.detect(event, settings)
    nat: tuple[waf.ProtectedNetwork, ...] = ()
    nat_error: str | None = None
    try:
        nat = nat_gateway_networks(clients("ec2", None))
    except (ClientError, BotoCoreError) as err:
        nat_error = lookup_error(err)
        _logger().warning("NAT gateway lookup failed", extra={"error": nat_error})
    live_addresses = None
    if change.addresses is None:
        try:
            live_addresses = read_ip_set(clients("wafv2", change.region), change.arn).addresses
        except (ClientError, BotoCoreError, TransientAwsError) as err:
            _logger().warning("GetIPSet failed", extra={"error": type(err).__name__})
    context = waf.WafContext(
        nat_networks=nat, nat_lookup_error=nat_error, live_addresses=live_addresses
    )
    first = waf.evaluate(event, settings, context)
    if first.outcome is Outcome.IGNORE:
        return first  # nothing protected is touched: no need to read the web ACLs
    try:
        uses = ip_set_usage(clients("wafv2", change.region), change.arn, change.scope)
    except (ClientError, BotoCoreError) as err:
        error = lookup_error(err)
        _logger().warning("web ACL lookup failed", extra={"error": error})
        return waf.evaluate(event, settings, _replace_usage(context, None, error))
    return waf.evaluate(event, settings, _replace_usage(context, uses, None))


def _replace_usage(
    context: waf.WafContext, uses: tuple[waf.WebAclUse, ...] | None, error: str | None
) -> waf.WafContext:
    return waf.WafContext(
        nat_networks=context.nat_networks,
        nat_lookup_error=context.nat_lookup_error,
        web_acls=uses,
        usage_error=error,
        live_addresses=context.live_addresses,
    )
