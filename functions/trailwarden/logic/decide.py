"""decide(): parse an EventBridge event and run one workflow's pure detection + Mode.

Shared by Assess (acting workflows), the alert-only function and ``replay``, so the
deployed app and the offline replay reach the same verdict from the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from trailwarden.models.errors import InvalidEvent
from trailwarden.models.events import (
    CLOUDTRAIL_DETAIL_TYPE,
    _built,
    account_key,
    parse_cloudtrail,
    parse_envelope,
)
from trailwarden.models.findings import (
    Detection,
    Finding,
    Outcome,
    PlannedAction,
    Verdict,
    effective_verdict,
)
from trailwarden.workflows.common import precheck

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_lambda_powertools import Logger

    from trailwarden.models.events import Actor
    from trailwarden.models.settings import DetectionSettings
    from trailwarden.workflows.base import ClientFactory
    from trailwarden.workflows.registry import Workflow


@dataclass(frozen=True)
class EventContext:
    event_id: str
    event_name: str
    event_time: str
    region: str
    account: str
    caller: Actor | None = None  # who made the CloudTrail call (None: not a call)
    key: str = ""  # the incident key for dedupe and audit (events.record_key)

    @property
    def actor(self) -> Mapping[str, Any]:
        """The caller as JSON (a finding carries it; replay never asks, so never pays)."""
        return self.caller.to_dict() if self.caller is not None else {}


@dataclass(frozen=True)
class Decision:
    detection: Detection
    verdict: Verdict
    context: EventContext
    # Nothing may be read or changed in the event's account: it is in
    # ExcludedAccountIds, or (Assess) its member role cannot be assumed.
    hands_off: bool = False

    def finding(
        self,
        *,
        verdict: Verdict | None = None,
        reason: str | None = None,
        plan: tuple[PlannedAction, ...] = (),
        before: Mapping[str, Any] | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> Finding:
        d, c = self.detection, self.context
        return Finding(
            workflow=d.workflow,
            event_id=c.event_id,
            event_name=c.event_name,
            event_time=c.event_time,
            region=c.region,
            account=c.account,
            verdict=verdict or self.verdict,
            severity=d.severity,
            reason=reason or d.reason,
            resource_type=d.resource_type,
            resource_id=d.resource_id,
            actor=c.actor,
            facts=facts if facts is not None else d.facts,
            plan=plan,
            before=before,
            key=c.key,
        )


def decide(
    raw_event: Any,
    workflow: Workflow,
    settings: DetectionSettings,
    clients: ClientFactory | None = None,
    *,
    size_bound: int | None = None,
) -> Decision:
    """Raises InvalidEvent for input that is not an event this workflow can read.

    A CloudTrail call first goes through the shared prechecks
    (:func:`~trailwarden.workflows.common.precheck`: the app's own call, a failed call,
    a call that is not one of the workflow's triggers): each is an ``ignore`` the
    workflow's detection never sees.

    With ``clients`` (Assess), a workflow whose detection needs live inputs (the NAT
    gateways' IPs, the web ACLs that use an IP set) runs its ``live_detect``; without
    (replay) the pure detection assumes what gives the stronger verdict. ``size_bound``
    is passed to :func:`~trailwarden.models.events.parse_envelope`.
    """
    envelope = parse_envelope(raw_event, size_bound=size_bound)
    excluded_ids = settings.excluded_account_ids
    if envelope.detail_type != CLOUDTRAIL_DETAIL_TYPE and workflow.detect_envelope is not None:
        if not envelope.region:  # EventBridge always sets it; lookups and fixes need it
            raise InvalidEvent("event has no region")
        detection = workflow.detect_envelope(envelope, settings)
        excluded = bool(excluded_ids) and envelope.account in excluded_ids
        context = EventContext(
            event_id=envelope.id,
            event_name=envelope.detail_type,
            event_time=envelope.time,
            region=envelope.region,
            account=envelope.account,
            key=account_key(envelope.key, envelope.account, settings.organization_mode),
        )
    else:
        event = parse_cloudtrail(envelope)
        # The checks every workflow shares run here, once: the detection sees only calls
        # it may act on (a failed one only if it decides those itself).
        skip = precheck(
            event,
            settings,
            workflow.id,
            workflow.triggers,
            # (read from the declaration only for a failed call: the only one it concerns)
            decides_failed_calls=event.error_code is not None
            and workflow.declaration.decides_failed_calls,
        )
        excluded = bool(excluded_ids) and event.account_id in excluded_ids
        if skip is not None:
            detection = skip
        elif clients is not None and workflow.live_detect is not None and not excluded:
            detection = workflow.live_detect(event, settings, clients)
        else:
            detection = workflow.detect(event, settings)
        # Built with their fields as their __dict__ at once (events._built): once per
        # event, replay's hot path.
        context = _built(
            EventContext,
            event_id=event.event_id,
            event_name=event.event_name,
            event_time=event.event_time,
            region=event.aws_region,
            account=event.account_id,
            caller=event.actor,
            key=account_key(event.key, event.account_id, settings.organization_mode),
        )
    verdict = effective_verdict(detection.outcome, settings.mode(workflow.id))
    if excluded and verdict is not Verdict.IGNORE:
        return excluded_decision(detection, context)
    return _built(
        Decision, detection=detection, verdict=verdict, context=context, hands_off=excluded
    )


def excluded_decision(detection: Detection, context: EventContext) -> Decision:
    """An event of an account in ExcludedAccountIds: alert only, and the alert says so."""
    reason = (
        f"{detection.reason}; account {context.account} is in ExcludedAccountIds: "
        "alert only, nothing was read or changed there"
    )
    outcome = Outcome.ALERT if detection.outcome is Outcome.ACT else detection.outcome
    detection = replace(detection, reason=reason, outcome=outcome)
    return Decision(detection, Verdict.ALERT, context, hands_off=True)


@cache
def _logger() -> Logger:
    """This module's Powertools child logger, made on first use: replay never logs here,
    and importing Powertools is ~20 ms of its start-up."""
    from aws_lambda_powertools import Logger

    return Logger(child=True)


def enriched_facts(
    workflow: Workflow, detection: Detection, region: str, clients: ClientFactory
) -> dict[str, Any]:
    """The detection's facts plus the workflow's live context lookups (an instance's Name
    tag, "was this the last logging trail?"). A failing lookup never blocks the alert:
    it is logged and named in ``lookupError``."""
    facts = dict(detection.facts)
    if workflow.enrich is not None:
        try:
            facts.update(workflow.enrich(detection, region, clients))
        except Exception as err:
            _logger().warning("enrichment failed", extra={"error": type(err).__name__})
            facts["lookupError"] = type(err).__name__
    return facts
