"""SecurityHubFindings=on in account mode: who may write findings, as provisioned. Every
delivering function with its own role, only the account's own findings (organisation
mode: test_security_hub_organization_grants)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from cfnlint.decode import cfn_yaml
from moto import mock_aws

from tests.conftest import REPO
from tests.contract.grants import _statements, granted_actions
from tests.contract.permissions import DELIVERING_KINDS, declared_actions, kind_of
from tests.contract.test_template_contracts import _RUNTIME_ACTION_PREFIXES
from trailwarden.workflows.registry import BY_ID
from trailwarden_local.engine import LocalApp

if TYPE_CHECKING:
    from collections.abc import Iterator


def security_hub_app(parameters: dict[str, str]) -> Iterator[LocalApp]:
    with (
        mock_aws(config=dict(LocalApp.MOTO_CONFIG)),
        LocalApp(
            REPO / "template.yaml",
            parameters={
                # as test_template_contracts: every optional secret set, so granted
                # equals declared
                "DiscordWebhookSecretName": "tw/discord",
                "NotificationEmail": "a@b.co",
                "DiscordApplicationSecretName": "tw/discord-app",
                "SecurityHubFindings": "on",
                **parameters,
            },
            start_mock=False,
        ) as local,
    ):
        yield local


@pytest.fixture(scope="module")
def account_app() -> Iterator[LocalApp]:
    yield from security_hub_app({})


def _granted(app: LocalApp, lid: str) -> set[str]:
    return {
        action
        for action, _resource in granted_actions(app, lid)
        if not action.startswith(_RUNTIME_ACTION_PREFIXES)
    }


def test_account_mode_grants_every_delivering_function_the_security_hub_calls(
    account_app: LocalApp,
) -> None:
    delivering = []
    for lid, function in account_app.functions.items():
        workflow = BY_ID.get(function.environment.get("WORKFLOW", ""))

        declared = declared_actions(function.handler, workflow, security_hub=True)

        assert declared is not None, lid
        assert _granted(account_app, lid) == set(declared), lid
        if kind_of(function.handler) in DELIVERING_KINDS:
            delivering.append(lid)
            assert function.environment["SECURITY_HUB_FINDINGS"] == "on", lid
            assert function.environment["OWN_ACCOUNT_ID"] == account_app.account_id, lid
    assert {"NotifyFunction", "ReportFunction", "ApprovalRequestFunction"} <= set(delivering)
    assert "TrailBackstopFunction" in delivering


def test_account_mode_writes_only_the_accounts_own_findings(account_app: LocalApp) -> None:
    account = account_app.account_id
    statements = [
        s
        for s in _statements(account_app, "NotifyFunction")
        if str(s.get("Action", "")).startswith("securityhub:")
    ]

    by_action: dict[str, Any] = {s["Action"]: s for s in statements}

    imports = by_action["securityhub:BatchImportFindings"]
    assert imports["Resource"] == f"arn:aws:securityhub:*:{account}:product/{account}/default"
    assert imports["Condition"] == {"StringEquals": {"securityhub:TargetAccount": account}}
    updates = by_action["securityhub:BatchUpdateFindings"]
    assert updates["Resource"] == f"arn:aws:securityhub:*:{account}:hub/default"
    assert updates["Condition"] == {
        "StringEquals": {"securityhub:ASFFSyntaxPath/Workflow.Status": ["RESOLVED", "NOTIFIED"]}
    }


def test_notifying_functions_assume_member_roles_only_for_security_hub() -> None:
    template = cfn_yaml.loads((REPO / "template.yaml").read_text(encoding="utf-8"))

    for lid in ("NotifyFunction", "ReportFunction", "ApprovalRequestFunction"):
        policies = template["Resources"][lid]["Properties"]["Policies"]
        conditions = [
            p["Fn::If"][0]
            for p in policies
            if isinstance(p, dict) and "sts:AssumeRole" in str(p.get("Fn::If"))
        ]

        assert conditions == ["SecurityHubInOrganizationMode"], lid
