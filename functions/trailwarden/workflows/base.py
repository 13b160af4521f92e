"""What every remediation returns, and the client factory it is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trailwarden.models.findings import PlannedAction

# (service, region) -> boto3 client. Handlers pass clients.make_client; tests pass moto/Stubber.
ClientFactory = Callable[[str, str | None], Any]


@dataclass(frozen=True)
class RemediationResult:
    status: str  # "remediated" | "already-clean" | "partially-remediated"
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    actions: tuple[PlannedAction, ...] = ()
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "before": dict(self.before),
            "after": dict(self.after),
            "actions": [a.to_dict() for a in self.actions],
            "notes": list(self.notes),
            **dict(self.extra),
        }
