"""cloudtrail-tamper remediation: StartLogging on the stopped trail, in its home region.

A multi-region trail can only be started in its home region (elsewhere it is a *shadow*
trail and StartLogging fails with ``InvalidHomeRegionException``), so the trail is first
resolved with DescribeTrails to its ARN and ``HomeRegion`` and every later call is made
with a client for that region, naming the trail by ARN. ``apply`` is idempotent: a trail
that is already logging is success ("already-clean"); otherwise it starts logging and
polls GetTrailStatus until ``IsLogging`` is true or the deadline passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailwarden.dal.aws_errors import error_code, translate
from trailwarden.models.errors import RemediationFailed, RemediationRefused, ResourceGone
from trailwarden.models.findings import PlannedAction
from trailwarden.workflows.base import ClientFactory, RemediationResult
from trailwarden.workflows.cloudtrail_tamper.detection import (
    arn_region,
    is_trail_arn,
    trail_name_of,
)
from trailwarden.workflows.declaration import ANY_RESOURCE, Grant, actions_of, sub

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


# What each step calls: template.yaml grants exactly these (make template), and the
# workflow tests compare them with the calls made.
_ANY_TRAIL = sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*")
DESCRIBE = Grant(("cloudtrail:DescribeTrails",), ANY_RESOURCE, "no resource-level permissions")
STATUS = Grant(
    ("cloudtrail:GetTrailStatus",),
    (_ANY_TRAIL,),
    "any region: a multi-region trail's home region may differ",
)
ASSESS_GRANTS = (DESCRIBE, STATUS)
REMEDIATE_GRANTS = (
    DESCRIBE,
    Grant(
        ("cloudtrail:GetTrailStatus", "cloudtrail:StartLogging"),
        (_ANY_TRAIL,),
        "any region: a multi-region trail is started in its home region",
    ),
)
ASSESS_ACTIONS = actions_of(ASSESS_GRANTS)
REMEDIATE_ACTIONS = actions_of(REMEDIATE_GRANTS)

_GONE = frozenset({"TrailNotFoundException"})
INVALID_HOME_REGION = "InvalidHomeRegionException"


@dataclass(frozen=True)
class Trail:
    """A trail resolved to its identity: what every later call names."""

    name: str
    arn: str
    home_region: str
    multi_region: bool = False


@dataclass(frozen=True)
class TrailState:
    trail: Trail
    is_logging: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.trail.name,
            "arn": self.trail.arn,
            "homeRegion": self.trail.home_region,
            "isMultiRegionTrail": self.trail.multi_region,
            "isLogging": self.is_logging,
        }


def _trail_of(raw: Mapping[str, Any], fallback_region: str) -> Trail:
    arn = str(raw.get("TrailARN", ""))
    return Trail(
        name=str(raw.get("Name", "")) or trail_name_of(arn),
        arn=arn,
        home_region=str(raw.get("HomeRegion", "")) or arn_region(arn) or fallback_region,
        multi_region=bool(raw.get("IsMultiRegionTrail")),
    )


def list_trails(cloudtrail: Any, region: str) -> list[Trail]:
    """Every trail that logs ``region``: its own trails plus shadows of multi-region ones."""
    from botocore.exceptions import ClientError  # boto only when calling AWS

    try:
        raw = cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]
    except ClientError as err:
        raise translate(err) from err
    return [_trail_of(t, region) for t in raw]


def resolve_trail(name_or_arn: str, region: str, clients: ClientFactory) -> Trail:
    """Find the trail a request named. By ARN, ask the ARN's region (a trail's ARN carries
    its home region); by name, ask the region the call was made in. Raises ResourceGone."""
    from botocore.exceptions import ClientError  # boto only when calling AWS

    lookup_region = arn_region(name_or_arn) or region
    cloudtrail = clients("cloudtrail", lookup_region)
    try:
        raw = cloudtrail.describe_trails(trailNameList=[name_or_arn], includeShadowTrails=True)[
            "trailList"
        ]
    except ClientError as err:
        raise translate(err, gone_codes=_GONE) from err
    by_arn = is_trail_arn(name_or_arn)
    matches = [
        _trail_of(t, lookup_region)
        for t in raw
        if (t.get("TrailARN") == name_or_arn if by_arn else t.get("Name") == name_or_arn)
    ]
    if not matches:
        raise ResourceGone(f"trail {name_or_arn} not found in {lookup_region}")
    # A name can exist in several regions: prefer the trail that lives where we asked.
    matches.sort(key=lambda t: t.home_region != lookup_region)
    return matches[0]


def read_status(cloudtrail: Any, trail: Trail) -> TrailState:
    from botocore.exceptions import ClientError  # boto only when calling AWS

    try:
        status = cloudtrail.get_trail_status(Name=trail.arn or trail.name)
    except ClientError as err:
        raise translate(err, gone_codes=_GONE) from err
    return TrailState(trail, bool(status.get("IsLogging")))


def plan(state: TrailState) -> tuple[PlannedAction, ...]:
    """Start logging when the trail is stopped (pure)."""
    if state.is_logging:
        return ()
    trail = state.trail
    return (
        PlannedAction(
            action="cloudtrail:StartLogging",
            resource=trail.arn or trail.name,
            description=f"start logging on trail {trail.name} in its home region "
            f"{trail.home_region}",
            params={"Name": trail.arn or trail.name, "region": trail.home_region},
        ),
    )


def _start_logging(trail: Trail, clients: ClientFactory) -> str:
    """StartLogging in the home region; on InvalidHomeRegionException try the region the
    ARN names (the authoritative home region) once. Returns the region that accepted it."""
    from botocore.exceptions import ClientError  # boto only when calling AWS

    regions = list(dict.fromkeys(r for r in (trail.home_region, arn_region(trail.arn)) if r))
    for region in regions:
        try:
            clients("cloudtrail", region).start_logging(Name=trail.arn or trail.name)
        except ClientError as err:
            if error_code(err) == INVALID_HOME_REGION:
                continue
            raise translate(err, gone_codes=_GONE) from err
        return region
    raise RemediationRefused(
        f"trail {trail.arn or trail.name}: StartLogging refused with {INVALID_HOME_REGION} "
        f"in {', '.join(regions) or 'no region'} (a shadow trail cannot be started)"
    )


def apply(
    name_or_arn: str,
    region: str,
    clients: ClientFactory,
    *,
    timeout_seconds: float = 20.0,
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RemediationResult:
    """Idempotent: resolve, re-read, start if stopped, verify IsLogging with a deadline."""
    trail = resolve_trail(name_or_arn, region, clients)
    before = read_status(clients("cloudtrail", trail.home_region), trail)
    actions = plan(before)
    if not actions:
        return RemediationResult("already-clean", before.to_dict(), before.to_dict())
    started_in = _start_logging(trail, clients)
    cloudtrail = clients("cloudtrail", started_in)
    deadline = clock() + timeout_seconds
    after = read_status(cloudtrail, trail)
    while not after.is_logging and clock() < deadline:
        sleep(poll_seconds)
        after = read_status(cloudtrail, trail)
    if not after.is_logging:
        raise RemediationFailed(
            f"trail {trail.arn} still not logging {timeout_seconds:g}s after StartLogging"
        )
    notes = () if started_in == region else (f"started in home region {started_in}",)
    return RemediationResult("remediated", before.to_dict(), after.to_dict(), actions, notes)


# --- the generic surface the registry uses -------------------------------------------


def live_state(resource_id: str, region: str, clients: ClientFactory) -> dict[str, Any]:
    trail = resolve_trail(resource_id, region, clients)
    return read_status(clients("cloudtrail", trail.home_region), trail).to_dict()


def plan_for(
    resource_id: str, facts: Mapping[str, Any], state: Mapping[str, Any] | None
) -> tuple[PlannedAction, ...]:
    """Plan from the live state, or (offline, for replay) from what the event names."""
    if state is None:
        arn = str(facts.get("trailArn") or (resource_id if is_trail_arn(resource_id) else ""))
        home = str(facts.get("homeRegion") or arn_region(arn) or "(home region, read live)")
        trail = Trail(trail_name_of(resource_id), arn, home)
        return plan(TrailState(trail, is_logging=False))
    trail = Trail(
        name=str(state.get("name", "")),
        arn=str(state.get("arn", "")),
        home_region=str(state.get("homeRegion", "")),
        multi_region=bool(state.get("isMultiRegionTrail")),
    )
    return plan(TrailState(trail, bool(state.get("isLogging"))))


def remediate(
    resource_id: str,
    region: str,
    clients: ClientFactory,
    *,
    timeout_seconds: float,
    poll_seconds: float,
) -> RemediationResult:
    return apply(
        resource_id,
        region,
        clients,
        timeout_seconds=timeout_seconds,
        poll_seconds=poll_seconds,
    )
