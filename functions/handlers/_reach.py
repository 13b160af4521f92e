"""Where a hub function acts: its own account (account mode) or, in organisation mode,
the event's account through the member role (trailwarden.dal.member_clients)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from trailwarden.dal.member_clients import ASSUME_MEMBER_ROLE_GRANT, MemberRoles
from trailwarden.dal.organization import (
    DESCRIBE_ACCOUNT_GRANT,
    LIST_ACCOUNTS_GRANT,
    Organization,
)
from trailwarden.models.errors import NotificationFailed
from trailwarden.models.events import event_key, text_of
from trailwarden.models.settings import MemberSettings, merge_warnings, split_list

if TYPE_CHECKING:
    from trailwarden.models.findings import Finding
    from trailwarden.models.settings import DetectionSettings
    from trailwarden.notify.securityhub import SecurityHubClient
    from trailwarden.workflows.base import ClientFactory
    from trailwarden.workflows.declaration import Grant

# What each kind of handler calls through this module in organisation mode (the
# generator grants it under the OrganizationMode condition): assess reads and names the
# account and widens the trusted accounts, remediate acts and keeps the same trusted
# accounts, alert reads (enrichment) and names the account.
ORGANIZATION_GRANTS: dict[str, tuple[Grant, ...]] = {
    "assess": (ASSUME_MEMBER_ROLE_GRANT, DESCRIBE_ACCOUNT_GRANT, LIST_ACCOUNTS_GRANT),
    "remediate": (ASSUME_MEMBER_ROLE_GRANT, LIST_ACCOUNTS_GRANT),
    "alert": (ASSUME_MEMBER_ROLE_GRANT, DESCRIBE_ACCOUNT_GRANT),
}
# The settings (template Parameters) each kind reads through it and its settings.
ORGANIZATION_READS: dict[str, tuple[str, ...]] = {
    "assess": ("DeploymentMode", "MemberRoleName", "MemberExternalId", "ExcludedAccountIds"),
    "remediate": ("DeploymentMode", "MemberRoleName", "MemberExternalId", "ExcludedAccountIds"),
    "alert": ("DeploymentMode", "MemberRoleName", "MemberExternalId", "ExcludedAccountIds"),
}


@dataclass(frozen=True)
class Reach:
    plain: ClientFactory  # the function's own cached clients (account mode)
    roles: MemberRoles | None = None  # organisation mode
    organization: Organization | None = None
    warnings: tuple[str, ...] = ()
    # Assume through the hub's own region: its regional token is valid in every region,
    # and the member's region may be an opt-in region the hub account has not enabled.
    sts_region: str = ""
    # The account this function runs in (OWN_ACCOUNT_ID): who signs its own clients.
    account: str = ""
    # ExcludedAccountIds (organisation mode): nothing is read or written there.
    excluded: frozenset[str] = frozenset()

    def clients(self, account: str, region: str, *, workflow: str, incident: str) -> ClientFactory:
        """The factory for one event: plain clients in account mode; in organisation
        mode clients in ``account`` (every account, the hub's own included: it is a
        member too), with ``region`` for calls that name none."""
        if self.roles is None:
            return self.plain
        return self.roles.factory(
            account,
            workflow=workflow,
            event_id=incident,
            default_region=region,
            sts_region=self.sts_region,
        )

    def clients_for_event(self, raw: Any, workflow: str) -> ClientFactory:
        """``clients`` for a raw EventBridge event (read leniently: decide() validates
        it, and nothing is assumed before a client is asked for)."""
        if self.roles is None:
            return self.plain
        event = raw if isinstance(raw, Mapping) else {}
        detail = event.get("detail")
        region = text_of(detail.get("awsRegion")) if isinstance(detail, Mapping) else ""
        incident = text_of(detail.get("eventID")) if isinstance(detail, Mapping) else ""
        return self.clients(
            text_of(event.get("account")),
            region or text_of(event.get("region")),
            workflow=workflow,
            incident=incident or (event_key(event) if event else ""),
        )

    def security_hub_for(self, finding: Finding) -> SecurityHubClient:
        """The ``client_for`` of the Security Hub sink: a ``securityhub`` client in the
        finding's region, with the account it calls as. Account mode: this function's own
        (cached) client, signing as this account. Organisation mode: the member role's
        client in ``finding.account`` (the hub's own account too), so the caller is
        always the finding's ``AwsAccountId``, as the default product ARN requires.
        An excluded account (ExcludedAccountIds) is never entered: NotificationFailed."""
        from trailwarden.notify.securityhub import SecurityHubClient

        region = finding.region or None
        if self.roles is None:
            return SecurityHubClient(self.plain("securityhub", region), self.account)
        if finding.account in self.excluded:
            raise NotificationFailed(
                f"Security Hub: account {finding.account} is excluded (ExcludedAccountIds): "
                "no finding is written there"
            )
        clients = self.clients(
            finding.account,
            finding.region,
            workflow=finding.workflow,
            incident=finding.incident_key,
        )
        return SecurityHubClient(clients("securityhub", region), finding.account)

    def account_name(self, account: str) -> str:
        return self.organization.account_name(account) if self.organization else ""

    def detection_settings(self, settings: DetectionSettings) -> DetectionSettings:
        """``settings`` with the organisation's accounts trusted when TrustedAccountIds
        says ``organization``; a failed list trusts only the listed ids, with a warning."""
        if not (settings.trust_organization and self.organization):
            return settings
        accounts = self.organization.account_ids()
        if accounts is None:
            warning = "TrustedAccountIds: the organisation's accounts could not be listed"
            return replace(settings, warnings=merge_warnings(settings.warnings, (warning,)))
        return replace(settings, trusted_account_ids=settings.trusted_account_ids | accounts)


def build_reach(env: Mapping[str, str], plain: ClientFactory) -> Reach:
    settings = MemberSettings.from_env(env)
    account = env.get("OWN_ACCOUNT_ID", "")
    if not settings.organization_mode:
        return Reach(plain=plain, account=account)
    return Reach(
        plain=plain,
        account=account,
        excluded=frozenset(split_list(env.get("EXCLUDED_ACCOUNT_IDS"))),
        roles=MemberRoles(settings.role_name, settings.external_id),
        organization=Organization(lambda: plain("organizations", None)),
        warnings=settings.warnings,
        sts_region=env.get("AWS_REGION", ""),
    )
