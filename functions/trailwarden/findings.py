"""Verdicts, severities, modes and the Finding passed between workflow states."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


class Outcome(StrEnum):
    """What a detection concludes, before the workflow's Mode is applied."""

    IGNORE = "ignore"
    ALERT = "alert"
    ACT = "act"


class Verdict(StrEnum):
    """The effective verdict (contract vocabulary)."""

    IGNORE = "ignore"
    ALERT = "alert"
    REMEDIATE = "remediate"
    APPROVAL = "approval"


class Mode(StrEnum):
    REMEDIATE = "remediate"
    APPROVAL = "approval"
    ALERT = "alert"
    OFF = "off"


class Severity(StrEnum):
    INFO = "info"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def effective_verdict(outcome: Outcome, mode: Mode) -> Verdict:
    """Apply a workflow's Mode to a detection outcome (DESIGN §3)."""
    if mode is Mode.OFF or outcome is Outcome.IGNORE:
        return Verdict.IGNORE
    if outcome is Outcome.ALERT:
        return Verdict.ALERT
    return {
        Mode.REMEDIATE: Verdict.REMEDIATE,
        Mode.APPROVAL: Verdict.APPROVAL,
        Mode.ALERT: Verdict.ALERT,
    }[mode]


@dataclass(frozen=True)
class PlannedAction:
    """One step of a remediation plan: also the dry run that replay prints."""

    action: str  # IAM-style action name, e.g. "ec2:ModifyImageAttribute"
    resource: str
    description: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "resource": self.resource,
            "description": self.description,
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PlannedAction:
        return cls(
            action=str(raw["action"]),
            resource=str(raw["resource"]),
            description=str(raw.get("description", "")),
            params=dict(raw.get("params") or {}),
        )


@dataclass(frozen=True)
class Detection:
    """The pure result of looking at one event."""

    workflow: str
    outcome: Outcome
    severity: Severity
    reason: str
    resource_type: str = ""
    resource_id: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """What flows through a state machine after Assess (JSON in and out)."""

    workflow: str
    event_id: str
    event_name: str
    event_time: str
    region: str
    account: str
    verdict: Verdict
    severity: Severity
    reason: str
    resource_type: str
    resource_id: str
    actor: Mapping[str, Any]
    facts: Mapping[str, Any] = field(default_factory=dict)
    plan: tuple[PlannedAction, ...] = ()
    before: Mapping[str, Any] | None = None
    # The incident key (dedupe, audit): the eventID, or a fallback for a record without
    # one (events.record_key). Empty only in a Finding read from an older state.
    key: str = ""

    @property
    def incident_key(self) -> str:
        return self.key or self.event_id

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["verdict"] = str(self.verdict)
        raw["severity"] = str(self.severity)
        raw["plan"] = [a.to_dict() for a in self.plan]
        return raw

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Finding:
        return cls(
            workflow=str(raw["workflow"]),
            event_id=str(raw["event_id"]),
            event_name=str(raw.get("event_name", "")),
            event_time=str(raw.get("event_time", "")),
            region=str(raw.get("region", "")),
            account=str(raw.get("account", "")),
            verdict=Verdict(raw["verdict"]),
            severity=Severity(raw.get("severity", "info")),
            reason=str(raw.get("reason", "")),
            resource_type=str(raw.get("resource_type", "")),
            resource_id=str(raw.get("resource_id", "")),
            actor=dict(raw.get("actor") or {}),
            facts=dict(raw.get("facts") or {}),
            plan=tuple(PlannedAction.from_dict(a) for a in raw.get("plan") or ()),
            before=raw.get("before"),
            key=str(raw.get("key") or ""),
        )
