"""What the template grants each function: the Allow statements of its role.

Read from the app's expanded template (intrinsics resolved as provisioned): the role's
inline ``Policies`` and every ``AWS::IAM::ManagedPolicy`` of the template attached to it
(by ``ManagedPolicyArns`` or the policy's ``Roles``). AWS managed policies are only named
(:func:`managed_policy_arns`): their documents are not in the template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from trailwarden_local.engine import LocalApp


def _role(app: LocalApp, function_logical_id: str) -> tuple[str, dict[str, Any]]:
    role_lid = app.functions[function_logical_id].role_logical_id
    if role_lid is None:
        raise KeyError(f"{function_logical_id}: its role is not a resource of the template")
    return role_lid, app.stack.expanded_template["Resources"][role_lid]["Properties"]


def managed_policy_arns(app: LocalApp, function_logical_id: str) -> list[str]:
    """The ``ManagedPolicyArns`` of the function's role, as provisioned."""
    return list(_role(app, function_logical_id)[1].get("ManagedPolicyArns", []))


def _statements(app: LocalApp, function_logical_id: str) -> list[Mapping[str, Any]]:
    role_lid, role = _role(app, function_logical_id)
    documents = [policy["PolicyDocument"] for policy in role.get("Policies", [])]
    attached = set(role.get("ManagedPolicyArns", []))
    for lid, body in app.stack.expanded_template["Resources"].items():
        if body["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        if app.resource(lid) in attached or app.resource(role_lid) in body["Properties"].get(
            "Roles", []
        ):
            documents.append(body["Properties"]["PolicyDocument"])
    statements: list[Mapping[str, Any]] = []
    for document in documents:
        found = document.get("Statement", [])
        statements.extend([found] if isinstance(found, dict) else found)
    return statements


def granted_actions(app: LocalApp, function_logical_id: str) -> list[tuple[str, Any]]:
    """(action, Resource) for every Allow statement the function's role carries."""
    granted: list[tuple[str, Any]] = []
    for statement in _statements(app, function_logical_id):
        if statement.get("Effect") != "Allow" or "Action" not in statement:
            continue
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            granted.append((action, statement.get("Resource")))
    return granted
