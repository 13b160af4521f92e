"""Every workflow, registered explicitly (a test fails when a module is missing here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailwarden import enrichment
from trailwarden.detections import ami_exposure as ami_detection
from trailwarden.detections import app_tamper as app_tamper_detection
from trailwarden.detections import cloudtrail_tamper as trail_detection
from trailwarden.detections import ec2_keypair as ec2_keypair_detection
from trailwarden.detections import iam_user_change as iam_user_detection
from trailwarden.detections import sg_change as sg_change_detection
from trailwarden.detections import sg_open_ingress as sg_detection
from trailwarden.detections import ssm_session as ssm_detection
from trailwarden.detections import waf_change as waf_change_detection
from trailwarden.detections import waf_protected_ip as waf_detection
from trailwarden.events import CLOUDTRAIL_DETAIL_TYPE
from trailwarden.remediations import ami_exposure as ami_remediation
from trailwarden.remediations import cloudtrail_tamper as trail_remediation
from trailwarden.remediations import sg_open_ingress as sg_remediation
from trailwarden.remediations import waf_protected_ip as waf_remediation

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from trailwarden.events import CloudTrailEvent, Envelope
    from trailwarden.findings import Detection, PlannedAction
    from trailwarden.remediations.base import ClientFactory, RemediationResult
    from trailwarden.settings import DetectionSettings


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


AMI_EXPOSURE = Workflow(
    id=ami_detection.WORKFLOW,
    triggers=ami_detection.TRIGGERS,
    detect=ami_detection.detect,
    remediation=Remediation(
        assess_actions=ami_remediation.ASSESS_ACTIONS,
        remediate_actions=ami_remediation.REMEDIATE_ACTIONS,
        live_state=lambda rid, region, clients, _s: ami_remediation.live_state(
            rid, region, clients
        ),
        plan=lambda rid, facts, state, s: ami_remediation.plan_for(
            rid, facts, state, s.trusted_account_ids
        ),
        apply=lambda rid, _facts, region, clients, s: ami_remediation.remediate(
            rid, region, clients, s.trusted_account_ids
        ),
    ),
)

SG_OPEN_INGRESS = Workflow(
    id=sg_detection.WORKFLOW,
    triggers=sg_detection.TRIGGERS,
    detect=sg_detection.detect,
    remediation=Remediation(
        assess_actions=sg_remediation.ASSESS_ACTIONS,
        remediate_actions=sg_remediation.REMEDIATE_ACTIONS,
        live_state=lambda rid, region, clients, _s: sg_remediation.live_state(rid, region, clients),
        plan=lambda rid, facts, state, s: sg_remediation.plan_for(
            rid, facts, state, s.allowed_public_ports
        ),
        apply=lambda rid, facts, region, clients, s: sg_remediation.remediate(
            rid, facts, region, clients, s.allowed_public_ports, s.exempt_security_group_ids
        ),
    ),
)

SG_CHANGE = Workflow(
    id=sg_change_detection.WORKFLOW,
    triggers=sg_change_detection.TRIGGERS,
    detect=sg_change_detection.detect,
)


def _instance_facts(detection: Detection, region: str, clients: ClientFactory) -> Mapping[str, Any]:
    return enrichment.instance_facts(detection.resource_id, region, clients)


IAM_USER_CHANGE = Workflow(
    id=iam_user_detection.WORKFLOW,
    triggers=iam_user_detection.TRIGGERS,
    detect=iam_user_detection.detect,
)

SSM_SESSION = Workflow(
    id=ssm_detection.WORKFLOW,
    triggers=ssm_detection.TRIGGERS,
    detect=ssm_detection.detect,
    enrich=_instance_facts,
    enrich_actions=enrichment.INSTANCE_LOOKUP_ACTIONS,
)

EC2_KEYPAIR = Workflow(
    id=ec2_keypair_detection.WORKFLOW,
    triggers=ec2_keypair_detection.TRIGGERS,
    detect=ec2_keypair_detection.detect,
    detect_envelope=ec2_keypair_detection.detect_envelope,
    envelope_triggers=ec2_keypair_detection.ENVELOPE_TRIGGERS,
    enrich=_instance_facts,
    enrich_actions=enrichment.INSTANCE_LOOKUP_ACTIONS,
)

CLOUDTRAIL_TAMPER = Workflow(
    id=trail_detection.WORKFLOW,
    triggers=trail_detection.TRIGGERS,
    detect=trail_detection.detect,
    remediation=Remediation(
        assess_actions=trail_remediation.ASSESS_ACTIONS,
        remediate_actions=trail_remediation.REMEDIATE_ACTIONS,
        live_state=lambda rid, region, clients, _s: trail_remediation.live_state(
            rid, region, clients
        ),
        plan=lambda rid, facts, state, _s: trail_remediation.plan_for(rid, facts, state),
        apply=lambda rid, _facts, region, clients, s: trail_remediation.remediate(
            rid,
            region,
            clients,
            timeout_seconds=s.verify_timeout_seconds,
            poll_seconds=s.verify_poll_seconds,
        ),
    ),
    # The scheduled backstop's "Trail Not Logging" (and trail-gone) events.
    detect_envelope=trail_detection.detect_envelope,
    envelope_triggers=trail_detection.ENVELOPE_TRIGGERS,
    # DeleteTrail: is any other trail still logging? (a live fact; "unknown" offline)
    enrich=trail_remediation.enrich,
    enrich_actions=trail_remediation.ENRICH_ACTIONS,
)

APP_TAMPER = Workflow(
    id=app_tamper_detection.WORKFLOW,
    triggers=app_tamper_detection.TRIGGERS,
    detect=app_tamper_detection.detect,
    # The backstop's "App Rule Disabled / Missing / Without Targets" events.
    detect_envelope=app_tamper_detection.detect_envelope,
    envelope_triggers=app_tamper_detection.ENVELOPE_TRIGGERS,
)

WAF_PROTECTED_IP = Workflow(
    id=waf_detection.WORKFLOW,
    triggers=waf_detection.TRIGGERS,
    detect=waf_detection.detect,
    live_detect=waf_remediation.live_detect,
    remediation=Remediation(
        assess_actions=waf_remediation.ASSESS_ACTIONS,
        remediate_actions=waf_remediation.REMEDIATE_ACTIONS,
        live_state=lambda rid, _region, clients, s: waf_remediation.live_state(rid, clients, s),
        plan=lambda rid, facts, state, _s: waf_remediation.plan_for(rid, facts, state),
        # Removes the entries inside the protected networks Assess saw (facts), re-read live.
        apply=lambda rid, facts, _region, clients, s: waf_remediation.remediate(
            rid, facts, clients, s
        ),
    ),
)

WAF_CHANGE = Workflow(
    id=waf_change_detection.WORKFLOW,
    triggers=waf_change_detection.TRIGGERS,
    detect=waf_change_detection.detect,
)

WORKFLOWS: tuple[Workflow, ...] = (
    AMI_EXPOSURE,
    SG_OPEN_INGRESS,
    SG_CHANGE,
    IAM_USER_CHANGE,
    SSM_SESSION,
    EC2_KEYPAIR,
    CLOUDTRAIL_TAMPER,
    APP_TAMPER,
    WAF_PROTECTED_IP,
    WAF_CHANGE,
)
BY_ID: dict[str, Workflow] = {w.id: w for w in WORKFLOWS}


def workflow_for_call(event_source: str, event_name: str) -> Workflow | None:
    """The workflow whose triggers include this call (used to name weaker outcomes)."""
    for workflow in WORKFLOWS:
        if (event_source, event_name) in workflow.triggers:
            return workflow
    return None


def workflow_for_envelope(source: str, detail_type: str) -> Workflow | None:
    """The workflow that reads this kind of non-CloudTrail event (e.g. Config compliance)."""
    for workflow in WORKFLOWS:
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
