"""waf-protected-ip: live lookups for Assess, and the fix a human approved.

Assess looks up two pieces of live state the pure detection cannot know: the Elastic
IPs of the account's NAT gateways (in the app's region) and which web ACLs use the IP
set in a blocking rule. A failing lookup never hides anything: the configured
``ProtectedIpCidrs`` still count, an address list that could not be cleared against
the NAT IPs is a HIGH alert, and an unknown usage is treated as blocking.

The fix removes exactly the entries that equal or lie inside a protected network,
with ``GetIPSet`` -> edit -> ``UpdateIPSet`` (the lock token and the unchanged
description sent back: UpdateIPSet replaces the whole mutable spec). A stale lock token
(``WAFOptimisticLockException``: someone else changed the set in between) means read
again and retry, a bounded number of times with jittered backoff. A wider entry that
only covers a protected IP is reported for a human, never split or deleted. The result
is verified by reading the set again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from trailwarden.aws_errors import error_code, translate
from trailwarden.detections import waf_protected_ip as waf
from trailwarden.detections.common import precheck
from trailwarden.errors import RemediationFailed, RemediationRefused, TransientAwsError
from trailwarden.findings import Outcome, PlannedAction
from trailwarden.remediations.base import ClientFactory, RemediationResult

if TYPE_CHECKING:
    from trailwarden.events import CloudTrailEvent
    from trailwarden.findings import Detection
    from trailwarden.settings import DetectionSettings

logger = Logger(child=True)

# IAM actions each step calls (the contract test compares them with template.yaml).
LOOKUP_ACTIONS = frozenset(
    {"ec2:DescribeNatGateways", "wafv2:ListWebACLs", "wafv2:GetWebACL", "wafv2:GetRuleGroup"}
)
ASSESS_ACTIONS = LOOKUP_ACTIONS | {"wafv2:GetIPSet"}
REMEDIATE_ACTIONS = frozenset({"wafv2:GetIPSet", "wafv2:UpdateIPSet"})

_GONE = frozenset({"WAFNonexistentItemException"})
_LOCK = "WAFOptimisticLockException"
_NAT_STATES = frozenset({"pending", "available"})
_jitter = random.SystemRandom()


# ------------------------------------------------------------------ Assess lookups


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


def _lookup_error(err: Exception) -> str:
    if isinstance(err, ClientError):
        return error_code(err) or type(err).__name__
    return type(err).__name__


def live_detect(
    event: CloudTrailEvent, settings: DetectionSettings, clients: ClientFactory
) -> Detection:
    """The detection with live inputs (Assess). Lookups are made only when they matter."""
    if precheck(event, settings, waf.WORKFLOW) is not None:
        return waf.detect(event, settings)
    change = waf.parse_change(event)
    if change is None:
        return waf.detect(event, settings)
    nat: tuple[waf.ProtectedNetwork, ...] = ()
    nat_error: str | None = None
    try:
        nat = nat_gateway_networks(clients("ec2", None))
    except (ClientError, BotoCoreError) as err:
        nat_error = _lookup_error(err)
        logger.warning("NAT gateway lookup failed", extra={"error": nat_error})
    live_addresses = None
    if change.addresses is None:
        try:
            live_addresses = read_ip_set(clients("wafv2", change.region), change.arn).addresses
        except (ClientError, BotoCoreError, TransientAwsError) as err:
            logger.warning("GetIPSet failed", extra={"error": type(err).__name__})
    context = waf.WafContext(
        nat_networks=nat, nat_lookup_error=nat_error, live_addresses=live_addresses
    )
    first = waf.evaluate(event, settings, context)
    if first.outcome is Outcome.IGNORE:
        return first  # nothing protected is touched: no need to read the web ACLs
    try:
        uses = ip_set_usage(clients("wafv2", change.region), change.arn, change.scope)
    except (ClientError, BotoCoreError) as err:
        error = _lookup_error(err)
        logger.warning("web ACL lookup failed", extra={"error": error})
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


# ------------------------------------------------------------------ live state and plan


@dataclass(frozen=True)
class IpSet:
    arn: str
    name: str
    id: str
    scope: str
    addresses: tuple[str, ...]
    description: str
    lock_token: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "scope": self.scope,
            "addresses": list(self.addresses),
        }


def read_ip_set(wafv2: Any, arn: str) -> IpSet:
    name, ip_set_id, scope, _region = waf.parse_arn(arn)
    try:
        resp = wafv2.get_ip_set(Name=name, Scope=scope, Id=ip_set_id)
    except ClientError as err:
        raise translate(err, gone_codes=_GONE) from err
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


def live_state(resource_id: str, clients: ClientFactory) -> dict[str, Any]:
    _name, _id, _scope, region = waf.parse_arn(resource_id)
    return read_ip_set(clients("wafv2", region), resource_id).to_dict()


def protected_from_facts(facts: Mapping[str, Any]) -> tuple[waf.ProtectedNetwork, ...]:
    """The protected networks Assess used (configured + NAT EIPs at that moment)."""
    out = []
    listed = facts.get("protected")
    for raw in listed if isinstance(listed, list) else ():
        if isinstance(raw, Mapping) and "cidr" in raw:
            try:
                out.append(waf.ProtectedNetwork.from_dict(raw))
            except ValueError:
                continue
    return tuple(out)


def plan(
    resource_id: str, addresses: Sequence[str], protected: Sequence[waf.ProtectedNetwork]
) -> tuple[PlannedAction, ...]:
    """Remove the entries inside a protected network (pure). Wider entries stay."""
    inside, _covering = waf.classify(addresses, protected)
    if not inside:
        return ()
    name, ip_set_id, scope, _region = waf.parse_arn(resource_id)
    entries = list(dict.fromkeys(h.entry for h in inside))
    why = ", ".join(dict.fromkeys(f"{h.entry} ({h.protected.source})" for h in inside))
    return (
        PlannedAction(
            action="wafv2:UpdateIPSet",
            resource=resource_id,
            description=f"remove {why} from IP set {name} ({scope})",
            params={
                "Name": name,
                "Id": ip_set_id,
                "Scope": scope,
                "RemoveAddresses": entries,
                "RemoveNetworks": sorted({str(h.network) for h in inside}),
            },
        ),
    )


def plan_for(
    resource_id: str, facts: Mapping[str, Any], state: Mapping[str, Any] | None
) -> tuple[PlannedAction, ...]:
    """Plan from the live set, or (offline, for replay) from the entries the event added."""
    protected = protected_from_facts(facts)
    if state is None:
        addresses = [
            str(h.get("entry")) for h in facts.get("inside") or () if isinstance(h, Mapping)
        ]
    else:
        addresses = [str(a) for a in state.get("addresses") or ()]
    return plan(resource_id, addresses, protected)


# ------------------------------------------------------------------ apply


@dataclass(frozen=True)
class LockRetry:
    """Bounded retries on WAFOptimisticLockException, with full jitter."""

    attempts: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 8.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        return _jitter.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))


def _covering_notes(
    addresses: Sequence[str], protected: Sequence[waf.ProtectedNetwork]
) -> tuple[str, ...]:
    _inside, covering = waf.classify(addresses, protected)
    return tuple(
        dict.fromkeys(
            f"left for a human: {h.entry} covers protected {h.protected.network} "
            f"({h.protected.source}); it was not split or removed"
            for h in covering
        )
    )


def apply(
    wafv2: Any,
    arn: str,
    protected: Sequence[waf.ProtectedNetwork],
    retry: LockRetry | None = None,
) -> RemediationResult:
    """Idempotent: re-read, remove the protected entries there now, verify.

    Nothing to remove is success ("already-clean"). A lock conflict re-reads and tries
    again; after ``retry.attempts`` conflicts it raises TransientAwsError so the state
    machine's Retry runs the step again later.
    """
    retry = retry or LockRetry()
    if not protected:
        raise RemediationRefused(f"{arn}: no protected networks to remove")
    first: IpSet | None = None
    removed: tuple[PlannedAction, ...] = ()
    for attempt in range(retry.attempts):
        current = read_ip_set(wafv2, arn)
        first = first or current
        actions = plan(arn, current.addresses, protected)
        if not actions:
            break
        remove = set(actions[0].params["RemoveAddresses"])
        kwargs: dict[str, Any] = {
            "Name": current.name,
            "Scope": current.scope,
            "Id": current.id,
            "Addresses": [a for a in current.addresses if a not in remove],
            "LockToken": current.lock_token,
        }
        if current.description:  # UpdateIPSet replaces the description too: send it back
            kwargs["Description"] = current.description
        try:
            wafv2.update_ip_set(**kwargs)
        except ClientError as err:
            if error_code(err) == _LOCK and attempt + 1 < retry.attempts:
                pause = retry.delay(attempt)
                logger.info("IP set changed meanwhile; retrying", extra={"attempt": attempt + 1})
                retry.sleep(pause)
                continue
            if error_code(err) == _LOCK:
                raise TransientAwsError(f"{_LOCK} {retry.attempts} times on {arn}") from err
            raise translate(err, gone_codes=_GONE) from err
        removed = actions
        break
    else:  # pragma: no cover - the loop always breaks or raises
        raise TransientAwsError(f"{_LOCK} on {arn}")
    assert first is not None
    after = read_ip_set(wafv2, arn)
    still = waf.classify(after.addresses, protected)[0]
    if still:
        left = ", ".join(h.entry for h in still)
        raise RemediationFailed(f"{arn} still holds protected entries after removal: {left}")
    notes = _covering_notes(after.addresses, protected)
    status = "remediated" if removed else "already-clean"
    return RemediationResult(status, first.to_dict(), after.to_dict(), removed, notes)


def remediate(
    resource_id: str,
    facts: Mapping[str, Any],
    clients: ClientFactory,
    settings: DetectionSettings,
    sleep: Callable[[float], None] = time.sleep,
) -> RemediationResult:
    """The fix for an approved finding: the protected networks Assess saw, live set."""
    try:
        _name, _id, _scope, region = waf.parse_arn(resource_id)
    except ValueError as err:
        raise RemediationRefused(str(err)) from err
    retry = LockRetry(
        attempts=settings.lock_retry_attempts,
        base_seconds=settings.lock_retry_base_seconds,
        sleep=sleep,
    )
    return apply(clients("wafv2", region), resource_id, protected_from_facts(facts), retry)
