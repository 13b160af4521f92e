"""Verdicts, severities, modes and the Finding passed between workflow states."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from trailwarden.models.errors import InvalidEvent
from trailwarden.models.events import checked_region, mapping_of, text_of
from trailwarden.models.modes import Mode as Mode  # noqa: PLC0414 (re-exported: defined apart)

_MAX_ACCOUNT_NAME = 50  # Organizations' limit for an account name


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


class Severity(StrEnum):
    INFO = "info"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def effective_verdict(outcome: Outcome, mode: Mode) -> Verdict:
    """Apply a workflow's Mode to a detection outcome (DESIGN §3)."""
    return _VERDICTS[outcome, mode]


def _apply_mode(outcome: Outcome, mode: Mode) -> Verdict:
    if mode is Mode.OFF or outcome is Outcome.IGNORE:
        return Verdict.IGNORE
    if outcome is Outcome.ALERT:
        return Verdict.ALERT
    return {
        Mode.REMEDIATE: Verdict.REMEDIATE,
        Mode.APPROVAL: Verdict.APPROVAL,
        Mode.ALERT: Verdict.ALERT,
    }[mode]


# Every (outcome, mode) once: replay applies the Mode to every event it decides.
_VERDICTS: dict[tuple[Outcome, Mode], Verdict] = {
    (outcome, mode): _apply_mode(outcome, mode) for outcome in Outcome for mode in Mode
}


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
    def from_dict(cls, raw: Any) -> PlannedAction:
        """Raises InvalidEvent for a step that is not one (see Finding.from_dict)."""
        if not isinstance(raw, Mapping):
            raise InvalidEvent("a planned action is not an object")
        action, resource = text_of(raw.get("action")), text_of(raw.get("resource"))
        if not action or not resource:
            raise InvalidEvent("a planned action has no action or resource")
        return cls(
            action=action,
            resource=resource,
            description=text_of(raw.get("description")),
            params=dict(mapping_of(raw.get("params"))),
        )


_NO_FACTS: Any = object()


@dataclass(frozen=True, init=False)
class Detection:
    """The pure result of looking at one event."""

    workflow: str
    outcome: Outcome
    severity: Severity
    reason: str
    resource_type: str = ""
    resource_id: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        workflow: str,
        outcome: Outcome,
        severity: Severity,
        reason: str,
        resource_type: str = "",
        resource_id: str = "",
        facts: Mapping[str, Any] = _NO_FACTS,
    ) -> None:
        # The generated __init__ of a frozen dataclass calls object.__setattr__ once per
        # field (~3x dearer): every decided event builds one (replay: thousands).
        object.__setattr__(
            self,
            "__dict__",
            {
                "workflow": workflow,
                "outcome": outcome,
                "severity": severity,
                "reason": reason,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "facts": {} if facts is _NO_FACTS else facts,
            },
        )


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
    # Organisation mode: the account's name (Organizations DescribeAccount), "" unknown.
    account_name: str = ""

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
    def from_dict(cls, raw: Any) -> Finding:
        """Read a Finding from a state document. Raises InvalidEvent when it is not one.

        The same rule as the event model: a field of the wrong type is absent; the fields
        a workflow acts on (workflow, verdict, plan steps, region) must be well formed.
        """
        if not isinstance(raw, Mapping):
            raise InvalidEvent("the state is not an object")
        workflow = text_of(raw.get("workflow"))
        if not workflow:
            raise InvalidEvent("the state names no workflow")
        try:
            verdict = Verdict(text_of(raw.get("verdict")))
            severity = Severity(text_of(raw.get("severity")) or Severity.INFO)
        except ValueError as err:
            raise InvalidEvent(f"the state's verdict or severity is unknown: {err}") from err
        plan = raw.get("plan")
        before = raw.get("before")
        return cls(
            workflow=workflow,
            event_id=text_of(raw.get("event_id")),
            event_name=text_of(raw.get("event_name")),
            event_time=text_of(raw.get("event_time")),
            region=checked_region(text_of(raw.get("region")), "the state's region"),
            account=text_of(raw.get("account")),
            verdict=verdict,
            severity=severity,
            reason=text_of(raw.get("reason")),
            resource_type=text_of(raw.get("resource_type")),
            resource_id=text_of(raw.get("resource_id")),
            actor=dict(mapping_of(raw.get("actor"))),
            facts=dict(mapping_of(raw.get("facts"))),
            plan=tuple(PlannedAction.from_dict(a) for a in plan) if isinstance(plan, list) else (),
            before=before if isinstance(before, Mapping) else None,
            key=text_of(raw.get("key")),
            account_name=text_of(raw.get("account_name"))[:_MAX_ACCOUNT_NAME],
        )
