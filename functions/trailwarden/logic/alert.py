"""Alert-only workflows: the rule invokes one function that decides, tells and audits.

A state machine would add nothing but cost for these (no remediation, no wait), so
their EventBridge rules target this function directly.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from trailwarden.logic.assess import skipped
from trailwarden.logic.decide import decide, enriched_facts
from trailwarden.logic.report import Outcome, audit_record
from trailwarden.models.errors import InvalidEvent, NotificationFailed
from trailwarden.models.findings import Verdict
from trailwarden.notify import messages
from trailwarden.notify.sinks import Notice, deliver_all

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from trailwarden.dal.incidents import IncidentStore
    from trailwarden.models.settings import DetectionSettings, NotifySettings
    from trailwarden.notify.sinks import Sink
    from trailwarden.workflows.base import ClientFactory
    from trailwarden.workflows.registry import Workflow

logger = Logger(child=True)


def alert(
    raw_event: Any,
    workflow: Workflow,
    settings: DetectionSettings,
    clients: ClientFactory,
    store: IncidentStore,
    notify: NotifySettings,
    sinks: Sequence[Sink],
    account_name: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Returns the Finding as JSON plus what was delivered. ``account_name``
    (organisation mode) names the event's account; a failed lookup names none."""
    try:
        decision = decide(raw_event, workflow, settings)
    except InvalidEvent as err:
        return skipped(workflow.id, raw_event, f"invalid event: {err}").to_dict()
    if decision.verdict is Verdict.IGNORE:
        logger.info("ignored", extra={"reason": decision.detection.reason})
        return decision.finding().to_dict()

    facts = (
        dict(decision.detection.facts)
        if decision.hands_off  # ExcludedAccountIds: nothing is read there
        else enriched_facts(workflow, decision.detection, decision.context.region, clients)
    )
    finding = decision.finding(facts=facts)
    if account_name is not None and finding.account:
        finding = replace(finding, account_name=account_name(finding.account))
    if not store.claim(finding.incident_key, workflow.id):
        logger.info("duplicate delivery", extra={"eventID": finding.event_id})
        return decision.finding(verdict=Verdict.IGNORE, reason="duplicate delivery").to_dict()

    message = messages.with_settings_warnings(
        messages.detected(finding, notify.language, notify.zone), notify.warnings
    )
    try:
        delivery = deliver_all(Notice(message, finding, "raised", str(finding.verdict)), sinks)
    except NotificationFailed:
        # Nobody was told: give the claim back so Lambda's and EventBridge's retries of
        # this event alert instead of ending quietly as a "duplicate".
        store.release(finding.incident_key)
        raise
    record = audit_record(finding, Outcome("alerted", {}, None), {"notification": delivery})
    store.record_audit(finding.incident_key, workflow.id, record)
    return {**finding.to_dict(), "notification": delivery}
