"""waf-protected-ip: the fix a human approved (the live lookups Assess makes before it
are in ``lookups.py``).

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

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from trailwarden.dal.aws_errors import error_code, translate
from trailwarden.models.errors import RemediationFailed, RemediationRefused, TransientAwsError
from trailwarden.models.findings import PlannedAction
from trailwarden.workflows.base import ClientFactory, RemediationResult
from trailwarden.workflows.declaration import Grant, actions_of, sub
from trailwarden.workflows.waf_protected_ip import detection as waf
from trailwarden.workflows.waf_protected_ip.lookups import (
    GLOBAL_ARNS,
    GONE_CODES,
    REGIONAL_ARNS,
    IpSet,
    lookup_error,
    nat_gateway_networks,
    read_ip_set,
)

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from trailwarden.models.settings import DetectionSettings, IpNetwork


@cache
def _logger() -> Logger:
    """This module's Powertools child logger, made on first use: replay never logs here,
    and importing Powertools is ~20 ms of its start-up."""
    from aws_lambda_powertools import Logger

    return Logger(child=True)


# What the fix calls (Assess's lookups declare theirs in lookups.py): template.yaml
# grants exactly these (make template), and the workflow tests compare them with the
# calls made.
REMEDIATE_GRANTS = (
    Grant(
        ("wafv2:GetIPSet", "wafv2:UpdateIPSet"),
        (sub(REGIONAL_ARNS + "ipset/*/*"), sub(GLOBAL_ARNS + "ipset/*/*")),
    ),
)
REMEDIATE_ACTIONS = actions_of(REMEDIATE_GRANTS)

_LOCK = "WAFOptimisticLockException"


# ------------------------------------------------------------------ live state and plan


def live_state(
    resource_id: str, clients: ClientFactory, settings: DetectionSettings
) -> dict[str, Any]:
    """The set's summary against the protected networks as they are now (configured +
    NAT EIPs). A failed NAT lookup is named; the plan then also trusts the event."""
    from botocore.exceptions import BotoCoreError, ClientError  # boto only when calling AWS

    _name, _id, _scope, region = waf.parse_arn(resource_id)
    ip_set = read_ip_set(clients("wafv2", region), resource_id)
    nat: tuple[waf.ProtectedNetwork, ...] = ()
    error: str | None = None
    try:
        nat = nat_gateway_networks(clients("ec2", None))
    except (ClientError, BotoCoreError) as err:
        error = lookup_error(err)
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
        prefixes = [waf.network_text(p) for p in c.prefixes]
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
                "RemoveNetworks": waf.listed(
                    sorted({waf.network_text(h.network) for h in changes.remove})
                ),
                "CarveOut": [
                    {
                        "entry": c.entry,
                        "network": waf.network_text(c.network),
                        "exclude": list(
                            dict.fromkeys(waf.network_text(p.network) for p in c.excluded)
                        ),
                        "add": [waf.network_text(p) for p in c.prefixes],
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
        import random  # only when a lock conflict is retried (replay never imports it)

        return random.SystemRandom().uniform(
            0, min(self.max_seconds, self.base_seconds * 2**attempt)
        )


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
    from botocore.exceptions import ClientError  # boto only when calling AWS

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
                _logger().info("IP set changed meanwhile; retrying", extra={"attempt": attempt + 1})
                retry.sleep(pause)
                continue
            if error_code(err) == _LOCK:
                raise TransientAwsError(f"{_LOCK} {retry.attempts} times on {arn}") from err
            raise translate(err, gone_codes=GONE_CODES) from err
        applied = changes
        break
    else:  # pragma: no cover - the loop always breaks or raises
        raise TransientAwsError(f"{_LOCK} on {arn}")
    if first is None or changes is None:  # pragma: no cover - the loop sets both or raises
        raise TransientAwsError(f"{arn} was never read")
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
