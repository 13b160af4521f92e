"""Organisation mode's runtime grants: only in organisation mode, only where used."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from handlers._reach import ORGANIZATION_GRANTS
from tests.conftest import REPO
from trailwarden.workflows.declaration import actions_of

TEMPLATE = cfn_yaml.loads((REPO / "template.yaml").read_text(encoding="utf-8"))
FUNCTIONS = {
    lid: body
    for lid, body in TEMPLATE["Resources"].items()
    if body["Type"] == "AWS::Serverless::Function"
}
KINDS = ("assess", "remediate", "alert")
HUB_ONLY = {"app-tamper"}  # its rules watch the hub's own stack


def kind_of(body: dict[str, Any]) -> str:
    return str(body["Properties"]["Handler"].split(".")[1])


def organization_policies(body: dict[str, Any]) -> list[Any]:
    return [
        p["Fn::If"][1]
        for p in body["Properties"]["Policies"]
        if isinstance(p, dict) and p.get("Fn::If", [None])[0] == "OrganizationMode"
    ]


def actions(policy: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for statement in policy["Statement"]:
        action = statement["Action"]
        out |= {action} if isinstance(action, str) else set(action)
    return out


@pytest.mark.parametrize("lid", sorted(FUNCTIONS))
def test_member_access_is_granted_in_organisation_mode_only_where_used(lid: str) -> None:
    body = FUNCTIONS[lid]
    kind = kind_of(body)
    workflow = body["Properties"].get("Environment", {}).get("Variables", {}).get("WORKFLOW")

    policies = organization_policies(body)

    if kind in KINDS and workflow not in HUB_ONLY:
        assert len(policies) == 1, lid
        assert actions(policies[0]) == set(actions_of(ORGANIZATION_GRANTS[kind])), lid
    else:
        assert policies == [], lid


@pytest.mark.parametrize(
    "lid",
    sorted(lid for lid, body in FUNCTIONS.items() if body.get("Condition") != "OrganizationMode"),
)
def test_no_function_may_assume_roles_in_account_mode(lid: str) -> None:
    unconditional = [
        p
        for p in FUNCTIONS[lid]["Properties"]["Policies"]
        if not (isinstance(p, dict) and "Fn::If" in p)
    ]

    assert "sts:AssumeRole" not in json.dumps(unconditional), lid


def test_the_member_role_is_assumed_by_its_path_and_name_only() -> None:
    policy = organization_policies(FUNCTIONS["AmiExposureRemediateFunction"])[0]
    assume = next(s for s in policy["Statement"] if "sts:AssumeRole" in s["Action"])

    assert assume["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::*:role/trailwarden/member/${MemberRoleName}"
    }


def test_every_grant_to_assume_member_roles_is_limited_to_the_organisations_accounts() -> None:
    from cfnlint.decode import cfn_yaml

    from tests.conftest import REPO

    text = (REPO / "template.yaml").read_text(encoding="utf-8")
    found = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            actions = value.get("Action")
            actions = [actions] if isinstance(actions, str) else actions or []
            if "sts:AssumeRole" in actions and "trailwarden/member" in str(value.get("Resource")):
                found.append(value.get("Condition", {}).get("StringEquals", {}))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(cfn_yaml.loads(text)["Resources"])

    assert found
    assert all(c.get("aws:ResourceOrgID") == {"Ref": "OrganizationId"} for c in found)
