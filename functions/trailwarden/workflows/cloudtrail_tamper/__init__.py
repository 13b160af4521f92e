"""cloudtrail-tamper: StopLogging -> StartLogging in the trail's home region; DeleteTrail
and changes that weaken logging -> alerts. The scheduled logging backstop (this unit's
template.yaml) starts the same state machine for trails it finds not logging."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.models.modes import Mode
from trailwarden.workflows.declaration import (
    ACTING_MODES,
    ANY_RESOURCE,
    Declaration,
    FunctionSpec,
    Grant,
    ModeParameter,
    Rule,
    UnitParameter,
)

if TYPE_CHECKING:
    from trailwarden.workflows.declaration import Workflow

_TAMPER = {
    "eventSource": ["cloudtrail.amazonaws.com"],
    "eventName": ["StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"],
}

DECLARATION = Declaration(
    id="cloudtrail-tamper",
    title="a trail stopped, deleted or weakened",
    mode=ModeParameter(
        "CloudTrailTamperMode",
        Mode.REMEDIATE,
        "cloudtrail-tamper: remediate restarts a stopped trail at once (StartLogging in "
        "its home region, verified), approval waits for a human to approve through the "
        "approval link first, alert only tells, off ignores the workflow. Deleted trails "
        "and changes that weaken logging are always alerts.",
        ACTING_MODES,
    ),
    rules=(
        Rule("TrailTampered", source=("aws.cloudtrail",), detail=_TAMPER),
        Rule(
            "FailedTamperAttempt",
            source=("aws.cloudtrail",),
            detail=_TAMPER,
            target="alert",
            failed_calls=True,
            why="Failed attempts (errorCode) never reach the state machine: the alert "
            "function sends an info alert and cannot remediate anything.",
        ),
    ),
    assess=FunctionSpec(
        "cloudtrail-tamper - detect, re-read the trail's status, claim the incident"
    ),
    remediate=FunctionSpec(
        "cloudtrail-tamper - StartLogging in the trail's home region, verify IsLogging",
        constants={"VERIFY_TIMEOUT_SECONDS": "30", "VERIFY_POLL_SECONDS": "2"},
        timeout=60,
        why_timeout="verification polls GetTrailStatus for up to VERIFY_TIMEOUT_SECONDS",
    ),
    alert=FunctionSpec(
        "cloudtrail-tamper - info alert for failed attempts to stop, delete or weaken a trail"
    ),
    parameters=(
        UnitParameter("TrailBackstopRate", "", "Logging backstop and trail"),
        UnitParameter("WatchedTrailNames", "", "Logging backstop and trail"),
    ),
    # The logging backstop (template.yaml) starts this workflow's executions.
    acting_functions=("TrailBackstopFunction",),
    # The organisation backstop (logic/org_backstop.py) reads each member's enabled
    # regions; its trail reads are the assess grants above.
    member_grants=(
        Grant(
            ("ec2:DescribeRegions",),
            ANY_RESOURCE,
            "organisation backstop: the account's enabled regions (no resource-level permissions)",
        ),
    ),
)


def load() -> Workflow:
    from trailwarden.workflows.cloudtrail_tamper import detection, lookups, remediation
    from trailwarden.workflows.declaration import Remediation, Workflow

    return Workflow(
        DECLARATION,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        remediation=Remediation(
            assess_grants=remediation.ASSESS_GRANTS,
            remediate_grants=remediation.REMEDIATE_GRANTS,
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
        enrich=lookups.enrich,
        enrich_grants=lookups.ENRICH_GRANTS,
    )
