"""cloudtrail-tamper: the live lookups that add context to an alert (a Workflow's
``enrich``); offline, e.g. in replay, the event's facts stand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trailwarden.models.errors import ResourceGone
from trailwarden.workflows.cloudtrail_tamper.remediation import (
    DESCRIBE,
    STATUS,
    list_trails,
    read_status,
    resolve_trail,
)

if TYPE_CHECKING:
    from trailwarden.models.findings import Detection
    from trailwarden.workflows.base import ClientFactory

# What the lookups call (the trail readers Assess uses): granted to the alert function.
ENRICH_GRANTS = (DESCRIBE, STATUS)


def _confirm_unchanged(detection: Detection, region: str, clients: ClientFactory) -> dict[str, Any]:
    """A failed attempt: read the trail back, so the alert says it is still logging."""
    try:
        trail = resolve_trail(detection.resource_id, region, clients)
        state = read_status(clients("cloudtrail", trail.home_region), trail)
    except ResourceGone:
        return {"notes": [f"trail {detection.resource_id} was not found at re-read"]}
    status = "logging" if state.is_logging else "NOT logging (the backstop will restart it)"
    return {
        "liveState": state.to_dict(),
        "notes": [f"checked live: trail {trail.name} is {status}"],
    }


def enrich(detection: Detection, region: str, clients: ClientFactory) -> dict[str, Any]:
    """Live context for an alert (offline, e.g. in replay, the event's facts stand):

    * a failed attempt: is the trail still logging?
    * DeleteTrail: is any other trail still logging this region? (``onlyLoggingTrail``
      is ``unknown`` until this reads it)
    """
    if detection.facts.get("failedAttempt") and detection.resource_id:
        return _confirm_unchanged(detection, region, clients)
    if detection.facts.get("call") != "DeleteTrail":
        return {}
    deleted = str(detection.resource_id)
    cloudtrail = clients("cloudtrail", region)
    logging_now = []
    for trail in list_trails(cloudtrail, region):
        if deleted in (trail.name, trail.arn):
            continue
        try:
            if read_status(cloudtrail, trail).is_logging:
                logging_now.append(trail.name)
        except ResourceGone:
            continue
    if logging_now:
        note = f"other trails still logging {region}: {', '.join(sorted(logging_now))}"
    else:
        note = (
            f"no other trail is logging {region}: until one is, EventBridge receives no "
            "CloudTrail events there and this app sees nothing"
        )
    return {
        "onlyLoggingTrail": "no" if logging_now else "yes",
        "otherLoggingTrails": sorted(logging_now),
        "notes": [note],
    }
