"""Assess: detection on the event + a live re-read of the resource -> Finding."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from trailwarden.logic.decide import Decision, decide, enriched_facts
from trailwarden.models.errors import InvalidEvent, MemberUnreachable, ResourceGone
from trailwarden.models.events import MAX_ID_CHARS, text_of
from trailwarden.models.findings import Finding, Outcome, PlannedAction, Severity, Verdict

if TYPE_CHECKING:
    from trailwarden.dal.incidents import IncidentStore
    from trailwarden.models.settings import DetectionSettings
    from trailwarden.workflows.base import ClientFactory
    from trailwarden.workflows.registry import Workflow

logger = Logger(child=True)


def skipped(workflow: str, raw: Any, reason: str) -> Finding:
    """A logged skip for input that cannot be read: verdict ignore, never a remediation."""
    event_id = text_of(raw.get("id"))[:MAX_ID_CHARS] if isinstance(raw, Mapping) else ""
    logger.warning("skipping unreadable event", extra={"reason": reason, "workflow": workflow})
    return Finding(
        workflow=workflow,
        event_id=event_id,
        event_name="",
        event_time="",
        region="",
        account="",
        verdict=Verdict.IGNORE,
        severity=Severity.INFO,
        reason=reason,
        resource_type="",
        resource_id="",
        actor={},
    )


def unreachable_decision(decision: Decision, err: MemberUnreachable) -> Decision:
    """The member role cannot be assumed: the event alone is alerted, and says why
    nothing was read or changed (organisation mode)."""
    if decision.verdict is Verdict.IGNORE:
        return decision
    detection = decision.detection
    reason = f"{detection.reason}; {err}: alerting only"
    detection = replace(
        detection,
        reason=reason,
        outcome=Outcome.ALERT if detection.outcome is Outcome.ACT else detection.outcome,
    )
    return replace(decision, detection=detection, verdict=Verdict.ALERT, hands_off=True)


def assess(
    raw_event: Any,
    workflow: Workflow,
    settings: DetectionSettings,
    clients: ClientFactory,
    store: IncidentStore,
    account_name: Callable[[str], str] | None = None,
) -> Finding:
    """``account_name`` (organisation mode) names the event's account in the finding.

    ``decision.hands_off`` (ExcludedAccountIds, or a member role that cannot be
    assumed): nothing is read in that account, the event alone is alerted."""
    try:
        decision = decide(raw_event, workflow, settings, clients)
    except InvalidEvent as err:
        return skipped(workflow.id, raw_event, f"invalid event: {err}")
    except MemberUnreachable as err:  # a live detection (waf-protected-ip) needs the member
        decision = unreachable_decision(decide(raw_event, workflow, settings), err)
    finding = _assess(decision, workflow, settings, clients, store)
    if account_name is not None and finding.verdict is not Verdict.IGNORE and finding.account:
        finding = replace(finding, account_name=account_name(finding.account))
    return finding


def _assess(
    decision: Decision,
    workflow: Workflow,
    settings: DetectionSettings,
    clients: ClientFactory,
    store: IncidentStore,
) -> Finding:
    detection, verdict, context = decision.detection, decision.verdict, decision.context
    if verdict is Verdict.IGNORE:
        logger.info("ignored", extra={"reason": detection.reason, "eventID": context.event_id})
        return decision.finding()

    reason = detection.reason
    plan: tuple[PlannedAction, ...] = ()
    before: Mapping[str, Any] | None = None
    remediation = workflow.remediation
    reachable = not decision.hands_off
    if remediation and detection.outcome is Outcome.ACT and detection.resource_id:
        try:
            before = remediation.live_state(
                detection.resource_id, context.region, clients, settings
            )
            plan = remediation.plan(detection.resource_id, detection.facts, before, settings)
        except ResourceGone:
            before, verdict = None, Verdict.ALERT
            reason = f"{reason}; the resource is gone, alerting from the event"
        except MemberUnreachable as err:
            before, verdict, reachable = None, Verdict.ALERT, False
            reason = f"{reason}; {err}: alerting only"
        if verdict in (Verdict.REMEDIATE, Verdict.APPROVAL) and not plan:
            verdict, reason = Verdict.ALERT, f"{reason}; already reverted at re-read"

    facts = (
        enriched_facts(workflow, detection, context.region, clients)
        if verdict is Verdict.ALERT and reachable
        else dict(detection.facts)
    )

    if verdict is Verdict.ALERT:
        plan = ()  # Mode alert (or nothing left to fix): never announce a fix that won't run
    if not store.claim(context.key, workflow.id):
        logger.info("duplicate delivery", extra={"eventID": context.event_id, "key": context.key})
        return decision.finding(verdict=Verdict.IGNORE, reason="duplicate delivery")
    return decision.finding(verdict=verdict, reason=reason, plan=plan, before=before, facts=facts)
