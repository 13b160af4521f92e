"""The grants helper against the engine's fixture template: inline policies, SAM policy
templates and a managed policy of the template, as provisioned."""

from __future__ import annotations

import fnmatch
import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.contract.grants import granted_actions, managed_policy_arns
from tests.unit.engine.conftest import FIXTURE_TEMPLATE, api_call
from trailwarden_local.engine import LocalApp

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def app() -> Iterator[LocalApp]:
    with LocalApp(FIXTURE_TEMPLATE, shutdown_timeout=2.0) as local:
        yield local


def test_sam_policy_templates_grant_their_actions_on_the_resolved_resources(
    app: LocalApp,
) -> None:
    table_arn = app.stack.attribute("RecordsTable", "Arn")

    granted = granted_actions(app, "RecordFunction")

    assert ("dynamodb:PutItem", [table_arn, f"{table_arn}/index/*"]) in granted
    assert ("sns:Publish", app.resource("AlertsTopic")) in granted


def test_a_managed_policy_of_the_template_counts_for_the_role_it_is_attached_to(
    app: LocalApp,
) -> None:
    policy_arn = app.resource("CallerIdentityPolicy")

    assert granted_actions(app, "FailFunction") == [("sts:GetCallerIdentity", "*")]
    assert set(managed_policy_arns(app, "FailFunction")) == {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        policy_arn,
    }
    iam = app.client("iam")
    attached = iam.list_attached_role_policies(RoleName=app.resource("FailFunctionRole"))
    assert policy_arn in [p["PolicyArn"] for p in attached["AttachedPolicies"]]
    document: Any = iam.get_policy_version(PolicyArn=policy_arn, VersionId="v1")
    assert "sts:GetCallerIdentity" in json.dumps(document["PolicyVersion"]["Document"])


def test_what_the_functions_call_is_granted(app: LocalApp) -> None:
    (delivery,) = app.put_event(api_call("RunInstances"))
    assert delivery.execution_arn is not None
    assert app.wait_for_execution(delivery.execution_arn, timeout=20)["status"] == "SUCCEEDED"
    app.invoke("FailFunction", {})

    for function, actions in app.operations_by_function().items():
        allowed = [action for action, _ in granted_actions(app, function)]
        for action in actions:
            assert any(fnmatch.fnmatchcase(action, a) for a in allowed), (function, action)
