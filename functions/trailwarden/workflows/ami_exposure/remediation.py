"""ami-exposure remediation: remove the public permission and untrusted account shares.

Trusted accounts and organization/OU shares are kept. ``plan`` is pure (and is the
dry run ``replay`` prints); ``apply`` re-reads the live image, removes exactly what
is offending *now*, and verifies by reading again. moto lacks ResetImageAttribute,
and reset would also drop trusted shares, so we remove with ModifyImageAttribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailwarden.dal.aws_errors import translate
from trailwarden.models.errors import ResourceGone
from trailwarden.models.findings import PlannedAction
from trailwarden.workflows.declaration import ANY_RESOURCE, Grant, actions_of, sub
from trailwarden.workflows.shares import fix_shares, offending, removed

if TYPE_CHECKING:
    from collections.abc import Mapping

    from trailwarden.workflows.base import ClientFactory, RemediationResult

# What each step calls: template.yaml grants exactly these (make template), and the
# workflow tests compare them with the calls made.
_READ = Grant(
    ("ec2:DescribeImages", "ec2:DescribeImageAttribute"),
    ANY_RESOURCE,
    "Describe* has no resource-level permissions",
)
ASSESS_GRANTS = (_READ,)
REMEDIATE_GRANTS = (
    _READ,
    Grant(
        ("ec2:ModifyImageAttribute",),
        (sub("arn:${AWS::Partition}:ec2:${AWS::Region}::image/*"),),
    ),
)
ASSESS_ACTIONS = actions_of(ASSESS_GRANTS)
REMEDIATE_ACTIONS = actions_of(REMEDIATE_GRANTS)

_GONE = frozenset({"InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidAMIID.Malformed"})


@dataclass(frozen=True)
class LaunchPermissions:
    public: bool
    account_ids: tuple[str, ...]
    organization_arns: tuple[str, ...]
    ou_arns: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "public": self.public,
            "accountIds": sorted(self.account_ids),
            "organizationArns": sorted(self.organization_arns),
            "organizationalUnitArns": sorted(self.ou_arns),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LaunchPermissions:
        return cls(
            public=bool(raw.get("public")),
            account_ids=tuple(raw.get("accountIds") or ()),
            organization_arns=tuple(raw.get("organizationArns") or ()),
            ou_arns=tuple(raw.get("organizationalUnitArns") or ()),
        )


def read_launch_permissions(ec2: Any, image_id: str) -> LaunchPermissions:
    """DescribeImages first: it says InvalidAMIID.NotFound for a deregistered image."""
    from botocore.exceptions import ClientError  # boto only when calling AWS

    try:
        images = ec2.describe_images(ImageIds=[image_id]).get("Images", [])
        # A just-deregistered image may still be listed, in state "deregistered".
        if not images or images[0].get("State") == "deregistered":
            raise ResourceGone(f"{image_id} is deregistered")
        resp = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    except ClientError as err:
        raise translate(err, gone_codes=_GONE) from err
    items = resp.get("LaunchPermissions", [])
    return LaunchPermissions(
        public=any(i.get("Group") == "all" for i in items),
        account_ids=tuple(i["UserId"] for i in items if i.get("UserId")),
        organization_arns=tuple(i["OrganizationArn"] for i in items if i.get("OrganizationArn")),
        ou_arns=tuple(i["OrganizationalUnitArn"] for i in items if i.get("OrganizationalUnitArn")),
    )


def plan(
    image_id: str, perms: LaunchPermissions, trusted: frozenset[str]
) -> tuple[PlannedAction, ...]:
    """The removals that make the image private to trusted accounts (pure)."""
    public, untrusted = offending(perms, trusted)
    remove: list[dict[str, str]] = []
    if public:
        remove.append({"Group": "all"})
    remove += [{"UserId": account} for account in untrusted]
    if not remove:
        return ()
    return (
        PlannedAction(
            action="ec2:ModifyImageAttribute",
            resource=image_id,
            description="remove launch permission: " + removed(public, untrusted),
            params={"LaunchPermission": {"Remove": remove}},
        ),
    )


def apply(
    ec2: Any,
    image_id: str,
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
            ec2.modify_image_attribute(ImageId=image_id, **action.params)
        except ClientError as err:
            raise translate(err, gone_codes=_GONE) from err

    return fix_shares(
        image_id,
        trusted,
        read=lambda: read_launch_permissions(ec2, image_id),
        plan=lambda perms: plan(image_id, perms, trusted),
        perform=perform,
        timeout_seconds=timeout_seconds,
        poll_seconds=poll_seconds,
    )


# --- the generic surface the registry uses -------------------------------------------


def live_state(resource_id: str, region: str, clients: ClientFactory) -> dict[str, Any]:
    return read_launch_permissions(clients("ec2", region), resource_id).to_dict()


def plan_for(
    resource_id: str,
    facts: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    trusted: frozenset[str],
) -> tuple[PlannedAction, ...]:
    """Plan from the live state, or (offline, for replay) from what the event added."""
    if state is None:
        perms = LaunchPermissions(
            public=bool(facts.get("addedPublic")),
            account_ids=tuple(facts.get("addedUntrustedAccounts") or ()),
            organization_arns=(),
            ou_arns=(),
        )
    else:
        perms = LaunchPermissions.from_dict(state)
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
