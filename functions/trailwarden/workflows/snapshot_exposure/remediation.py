"""snapshot-exposure remediation: remove the public permission and untrusted account
shares of an EBS snapshot; trusted accounts are kept.

``plan`` is pure (and is the dry run ``replay`` prints); ``apply`` re-reads the live
snapshot attribute, removes exactly what offends *now*, and verifies by reading again.
ResetSnapshotAttribute would also drop trusted shares, so we remove with
ModifySnapshotAttribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailwarden.dal.aws_errors import translate
from trailwarden.models.findings import PlannedAction
from trailwarden.workflows.declaration import ANY_RESOURCE, Grant, actions_of, sub
from trailwarden.workflows.shares import fix_shares, offending, removed

if TYPE_CHECKING:
    from collections.abc import Mapping

    from trailwarden.workflows.base import ClientFactory, RemediationResult

# What each step calls: template.yaml grants exactly these (make template), and the
# workflow tests compare them with the calls made.
_READ = Grant(
    ("ec2:DescribeSnapshotAttribute",), ANY_RESOURCE, "Describe* has no resource-level permissions"
)
ASSESS_GRANTS = (_READ,)
REMEDIATE_GRANTS = (
    _READ,
    Grant(
        ("ec2:ModifySnapshotAttribute",),
        (sub("arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*"),),
    ),
)
ASSESS_ACTIONS = actions_of(ASSESS_GRANTS)
REMEDIATE_ACTIONS = actions_of(REMEDIATE_GRANTS)

_GONE = frozenset({"InvalidSnapshot.NotFound", "InvalidSnapshotID.Malformed"})


@dataclass(frozen=True)
class VolumePermissions:
    public: bool
    account_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"public": self.public, "accountIds": sorted(self.account_ids)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> VolumePermissions:
        return cls(public=bool(raw.get("public")), account_ids=tuple(raw.get("accountIds") or ()))


def read_volume_permissions(ec2: Any, snapshot_id: str) -> VolumePermissions:
    """A deleted snapshot answers InvalidSnapshot.NotFound (ResourceGone)."""
    from botocore.exceptions import ClientError  # boto only when calling AWS

    try:
        resp = ec2.describe_snapshot_attribute(
            SnapshotId=snapshot_id, Attribute="createVolumePermission"
        )
    except ClientError as err:
        raise translate(err, gone_codes=_GONE) from err
    items = resp.get("CreateVolumePermissions", [])
    return VolumePermissions(
        public=any(i.get("Group") == "all" for i in items),
        account_ids=tuple(i["UserId"] for i in items if i.get("UserId")),
    )


def plan(
    snapshot_id: str, perms: VolumePermissions, trusted: frozenset[str]
) -> tuple[PlannedAction, ...]:
    """The removals that leave the snapshot shared with trusted accounts only (pure)."""
    public, untrusted = offending(perms, trusted)
    if not public and not untrusted:
        return ()
    # The flat form (OperationType + GroupNames/UserIds): EC2 takes it as it takes the
    # CreateVolumePermission structure, and the emulator (moto) reads only this one.
    params: dict[str, Any] = {"Attribute": "createVolumePermission", "OperationType": "remove"}
    if public:
        params["GroupNames"] = ["all"]
    if untrusted:
        params["UserIds"] = list(untrusted)
    return (
        PlannedAction(
            action="ec2:ModifySnapshotAttribute",
            resource=snapshot_id,
            description="remove create-volume permission: " + removed(public, untrusted),
            params=params,
        ),
    )


def apply(
    ec2: Any,
    snapshot_id: str,
    trusted: frozenset[str],
    *,
    timeout_seconds: float = 0.0,
    poll_seconds: float = 1.0,
) -> RemediationResult:
    """Idempotent: re-read, remove what offends now, verify (polling up to
    ``timeout_seconds``). Already private is success."""
    from botocore.exceptions import ClientError  # boto only when calling AWS

    def perform(action: PlannedAction) -> None:
        try:
            ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, **action.params)
        except ClientError as err:
            raise translate(err, gone_codes=_GONE) from err

    return fix_shares(
        snapshot_id,
        trusted,
        read=lambda: read_volume_permissions(ec2, snapshot_id),
        plan=lambda perms: plan(snapshot_id, perms, trusted),
        perform=perform,
        timeout_seconds=timeout_seconds,
        poll_seconds=poll_seconds,
    )


# --- the surface the workflow declaration uses ----------------------------------------


def live_state(resource_id: str, region: str, clients: ClientFactory) -> dict[str, Any]:
    return read_volume_permissions(clients("ec2", region), resource_id).to_dict()


def plan_for(
    resource_id: str,
    facts: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    trusted: frozenset[str],
) -> tuple[PlannedAction, ...]:
    """Plan from the live state, or (offline, for replay) from what the event added."""
    if state is None:
        perms = VolumePermissions(
            public=bool(facts.get("addedPublic")),
            account_ids=tuple(facts.get("addedUntrustedAccounts") or ()),
        )
    else:
        perms = VolumePermissions.from_dict(state)
    return plan(resource_id, perms, trusted)


def remediate(
    resource_id: str,
    region: str,
    clients: ClientFactory,
    trusted: frozenset[str],
    *,
    timeout_seconds: float = 0.0,
    poll_seconds: float = 1.0,
) -> RemediationResult:
    return apply(
        clients("ec2", region),
        resource_id,
        trusted,
        timeout_seconds=timeout_seconds,
        poll_seconds=poll_seconds,
    )
