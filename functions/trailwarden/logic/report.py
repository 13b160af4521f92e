"""Report: the closing message and the audit record (before/after, actor, event id)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trailwarden.models.events import mapping_of
from trailwarden.models.findings import Finding
from trailwarden.notify import messages
from trailwarden.notify.sinks import Notice, deliver_all

if TYPE_CHECKING:
    from collections.abc import Sequence

    from trailwarden.dal.incidents import IncidentStore
    from trailwarden.models.settings import NotifySettings
    from trailwarden.notify.sinks import Sink

REPORT_ACTIONS = frozenset({"dynamodb:PutItem", "sns:Publish", "secretsmanager:GetSecretValue"})
# What a remediation's result may say (RemediationResult.status).
REMEDIATION_STATUSES = frozenset({"remediated", "already-clean", "partially-remediated", "failed"})


@dataclass(frozen=True)
class Outcome:
    status: str  # remediated | already-clean | failed | alerted | rejected | expired
    remediation: Mapping[str, Any]
    error: str | None


def _remediation_of(raw: Any) -> dict[str, Any]:
    """The Remediate result in the state, read with the event model's rule: a list of
    the wrong type is absent, and so is an action step that is not an object."""
    remediation = dict(mapping_of(raw))
    for key in ("actions", "notes"):
        if key in remediation:
            listed = remediation[key]
            kind = Mapping if key == "actions" else str
            remediation[key] = (
                [v for v in listed if isinstance(v, kind)] if isinstance(listed, list) else []
            )
    return remediation


_LAST_EPOCH_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, datetime's last second


def _decision_of(raw: Any) -> dict[str, Any] | None:
    """The approval decision in the state; a ``decidedAt`` that is no time is absent."""
    if not isinstance(raw, Mapping):
        return None
    decision = dict(raw)
    at = decision.get("decidedAt")
    if "decidedAt" in decision and not (
        isinstance(at, int | float) and not isinstance(at, bool) and 0 <= at <= _LAST_EPOCH_SECOND
    ):
        del decision["decidedAt"]
    return decision


def outcome_of(state: Mapping[str, Any]) -> Outcome:
    """Read what happened from the state machine's document."""
    remediation = _remediation_of(state.get("remediation"))
    error = state.get("error")
    if isinstance(error, Mapping):
        name = str(error.get("Error", "Error"))
        cause = str(error.get("Cause", ""))
        try:
            parsed = json.loads(cause)
            cause = str(parsed.get("errorMessage", cause)) if isinstance(parsed, Mapping) else cause
        except ValueError:
            pass
        return Outcome("failed", remediation or {}, f"{name}: {cause}"[:1000])
    decision = state.get("decision")
    if isinstance(decision, Mapping) and decision.get("status") in ("rejected", "expired"):
        return Outcome(str(decision["status"]), {}, None)
    if remediation:
        status = remediation.get("status", "remediated")
        if status not in REMEDIATION_STATUSES:  # a state we did not write: say so, loudly
            return Outcome("failed", remediation, f"unreadable remediation status {status!r}"[:200])
        return Outcome(str(status), remediation, None)
    return Outcome("alerted", {}, None)


def audit_record(finding: Finding, outcome: Outcome, state: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "eventId": finding.event_id,
        "key": finding.incident_key,
        "eventName": finding.event_name,
        "eventTime": finding.event_time,
        "workflow": finding.workflow,
        "verdict": str(finding.verdict),
        "severity": str(finding.severity),
        "reason": finding.reason,
        "resource": {
            "type": finding.resource_type,
            "id": finding.resource_id,
            "region": finding.region,
            "account": finding.account,
            "accountName": finding.account_name,
        },
        "actor": dict(finding.actor),
        "status": outcome.status,
        "before": outcome.remediation.get("before", finding.before),
        "after": outcome.remediation.get("after"),
        "actions": outcome.remediation.get("actions", []),
        "error": outcome.error,
        "decision": state.get("decision"),
        "notification": state.get("notification"),
        "recordedAt": datetime.now(UTC).isoformat(),
    }


def report(
    state: Mapping[str, Any],
    *,
    store: IncidentStore,
    settings: NotifySettings,
    sinks: Sequence[Sink],
) -> dict[str, Any]:
    finding = Finding.from_dict(state)
    outcome = outcome_of(state)
    record = audit_record(finding, outcome, state)
    store.record_audit(finding.incident_key, finding.workflow, record)
    delivery: dict[str, str] = {}
    if outcome.status != "alerted":  # an alert-only incident was already told by Notify
        message = messages.result(
            finding,
            outcome.status,
            settings.language,
            settings.zone,
            outcome=outcome.remediation,
            error=outcome.error,
            decision=_decision_of(state.get("decision")),
        )
        message = messages.with_settings_warnings(message, settings.warnings)
        done = tuple(
            str(a.get("description", "")) for a in outcome.remediation.get("actions") or ()
        )
        delivery = deliver_all(Notice(message, finding, "closed", outcome.status, done), sinks)
    return {"status": outcome.status, "delivery": delivery}
