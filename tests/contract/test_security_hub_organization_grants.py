"""SecurityHubFindings=on in organisation mode, as provisioned: findings are written
through the member roles (which carry the two actions: test_organization_templates),
except by the functions that only ever handle the hub's own findings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.contract.permissions import DELIVERING_KINDS, kind_of
from tests.contract.test_security_hub_grants import _granted, security_hub_app
from trailwarden.notify.securityhub import SECURITY_HUB_ACTIONS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from trailwarden_local.engine import LocalApp

ORGANIZATION = {
    "DeploymentMode": "organization",
    "OrganizationId": "o-trailwarden1",
    "MemberExternalId": "ext-0123456789",
}
ASSUME = {"sts:AssumeRole", "sts:SetSourceIdentity"}


@pytest.fixture(scope="module")
def organization_app() -> Iterator[LocalApp]:
    yield from security_hub_app(ORGANIZATION)


def test_organisation_mode_writes_through_the_member_roles(organization_app: LocalApp) -> None:
    for lid, function in organization_app.functions.items():
        granted = _granted(organization_app, lid)
        if kind_of(function.handler) not in DELIVERING_KINDS:
            assert not granted & SECURITY_HUB_ACTIONS, lid
        elif "DEPLOYMENT_MODE" in function.environment:  # reaches members: their roles
            assert not granted & SECURITY_HUB_ACTIONS, lid
            assert granted >= ASSUME, lid
        else:  # only ever the hub's own findings (logging backstop, app-tamper alerts)
            assert granted >= SECURITY_HUB_ACTIONS, lid
            assert not granted & ASSUME, lid
