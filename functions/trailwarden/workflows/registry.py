"""Every workflow, registered explicitly (a test fails when a module is missing here).

Each workflow is declared once, by a function that imports its detection (and
remediation) modules and returns its :class:`Workflow`; ``_REGISTERED`` lists them all.
A function that runs one workflow calls :func:`load_workflow` and imports that
workflow's modules only (its cold start does not pay for the other nine). ``BY_ID``,
``WORKFLOWS`` and the ``workflow_for_*`` lookups (replay, the local engine, tests)
load every workflow on first use. Importing this module loads none.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from trailwarden.models.events import CLOUDTRAIL_DETAIL_TYPE
from trailwarden.workflows import ids as workflows

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from trailwarden.models.events import CloudTrailEvent, Envelope
    from trailwarden.models.findings import Detection, PlannedAction
    from trailwarden.models.settings import DetectionSettings
    from trailwarden.workflows.base import ClientFactory, RemediationResult


@dataclass(frozen=True)
class Remediation:
    """The acting half of a workflow. Each callable takes plain data and clients."""

    assess_actions: frozenset[str]
    remediate_actions: frozenset[str]
    # (resource id, region, clients, settings) -> live state as JSON
    live_state: Callable[[str, str, ClientFactory, DetectionSettings], Mapping[str, Any]]
    # (resource id, detection facts, live state or None offline, settings) -> plan
    plan: Callable[
        [str, Mapping[str, Any], Mapping[str, Any] | None, DetectionSettings],
        tuple[PlannedAction, ...],
    ]
    # (resource id, detection facts, region, clients, settings) -> verified result.
    # The facts let a fix stay within what the event changed (sg-open-ingress revokes
    # only the rules the call added, never others of the group).
    apply: Callable[
        [str, Mapping[str, Any], str, ClientFactory, DetectionSettings], RemediationResult
    ]


@dataclass(frozen=True)
class Workflow:
    id: str
    triggers: frozenset[tuple[str, str]]
    detect: Callable[[CloudTrailEvent, DetectionSettings], Detection]
    remediation: Remediation | None = None
    # For events that are not CloudTrail API calls (Config compliance changes, schedules).
    detect_envelope: Callable[[Envelope, DetectionSettings], Detection] | None = None
    # (source, detail-type) of the non-CloudTrail events detect_envelope reads.
    envelope_triggers: frozenset[tuple[str, str]] = frozenset()
    # Optional live lookups that only add context to an alert (e.g. an instance's Name
    # tag): (detection, region, clients) -> extra facts. A failing lookup never blocks it.
    enrich: Callable[[Detection, str, ClientFactory], Mapping[str, Any]] | None = None
    # IAM actions the enrich lookup calls (granted to the alert/assess function).
    enrich_actions: frozenset[str] = frozenset()
    # A detection that needs live inputs (waf-protected-ip: the NAT gateways' IPs and
    # the web ACLs using the IP set): Assess runs it with clients; replay runs the pure
    # ``detect``, which assumes the stronger verdict. Its IAM actions belong in the
    # remediation's assess_actions.
    live_detect: Callable[[CloudTrailEvent, DetectionSettings, ClientFactory], Detection] | None = (
        None
    )


# --- one declaration per workflow: its modules are imported when it is loaded ----------


def _ami_exposure() -> Workflow:
    from trailwarden.workflows.ami_exposure import detection, remediation

    return Workflow(
        id=detection.WORKFLOW,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        remediation=Remediation(
            assess_actions=remediation.ASSESS_ACTIONS,
            remediate_actions=remediation.REMEDIATE_ACTIONS,
            live_state=lambda rid, region, clients, _s: remediation.live_state(
                rid, region, clients
            ),
            plan=lambda rid, facts, state, s: remediation.plan_for(
                rid, facts, state, s.trusted_account_ids
            ),
            apply=lambda rid, _facts, region, clients, s: remediation.remediate(
                rid, region, clients, s.trusted_account_ids
            ),
        ),
    )


def _sg_open_ingress() -> Workflow:
    from trailwarden.workflows.sg_open_ingress import detection, remediation

    return Workflow(
        id=detection.WORKFLOW,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        remediation=Remediation(
            assess_actions=remediation.ASSESS_ACTIONS,
            remediate_actions=remediation.REMEDIATE_ACTIONS,
            live_state=lambda rid, region, clients, _s: remediation.live_state(
                rid, region, clients
            ),
            plan=lambda rid, facts, state, s: remediation.plan_for(
                rid, facts, state, s.allowed_public_ports
            ),
            apply=lambda rid, facts, region, clients, s: remediation.remediate(
                rid, facts, region, clients, s.allowed_public_ports, s.exempt_security_group_ids
            ),
        ),
    )


def _sg_change() -> Workflow:
    from trailwarden.workflows.sg_change import detection

    return Workflow(id=detection.WORKFLOW, triggers=detection.TRIGGERS, detect=detection.detect)


def _instance_facts(detection: Detection, region: str, clients: ClientFactory) -> Mapping[str, Any]:
    from trailwarden.dal import enrichment

    return enrichment.instance_facts(detection.resource_id, region, clients)


def _iam_user_change() -> Workflow:
    from trailwarden.workflows.iam_user_change import detection

    return Workflow(id=detection.WORKFLOW, triggers=detection.TRIGGERS, detect=detection.detect)


def _ssm_session() -> Workflow:
    from trailwarden.dal import enrichment
    from trailwarden.workflows.ssm_session import detection

    return Workflow(
        id=detection.WORKFLOW,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        enrich=_instance_facts,
        enrich_actions=enrichment.INSTANCE_LOOKUP_ACTIONS,
    )


def _ec2_keypair() -> Workflow:
    from trailwarden.dal import enrichment
    from trailwarden.workflows.ec2_keypair import detection

    return Workflow(
        id=detection.WORKFLOW,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        detect_envelope=detection.detect_envelope,
        envelope_triggers=detection.ENVELOPE_TRIGGERS,
        enrich=_instance_facts,
        enrich_actions=enrichment.INSTANCE_LOOKUP_ACTIONS,
    )


def _cloudtrail_tamper() -> Workflow:
    from trailwarden.workflows.cloudtrail_tamper import detection, remediation

    return Workflow(
        id=detection.WORKFLOW,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        remediation=Remediation(
            assess_actions=remediation.ASSESS_ACTIONS,
            remediate_actions=remediation.REMEDIATE_ACTIONS,
            live_state=lambda rid, region, clients, _s: remediation.live_state(
                rid, region, clients
            ),
            plan=lambda rid, facts, state, _s: remediation.plan_for(rid, facts, state),
            apply=lambda rid, _facts, region, clients, s: remediation.remediate(
                rid,
                region,
                clients,
                timeout_seconds=s.verify_timeout_seconds,
                poll_seconds=s.verify_poll_seconds,
            ),
        ),
        # The scheduled backstop's "Trail Not Logging" (and trail-gone) events.
        detect_envelope=detection.detect_envelope,
        envelope_triggers=detection.ENVELOPE_TRIGGERS,
        # DeleteTrail: is any other trail still logging? (a live fact; "unknown" offline)
        enrich=remediation.enrich,
        enrich_actions=remediation.ENRICH_ACTIONS,
    )


def _app_tamper() -> Workflow:
    from trailwarden.workflows.app_tamper import detection

    return Workflow(
        id=detection.WORKFLOW,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        # The backstop's "App Rule Disabled / Missing / Without Targets" events.
        detect_envelope=detection.detect_envelope,
        envelope_triggers=detection.ENVELOPE_TRIGGERS,
    )


def _waf_protected_ip() -> Workflow:
    from trailwarden.workflows.waf_protected_ip import detection, remediation

    return Workflow(
        id=detection.WORKFLOW,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        live_detect=remediation.live_detect,
        remediation=Remediation(
            assess_actions=remediation.ASSESS_ACTIONS,
            remediate_actions=remediation.REMEDIATE_ACTIONS,
            live_state=lambda rid, _region, clients, s: remediation.live_state(rid, clients, s),
            plan=lambda rid, facts, state, _s: remediation.plan_for(rid, facts, state),
            # Removes the entries inside the protected networks Assess saw (facts), re-read live.
            apply=lambda rid, facts, _region, clients, s: remediation.remediate(
                rid, facts, clients, s
            ),
        ),
    )


def _waf_change() -> Workflow:
    from trailwarden.workflows.waf_change import detection

    return Workflow(id=detection.WORKFLOW, triggers=detection.TRIGGERS, detect=detection.detect)


# Every workflow, in matching order: (id, declaration).
_REGISTERED: tuple[tuple[str, Callable[[], Workflow]], ...] = (
    (workflows.AMI_EXPOSURE, _ami_exposure),
    (workflows.SG_OPEN_INGRESS, _sg_open_ingress),
    (workflows.SG_CHANGE, _sg_change),
    (workflows.IAM_USER_CHANGE, _iam_user_change),
    (workflows.SSM_SESSION, _ssm_session),
    (workflows.EC2_KEYPAIR, _ec2_keypair),
    (workflows.CLOUDTRAIL_TAMPER, _cloudtrail_tamper),
    (workflows.APP_TAMPER, _app_tamper),
    (workflows.WAF_PROTECTED_IP, _waf_protected_ip),
    (workflows.WAF_CHANGE, _waf_change),
)


@cache
def load_workflow(workflow_id: str) -> Workflow:
    """The workflow with this id, importing its modules (and no other workflow's) on first
    use; the same object ``BY_ID`` holds. KeyError for an id that is not registered."""
    return dict(_REGISTERED)[workflow_id]()


@cache
def _workflows() -> tuple[Workflow, ...]:
    return tuple(load_workflow(workflow_id) for workflow_id, _ in _REGISTERED)


@cache
def _by_id() -> dict[str, Workflow]:
    return {w.id: w for w in _workflows()}


# Every workflow (loading all of them): built on first use by __getattr__ below.
WORKFLOWS: tuple[Workflow, ...]
BY_ID: dict[str, Workflow]


def __getattr__(name: str) -> Any:
    if name == "WORKFLOWS":
        return _workflows()
    if name == "BY_ID":
        return _by_id()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def workflow_for_call(event_source: str, event_name: str) -> Workflow | None:
    """The workflow whose triggers include this call (used to name weaker outcomes)."""
    for workflow in _workflows():
        if (event_source, event_name) in workflow.triggers:
            return workflow
    return None


def workflow_for_envelope(source: str, detail_type: str) -> Workflow | None:
    """The workflow that reads this kind of non-CloudTrail event (e.g. Config compliance)."""
    for workflow in _workflows():
        if (source, detail_type) in workflow.envelope_triggers:
            return workflow
    return None


def workflow_for_event(envelope: Envelope) -> Workflow | None:
    """The workflow an EventBridge event belongs to: by call for CloudTrail records, by
    (source, detail-type) otherwise. Weaker outcomes keep the id (DESIGN §2)."""
    if envelope.detail_type == CLOUDTRAIL_DETAIL_TYPE:
        detail = envelope.detail
        return workflow_for_call(
            str(detail.get("eventSource", "")), str(detail.get("eventName", ""))
        )
    return workflow_for_envelope(envelope.source, envelope.detail_type)
