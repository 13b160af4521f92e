"""ami-exposure: an AMI's launch permission was opened to everyone or to another account.

CloudTrail logs ModifyImageAttribute in two shapes and we read both:
the nested ``launchPermission.add.items[]`` form and the top-level
``userIds`` / ``userGroups`` / ``organizationArns`` form with ``operationType``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.workflows.ami_exposure import DECLARATION
from trailwarden.workflows.common import (
    account_ids_in,
    as_list,
    split_trusted,
    text_of,
    values_of,
)

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.settings import DetectionSettings

WORKFLOW = DECLARATION.id
TRIGGERS = frozenset({("ec2.amazonaws.com", "ModifyImageAttribute")})
RESOURCE_TYPE = "AWS::EC2::Image"


@dataclass(frozen=True)
class LaunchPermissionGrant:
    """Launch permissions added by one call."""

    public: bool = False
    account_ids: tuple[str, ...] = ()
    organization_arns: tuple[str, ...] = ()
    ou_arns: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.public or self.account_ids or self.organization_arns or self.ou_arns)


def parse_grant(request: Mapping[str, Any]) -> LaunchPermissionGrant:
    """What ModifyImageAttribute *added* to the launch permission, from either shape."""
    groups: list[str] = []
    accounts: list[str] = []
    orgs: list[str] = []
    ous: list[str] = []
    launch = request.get("launchPermission")
    if isinstance(launch, Mapping):
        add = launch.get("add")
        items = as_list(add.get("items") if isinstance(add, Mapping) else add)
        for item in items:
            if not isinstance(item, Mapping):
                continue
            groups += values_of([item], "group")
            accounts += values_of([item], "userId")
            orgs += values_of([item], "organizationArn")
            ous += values_of([item], "organizationalUnitArn")
    if text_of(request.get("operationType")).lower() == "add":
        groups += values_of(request.get("userGroups"), "userGroup")
        accounts += values_of(request.get("userIds"), "userId")
        orgs += values_of(request.get("organizationArns"), "organizationArn")
        ous += values_of(request.get("organizationalUnitArns"), "organizationalUnitArn")
    return LaunchPermissionGrant(
        public=any(g.lower() == "all" for g in groups),
        # an account id is 12 digits: anything else names no account to remove
        account_ids=account_ids_in(accounts),
        organization_arns=tuple(dict.fromkeys(orgs)),
        ou_arns=tuple(dict.fromkeys(ous)),
    )


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    request = event.request
    attribute = text_of(request.get("attributeType"))
    if attribute and attribute != "launchPermission":
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, f"attribute {attribute}")
    image_id = text_of(request.get("imageId"))
    if not image_id:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, "no imageId in the request")
    grant = parse_grant(request)
    untrusted, trusted = split_trusted(grant.account_ids, settings.trusted_account_ids)
    facts = {
        "imageId": image_id,
        "addedPublic": grant.public,
        "addedUntrustedAccounts": list(untrusted),
        "addedTrustedAccounts": list(trusted),
        "addedOrganizationArns": list(grant.organization_arns + grant.ou_arns),
    }

    def found(outcome: Outcome, severity: Severity, reason: str) -> Detection:
        return Detection(WORKFLOW, outcome, severity, reason, RESOURCE_TYPE, image_id, facts)

    if grant.public:
        return found(Outcome.ACT, Severity.CRITICAL, "AMI made public (group: all)")
    if untrusted:
        return found(
            Outcome.ACT,
            Severity.HIGH,
            f"AMI shared with untrusted account(s) {', '.join(untrusted)}",
        )
    if grant.organization_arns or grant.ou_arns:
        return found(Outcome.ALERT, Severity.MEDIUM, "AMI shared with an organization or OU")
    if trusted:
        return found(Outcome.IGNORE, Severity.INFO, "AMI shared only with trusted accounts")
    return found(Outcome.IGNORE, Severity.INFO, "no launch permission added")
