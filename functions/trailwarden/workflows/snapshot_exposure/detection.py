"""snapshot-exposure: an EBS snapshot's create-volume permission was opened to everyone
or to another account.

CloudTrail logs ModifySnapshotAttribute with ``attributeType: CREATE_VOLUME_PERMISSION``
(not the API's ``createVolumePermission``) and the change in
``createVolumePermission.add.items[]`` (``{"group": "all"}`` or ``{"userId": ...}``);
the flat ``userIds`` / ``groupNames`` form with ``operationType: add`` is read too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.workflows.common import (
    account_ids_in,
    as_list,
    split_trusted,
    text_of,
    values_of,
)
from trailwarden.workflows.snapshot_exposure import DECLARATION

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.settings import DetectionSettings

WORKFLOW = DECLARATION.id
TRIGGERS = frozenset({("ec2.amazonaws.com", "ModifySnapshotAttribute")})
RESOURCE_TYPE = "AWS::EC2::Snapshot"
# How CloudTrail names the attribute, and how the API (and some tools) do.
_ATTRIBUTES = frozenset({"CREATE_VOLUME_PERMISSION", "createVolumePermission"})


@dataclass(frozen=True)
class VolumePermissionGrant:
    """Create-volume permissions added by one call."""

    public: bool = False
    account_ids: tuple[str, ...] = ()


def parse_grant(request: Mapping[str, Any]) -> VolumePermissionGrant:
    """What ModifySnapshotAttribute *added*, from either shape."""
    groups: list[str] = []
    accounts: list[str] = []
    permission = request.get("createVolumePermission")
    if isinstance(permission, Mapping):
        add = permission.get("add")
        for item in as_list(add.get("items") if isinstance(add, Mapping) else add):
            if isinstance(item, Mapping):
                # "group" is what CloudTrail writes; "groups" appears in some write-ups
                groups += values_of([item], "group") + values_of([item], "groups")
                accounts += values_of([item], "userId")
    if text_of(request.get("operationType")).lower() == "add":
        groups += values_of(request.get("groupNames"), "groupName")
        groups += values_of(request.get("userGroups"), "userGroup")
        accounts += values_of(request.get("userIds"), "userId")
    return VolumePermissionGrant(
        public=any(g.lower() == "all" for g in groups),
        account_ids=account_ids_in(accounts),
    )


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    request = event.request
    attribute = text_of(request.get("attributeType")) or text_of(request.get("attribute"))
    if attribute and attribute not in _ATTRIBUTES:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, f"attribute {attribute}")
    snapshot_id = text_of(request.get("snapshotId"))
    if not snapshot_id:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, "no snapshotId in the request")
    grant = parse_grant(request)
    untrusted, trusted = split_trusted(grant.account_ids, settings.trusted_account_ids)
    facts = {
        "snapshotId": snapshot_id,
        "addedPublic": grant.public,
        "addedUntrustedAccounts": list(untrusted),
        "addedTrustedAccounts": list(trusted),
    }

    def found(outcome: Outcome, severity: Severity, reason: str) -> Detection:
        return Detection(WORKFLOW, outcome, severity, reason, RESOURCE_TYPE, snapshot_id, facts)

    if grant.public:
        return found(Outcome.ACT, Severity.CRITICAL, "EBS snapshot made public (group: all)")
    if untrusted:
        return found(
            Outcome.ACT,
            Severity.HIGH,
            f"EBS snapshot shared with untrusted account(s) {', '.join(untrusted)}",
        )
    if trusted:
        return found(
            Outcome.IGNORE, Severity.INFO, "EBS snapshot shared only with trusted accounts"
        )
    return found(Outcome.IGNORE, Severity.INFO, "no create-volume permission added")
