"""Every workflow, registered explicitly (a test fails when a module is missing here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailwarden.detections import ami_exposure as ami_detection
from trailwarden.remediations import ami_exposure as ami_remediation

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
    # (resource id, region, clients, settings) -> verified result
    apply: Callable[[str, str, ClientFactory, DetectionSettings], RemediationResult]


@dataclass(frozen=True)
class Workflow:
    id: str
    triggers: frozenset[tuple[str, str]]
    detect: Callable[[CloudTrailEvent, DetectionSettings], Detection]
    remediation: Remediation | None = None
    # For events that are not CloudTrail API calls (Config compliance changes, schedules).
    detect_envelope: Callable[[Envelope, DetectionSettings], Detection] | None = None
    # Optional live lookups that only add context to an alert (e.g. an instance's Name
    # tag): (detection, region, clients) -> extra facts. A failing lookup never blocks it.
    enrich: Callable[[Detection, str, ClientFactory], Mapping[str, Any]] | None = None
    # IAM actions the enrich lookup calls (granted to the alert/assess function).
    enrich_actions: frozenset[str] = frozenset()


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
        apply=lambda rid, region, clients, s: ami_remediation.remediate(
            rid, region, clients, s.trusted_account_ids
        ),
    ),
)

WORKFLOWS: tuple[Workflow, ...] = (AMI_EXPOSURE,)
BY_ID: dict[str, Workflow] = {w.id: w for w in WORKFLOWS}


def workflow_for_call(event_source: str, event_name: str) -> Workflow | None:
    """The workflow whose triggers include this call (used to name weaker outcomes)."""
    for workflow in WORKFLOWS:
        if (event_source, event_name) in workflow.triggers:
            return workflow
    return None
