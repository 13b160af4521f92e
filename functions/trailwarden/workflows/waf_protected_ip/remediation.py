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
covers a protected IP is carved out when the plan (and so the human) named it and it is
still there: replaced by the prefixes that cover the rest of it, in its place in the
list. The result is verified by reading the set again: no entry holds a protected
address (except covering entries deliberately left for a human) and every other
address of a carved entry is still blocked.

Nothing here returns a whole address list: before/after are counts and the entries
removed, added or touching a protected network, so a 10,000-entry set stays far below
the state machine's 256 KB state limit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from trailwarden.dal.aws_errors import error_code, translate
from trailwarden.models.errors import RemediationFailed, RemediationRefused, TransientAwsError
from trailwarden.models.findings import Outcome, PlannedAction
from trailwarden.workflows.base import ClientFactory, RemediationResult
from trailwarden.workflows.common import precheck
from trailwarden.workflows.declaration import ANY_RESOURCE, Grant, actions_of, sub
from trailwarden.workflows.waf_protected_ip import detection as waf

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.findings import Detection
    from trailwarden.models.settings import DetectionSettings, IpNetwork

logger = Logger(child=True)

# What each step calls: template.yaml grants exactly these (make template), and the
# workflow tests compare them with the calls made.
_WAF = "arn:${AWS::Partition}:wafv2:"
_REGIONAL = _WAF + "${AWS::Region}:${AWS::AccountId}:regional/"
_GLOBAL = _WAF + "us-east-1:${AWS::AccountId}:global/"  # CLOUDFRONT scope lives in us-east-1
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
            for prefix in (_REGIONAL, _GLOBAL)
            for kind in ("webacl", "rulegroup", "ipset")
        ),
    ),
)
REMEDIATE_GRANTS = (
    Grant(
        ("wafv2:GetIPSet", "wafv2:UpdateIPSet"),
        (sub(_REGIONAL + "ipset/*/*"), sub(_GLOBAL + "ipset/*/*")),
    ),
)
ASSESS_ACTIONS = actions_of(ASSESS_GRANTS)
REMEDIATE_ACTIONS = actions_of(REMEDIATE_GRANTS)
LOOKUP_ACTIONS = ASSESS_ACTIONS - {"wafv2:GetIPSet"}

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


def live_state(
    resource_id: str, clients: ClientFactory, settings: DetectionSettings
) -> dict[str, Any]:
    """The set's summary against the protected networks as they are now (configured +
    NAT EIPs). A failed NAT lookup is named; the plan then also trusts the event."""
    _name, _id, _scope, region = waf.parse_arn(resource_id)
    ip_set = read_ip_set(clients("wafv2", region), resource_id)
    nat: tuple[waf.ProtectedNetwork, ...] = ()
    error: str | None = None
    try:
        nat = nat_gateway_networks(clients("ec2", None))
    except (ClientError, BotoCoreError) as err:
        error = _lookup_error(err)
    summary = ip_set.summary((*nat, *waf.configured_networks(settings)))
    if error:
        summary["natLookupError"] = error
    return summary


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


def approved_carve_outs(facts: Mapping[str, Any]) -> tuple[IpNetwork, ...]:
    """The covering networks the detection planned to carve (what a human approved)."""
    out = []
    for raw in facts.get("carveOut") or ():
        network = (
            waf.parse_network(str(raw.get("network", ""))) if isinstance(raw, Mapping) else None
        )
        if network is not None:
            out.append(network)
    return tuple(out)


def _shown(items: Sequence[str], shown: int = 8) -> str:
    text = ", ".join(items[:shown])
    return f"{text} and {len(items) - shown} more" if len(items) > shown else text


def actions_for(resource_id: str, changes: waf.Changes) -> tuple[PlannedAction, ...]:
    """The plan (pure): one UpdateIPSet that removes and carves. Lists are capped."""
    if changes.empty:
        return ()
    name, ip_set_id, scope, _region = waf.parse_arn(resource_id)
    steps: list[str] = []
    if changes.remove:
        why = ", ".join(
            dict.fromkeys(f"{h.entry} ({h.protected.source})" for h in changes.remove[:10])
        )
        more = len(changes.remove) - 10
        steps.append(f"remove {why}" + (f" and {more} more" if more > 0 else ""))
    for c in changes.carve:
        prefixes = [str(p) for p in c.prefixes]
        steps.append(
            f"replace {c.entry} with {len(prefixes)} prefixes that leave out {c.leave_out()}"
            f" and keep blocking the rest: {_shown(prefixes)}"
        )
    entries = list(dict.fromkeys(h.entry for h in changes.remove))
    return (
        PlannedAction(
            action="wafv2:UpdateIPSet",
            resource=resource_id,
            description=f"in IP set {name} ({scope}): " + "; ".join(steps),
            params={
                "Name": name,
                "Id": ip_set_id,
                "Scope": scope,
                "RemoveAddresses": waf.listed(entries),
                "RemoveNetworks": waf.listed(sorted({str(h.network) for h in changes.remove})),
                "CarveOut": [
                    {
                        "entry": c.entry,
                        "network": str(c.network),
                        "exclude": list(dict.fromkeys(str(p.network) for p in c.excluded)),
                        "add": [str(p) for p in c.prefixes],
                    }
                    for c in changes.carve
                ],
                "AddressCount": changes.address_count,
                "AddressCountAfter": changes.address_count_after,
            },
        ),
    )


def plan(
    resource_id: str,
    addresses: Sequence[str],
    protected: Sequence[waf.ProtectedNetwork],
    *,
    address_count: int | None = None,
) -> tuple[PlannedAction, ...]:
    """Remove the entries inside a protected network and carve the covering ones (pure)."""
    changes = waf.plan_changes(addresses, protected, address_count=address_count)
    return actions_for(resource_id, changes)


def plan_for(
    resource_id: str, facts: Mapping[str, Any], state: Mapping[str, Any] | None
) -> tuple[PlannedAction, ...]:
    """Plan from the live summary, or (offline, for replay) from the entries the event
    added. The live summary lists only the entries that touch a protected network."""
    protected = protected_from_facts(facts)
    from_event = [
        str(h.get("entry"))
        for key in ("inside", "carveOut")
        for h in facts.get(key) or ()
        if isinstance(h, Mapping)
    ]
    if state is None:
        entries, count = from_event, facts.get("addressCount")
    else:
        entries = [str(a) for a in state.get("protectedEntries") or ()]
        if state.get("natLookupError"):  # the NAT entries may be missing from the summary
            entries += [e for e in from_event if e not in entries]
        count = state.get("addressCount")
    return plan(
        resource_id, entries, protected, address_count=count if isinstance(count, int) else None
    )


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


def edit(addresses: Sequence[str], changes: waf.Changes) -> tuple[list[str], list[str]]:
    """The new address list and the prefixes added. A carved entry's prefixes take its
    place; a prefix the set already holds is not added twice."""
    removed = {h.entry for h in changes.remove}
    carved = {entry: c for c in changes.carve for entry in c.entries}
    removed |= set(carved)
    present = {waf.parse_network(a) for a in addresses if a not in removed} - {None}
    out: list[str] = []
    added: list[str] = []
    for address in addresses:
        if address not in removed:
            out.append(address)
            continue
        carve_out = carved.get(address)
        for prefix in carve_out.prefixes if carve_out else ():
            if prefix not in present:
                present.add(prefix)
                out.append(str(prefix))
                added.append(str(prefix))
    return out, added


def _still_covered(prefix: IpNetwork, networks: set[IpNetwork]) -> bool:
    return any(prefix.supernet(new_prefix=k) in networks for k in range(prefix.prefixlen, -1, -1))


def verify(
    arn: str,
    after: IpSet,
    protected: Sequence[waf.ProtectedNetwork],
    applied: waf.Changes | None,
    left: Sequence[waf.CarveOut],
) -> None:
    """No entry holds a protected address, except the covering entries deliberately
    left for a human; every other address of a carved entry is still blocked."""
    inside, covering = waf.classify(after.addresses, protected)
    if inside:
        entries = ", ".join(h.entry for h in inside[:10])
        raise RemediationFailed(f"{arn} still holds protected entries after removal: {entries}")
    kept = {c.network for c in left}
    still = [h.entry for h in covering if h.network not in kept]
    if still:
        raise RemediationFailed(f"{arn} still covers protected addresses: {', '.join(still)}")
    if applied is None:
        return
    networks = {n for n in (waf.parse_network(a) for a in after.addresses) if n is not None}
    for c in applied.carve:
        lost = [str(p) for p in c.prefixes if not _still_covered(p, networks)]
        if lost:
            raise RemediationFailed(
                f"{arn}: the carve-out of {c.entry} no longer blocks {', '.join(lost[:10])}"
            )


def apply(
    wafv2: Any,
    arn: str,
    protected: Sequence[waf.ProtectedNetwork],
    retry: LockRetry | None = None,
    carve_out: Sequence[IpNetwork] = (),
) -> RemediationResult:
    """Idempotent: re-read, remove the protected entries there now, carve the approved
    covering entries still there (``carve_out``), verify.

    Nothing to do is success ("already-clean"). A covering entry not in ``carve_out``, or
    one whose carve-out would now pass a limit, is left with a note; when nothing else
    could be done that is a RemediationRefused. A lock conflict re-reads and tries again;
    after ``retry.attempts`` conflicts it raises TransientAwsError so the state machine's
    Retry runs the step again later.
    """
    retry = retry or LockRetry()
    if not protected:
        raise RemediationRefused(f"{arn}: no protected networks to remove")
    first: IpSet | None = None
    applied: waf.Changes | None = None
    changes: waf.Changes | None = None
    added: list[str] = []
    for attempt in range(retry.attempts):
        current = read_ip_set(wafv2, arn)
        first = first or current
        changes = waf.plan_changes(current.addresses, protected, approved=carve_out)
        if changes.empty:
            break
        addresses, added = edit(current.addresses, changes)
        kwargs: dict[str, Any] = {
            "Name": current.name,
            "Scope": current.scope,
            "Id": current.id,
            "Addresses": addresses,
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
        applied = changes
        break
    else:  # pragma: no cover - the loop always breaks or raises
        raise TransientAwsError(f"{_LOCK} on {arn}")
    assert first is not None and changes is not None
    left = changes.refused
    refused_now = [c for c in left if c.network in set(carve_out)]
    if applied is None and refused_now:
        raise RemediationRefused(
            f"{arn}: nothing changed; not carved out: "
            + "; ".join(f"{c.entry} ({c.refused})" for c in refused_now)
        )
    after = read_ip_set(wafv2, arn)
    verify(arn, after, protected, applied, left)
    notes = tuple(
        dict.fromkeys(f"left for a human: {c.text()}; not carved out: {c.refused}" for c in left)
    )
    after_summary = after.summary(protected)
    if applied is not None:
        after_summary["removed"] = waf.listed(
            [
                *dict.fromkeys(h.entry for h in applied.remove),
                *(e for c in applied.carve for e in c.entries),
            ]
        )
        after_summary["added"] = added
    if applied is None:
        status = "already-clean"
    else:
        status = "partially-remediated" if refused_now else "remediated"
    actions = actions_for(arn, applied) if applied is not None else ()
    return RemediationResult(status, first.summary(protected), after_summary, actions, notes)


def remediate(
    resource_id: str,
    facts: Mapping[str, Any],
    clients: ClientFactory,
    settings: DetectionSettings,
    sleep: Callable[[float], None] = time.sleep,
) -> RemediationResult:
    """The fix for an approved finding: the protected networks Assess saw and the
    covering entries it planned to carve, applied to the live set."""
    try:
        _name, _id, _scope, region = waf.parse_arn(resource_id)
    except ValueError as err:
        raise RemediationRefused(str(err)) from err
    retry = LockRetry(
        attempts=settings.lock_retry_attempts,
        base_seconds=settings.lock_retry_base_seconds,
        sleep=sleep,
    )
    return apply(
        clients("wafv2", region),
        resource_id,
        protected_from_facts(facts),
        retry,
        carve_out=approved_carve_outs(facts),
    )
