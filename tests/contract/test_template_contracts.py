"""Offline contracts between template.yaml, the state machine definitions and the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from moto import mock_aws

from tests.conftest import REPO
from tests.contract.grants import granted_actions
from tests.contract.permissions import declared_actions
from trailwarden.models.errors import ERROR_NAMES
from trailwarden.models.settings import MODE_PARAMETERS
from trailwarden.workflows.registry import BY_ID, WORKFLOWS
from trailwarden_local.engine import LocalApp
from trailwarden_local.engine.template import load_template_file

if TYPE_CHECKING:
    from collections.abc import Iterator

TEMPLATE = load_template_file(REPO / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
STATE_MACHINES = {
    lid: body for lid, body in RESOURCES.items() if body["Type"] == "AWS::Serverless::StateMachine"
}
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
# What AWS services do with the role, not our code: logs, traces, sending a failed
# asynchronous event to the dead-letter queue, and Secrets Manager decrypting a secret
# kept under a customer managed key (granted only through Secrets Manager: see
# test_deploy_contracts).
_RUNTIME_ACTION_PREFIXES = ("logs:", "xray:", "sqs:SendMessage", "kms:Decrypt")
# Write actions that support no resource-level permissions (IAM service authorization
# reference), so "*" is the narrowest grant possible.
_NO_RESOURCE_LEVEL = frozenset({"config:PutEvaluations"})


def asl_text(machine: dict[str, Any]) -> str:
    return (REPO / machine["Properties"]["DefinitionUri"]).read_text(encoding="utf-8")


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


@pytest.mark.parametrize("logical_id", sorted(STATE_MACHINES))
def test_every_asl_placeholder_has_a_substitution_and_every_substitution_is_used(
    logical_id: str,
) -> None:
    machine = STATE_MACHINES[logical_id]

    placeholders = set(_PLACEHOLDER.findall(asl_text(machine)))

    assert placeholders == set(machine["Properties"]["DefinitionSubstitutions"])


@pytest.mark.parametrize("logical_id", sorted(STATE_MACHINES))
def test_every_error_name_in_the_asl_exists_in_the_code(logical_id: str) -> None:
    definition = json.loads(asl_text(STATE_MACHINES[logical_id]))

    names = {n for node in walk(definition) for n in node.get("ErrorEquals", [])}
    names |= {node["Error"] for node in walk(definition) if node.get("Type") == "Fail"}

    unknown = {
        n for n in names if not n.startswith(("States.", "Lambda.")) and n not in ERROR_NAMES
    }
    assert not unknown


def test_every_workflow_in_the_registry_has_a_known_id() -> None:
    assert {w.id for w in WORKFLOWS} <= set(MODE_PARAMETERS)
    assert len({w.id for w in WORKFLOWS}) == len(WORKFLOWS)


def test_every_detection_module_is_registered() -> None:
    modules = {
        p.stem
        for p in (REPO / "functions/trailwarden/detections").glob("*.py")
        if p.stem not in {"__init__", "common"}
    }

    registered = {w.detect.__module__.rsplit(".", 1)[-1] for w in WORKFLOWS}

    assert modules <= registered | {m for m in modules if m.endswith("_common")}


def test_mode_parameters_default_as_documented_and_can_be_off() -> None:
    # Which functions get which Mode: test_deploy_contracts (each function its own).
    parameters = TEMPLATE["Parameters"]

    for _workflow, (name, default) in MODE_PARAMETERS.items():
        if name not in parameters:
            continue
        assert parameters[name]["Default"] == str(default)
        assert "off" in parameters[name]["AllowedValues"]


def test_no_function_name_is_hard_coded_and_no_secret_is_in_an_env_var() -> None:
    for lid, body in RESOURCES.items():
        props = body.get("Properties", {})
        assert "FunctionName" not in props or body["Type"] != "AWS::Serverless::Function", lid
        for name, value in props.get("Environment", {}).get("Variables", {}).items():
            text = json.dumps(value)
            assert "discord.com/api/webhooks" not in text, (lid, name)


@pytest.fixture(scope="module")
def app() -> Iterator[LocalApp]:
    with (
        mock_aws(config=dict(LocalApp.MOTO_CONFIG)),
        LocalApp(
            REPO / "template.yaml",
            parameters={
                "DiscordWebhookSecretName": "tw/discord",
                "SlackWebhookSecretName": "tw/slack",
                "TeamsWebhookSecretName": "tw/teams",
                "NotificationEmail": "a@b.co",
                "DiscordApplicationSecretName": "tw/discord-app",
            },
            start_mock=False,
        ) as local,
    ):
        yield local


def test_every_function_is_granted_exactly_the_actions_its_code_declares(app: LocalApp) -> None:
    for logical_id, function in app.functions.items():
        workflow = BY_ID.get(function.environment.get("WORKFLOW", ""))
        declared = declared_actions(function.handler, workflow)
        granted = {
            action
            for action, _resource in granted_actions(app, logical_id)
            if not action.startswith(_RUNTIME_ACTION_PREFIXES)
        }

        assert declared is not None, f"{logical_id}: no declared actions for {function.handler}"
        assert granted == set(declared), logical_id


def test_only_describe_actions_are_granted_on_every_resource(app: LocalApp) -> None:
    for logical_id in app.functions:
        for action, resource in granted_actions(app, logical_id):
            if resource == "*" and not action.startswith(_RUNTIME_ACTION_PREFIXES):
                if action in _NO_RESOURCE_LEVEL:
                    continue
                verb = action.split(":", 1)[1]
                assert verb.startswith(("Describe", "Get", "List", "SendTask", "Lookup")), (
                    logical_id,
                    action,
                )


def test_every_rule_target_retries_and_has_a_dead_letter_queue(app: LocalApp) -> None:
    rules = {
        lid: body
        for lid, body in app.stack.expanded_template["Resources"].items()
        if body["Type"] == "AWS::Events::Rule"
    }
    assert rules
    for lid, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            if "RoleArn" in target and ":event-bus/" in str(target.get("Arn")):
                continue  # bus-to-bus forwarding: the other bus's rules have their own DLQs
            assert "RetryPolicy" in target, lid
            assert "DeadLetterConfig" in target, lid


def test_remediation_rules_exclude_failed_calls(app: LocalApp) -> None:
    acting = {
        sm.arn for sm in app.state_machines.values() if "RemediateFunctionArn" in sm.substitutions
    }
    for rule in app.rules.values():
        if any(t.get("Arn") in acting for t in rule.targets):
            assert rule.pattern["detail"].get("errorCode") == [{"exists": False}], rule.name


def test_state_machines_log_without_execution_data() -> None:
    for lid, machine in STATE_MACHINES.items():
        logging = machine["Properties"]["Logging"]
        assert logging["IncludeExecutionData"] is False, lid


def test_every_path_in_the_template_exists() -> None:
    for lid, body in RESOURCES.items():
        uri = body.get("Properties", {}).get("DefinitionUri")
        if isinstance(uri, str):
            assert Path(REPO / uri).is_file(), lid


def test_every_rule_pattern_fits_eventbridges_default_size_quota(app: LocalApp) -> None:
    # Resolved with this engine's generated names, which are longer than a real stack's
    # "trailwarden-..." names; the default quota is 2,048 characters.
    for rule in app.rules.values():
        size = len(json.dumps(rule.pattern, separators=(",", ":")))
        assert size <= 2048, (rule.logical_id, size)


def test_every_rule_with_a_cloudtrail_pattern_names_its_source(app: LocalApp) -> None:
    # Without "source", anyone allowed events:PutEvents could forge a matching event.
    for rule in app.rules.values():
        if rule.pattern and rule.pattern.get("detail-type") == ["AWS API Call via CloudTrail"]:
            assert rule.pattern.get("source"), rule.logical_id
