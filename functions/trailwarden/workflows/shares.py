"""What every "shared with the wrong accounts" fix does (ami-exposure, snapshot-exposure):
re-read the resource's permissions, remove the public one and every untrusted account
found now, and verify by reading again. Each workflow brings its reader, its plan (the
API's own shape of a removal) and the call that performs it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from trailwarden.models.errors import RemediationFailed
from trailwarden.workflows.base import RemediationResult
from trailwarden.workflows.declaration import Remediation

if TYPE_CHECKING:
    from collections.abc import Callable

    from trailwarden.models.findings import PlannedAction


class Shares(Protocol):
    """A resource's permissions as read now."""

    @property
    def public(self) -> bool: ...

    @property
    def account_ids(self) -> tuple[str, ...]: ...

    def to_dict(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=Shares)


def offending(shares: Shares, trusted: frozenset[str]) -> tuple[bool, tuple[str, ...]]:
    """(is it public, which accounts are not trusted)."""
    return shares.public, tuple(a for a in shares.account_ids if a not in trusted)


def removed(public: bool, untrusted: tuple[str, ...]) -> str:
    """What a removal takes away, for the plan's description."""
    return ", ".join(
        (["public (group: all)"] if public else []) + [f"account {a}" for a in untrusted]
    )


def fix_shares(
    resource_id: str,
    trusted: frozenset[str],
    read: Callable[[], S],
    plan: Callable[[S], tuple[PlannedAction, ...]],
    perform: Callable[[PlannedAction], None],
    *,
    timeout_seconds: float = 0.0,
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RemediationResult:
    """Idempotent: re-read, remove what offends now, verify. Already private is success.

    The verifying read is repeated every ``poll_seconds`` for up to ``timeout_seconds``:
    EC2 may show an attribute change a moment late; only a permission still there then
    fails the remediation.
    """
    before = read()
    actions = plan(before)
    if not actions:
        return RemediationResult("already-clean", before.to_dict(), before.to_dict())
    for action in actions:
        perform(action)
    deadline = clock() + timeout_seconds
    after = read()
    while any(offending(after, trusted)) and clock() + poll_seconds <= deadline:
        sleep(poll_seconds)
        after = read()
    public, untrusted = offending(after, trusted)
    if public or untrusted:
        raise RemediationFailed(f"{resource_id} still exposed after removal")
    return RemediationResult("remediated", before.to_dict(), after.to_dict(), actions)


def share_remediation(module: Any) -> Remediation:
    """The Remediation of a share workflow whose remediation ``module`` has the share
    surface: ASSESS_GRANTS, REMEDIATE_GRANTS, ``live_state(id, region, clients)``,
    ``plan_for(id, facts, state, trusted)`` and ``remediate(id, region, clients,
    trusted, timeout_seconds=, poll_seconds=)``."""
    return Remediation(
        assess_grants=module.ASSESS_GRANTS,
        remediate_grants=module.REMEDIATE_GRANTS,
        live_state=lambda rid, region, clients, _s: module.live_state(rid, region, clients),
        plan=lambda rid, facts, state, s: module.plan_for(rid, facts, state, s.trusted_account_ids),
        apply=lambda rid, _facts, region, clients, s: module.remediate(
            rid,
            region,
            clients,
            s.trusted_account_ids,
            timeout_seconds=s.verify_timeout_seconds,
            poll_seconds=s.verify_poll_seconds,
        ),
    )
