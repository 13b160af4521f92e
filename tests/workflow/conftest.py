"""Workflow tests: the real template and ASL on moto, handlers in-process.

The ``harness`` fixture provisions template.yaml into a fresh emulator with a local
Discord stand-in behind the webhook secret and an SQS queue subscribed to the alert topic.
On teardown it checks least privilege for every function that ran: each AWS operation
it really called is granted to it by the template and declared by its code.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from tests.contract.grants import granted_actions
from tests.contract.permissions import declared_actions
from trailwarden.workflows.registry import BY_ID
from trailwarden_local.demo import FAST_ENV, SECRET_NAME
from trailwarden_local.discord_standin import DiscordStandIn
from trailwarden_local.engine import LocalApp
from trailwarden_local.inbox import TopicInbox
from trailwarden_local.samples import TEMPLATE, load_index

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

SAMPLE_PARAMETERS = load_index().parameters

# Operations the Lambda runtime itself needs (AWSLambdaBasicExecutionRole, X-Ray).
_RUNTIME_PREFIXES = ("logs:", "xray:", "sqs:SendMessage")


@dataclass
class Run:
    deliveries: list[Any]
    executions: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return str(self.findings[0]["verdict"]) if self.findings else "ignore"


@dataclass
class Harness:
    app: LocalApp
    sink: DiscordStandIn
    inbox: TopicInbox
    emails: list[dict[str, str]] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.app.region)

    def send(self, event: Mapping[str, Any], timeout: float = 30.0) -> Run:
        """Route an event by the template's rules and wait for everything it started."""
        run = Run(deliveries=self.app.put_event(dict(event)))
        for delivery in run.deliveries:
            if delivery.execution_arn:
                run.executions.append(self.app.wait_for_execution(delivery.execution_arn, timeout))
                run.findings.append(self.app.first_task_output(delivery.execution_arn))
            elif isinstance(delivery.lambda_result, dict):
                run.findings.append(delivery.lambda_result)
        self.emails += self.inbox.drain()
        return run

    def discord_bodies(self) -> list[dict[str, Any]]:
        return [r.json for r in self.sink.requests]

    def audit_item(self, event: Mapping[str, Any] | str) -> dict[str, Any]:
        """The raw audit item of an incident (by its event, or its CloudTrail eventID)."""
        return audit_item(self.app, event)

    def audit(self, event: Mapping[str, Any] | str) -> dict[str, Any]:
        """The audit record Report wrote for an incident."""
        record: dict[str, Any] = json.loads(self.audit_item(event)["record"]["S"])
        return record


def audit_item(app: LocalApp, event: Mapping[str, Any] | str) -> dict[str, Any]:
    event_id = event if isinstance(event, str) else event["detail"]["eventID"]
    item: dict[str, Any] = boto3.client("dynamodb", region_name=app.region).get_item(
        TableName=app.resource("IncidentsTable"), Key={"pk": {"S": f"audit#{event_id}"}}
    )["Item"]
    return item


def fresh(event: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with new event ids, so dedupe never links two test runs."""
    copied = copy.deepcopy(dict(event))
    copied["id"] = str(uuid.uuid4())
    if isinstance(copied.get("detail"), dict) and "eventID" in copied["detail"]:
        copied["detail"]["eventID"] = str(uuid.uuid4())
    return copied


def assert_least_privilege(app: LocalApp) -> None:
    for logical_id, called in app.operations_by_function().items():
        if not called:
            continue
        function = app.functions[logical_id]
        granted = [action for action, _resource in granted_actions(app, logical_id)]
        workflow = BY_ID.get(function.environment.get("WORKFLOW", ""))
        declared = declared_actions(function.handler, workflow)
        for action in called:
            if action.startswith(_RUNTIME_PREFIXES):
                continue
            assert any(fnmatch.fnmatchcase(action, g) for g in granted), (
                f"{logical_id} called {action}, which the template does not grant"
            )
            if declared is not None:
                assert action in declared, f"{logical_id} called undeclared {action}"


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Use ``@pytest.mark.parameters({...})`` to override template parameters."""
    marker = request.node.get_closest_marker("parameters")
    overrides = dict(marker.args[0]) if marker else {}
    parameters = {
        **SAMPLE_PARAMETERS,
        "DiscordWebhookSecretName": SECRET_NAME,
        "NotificationEmail": "security-team@example.com",
        **overrides,
    }
    with (
        DiscordStandIn() as sink,
        LocalApp(TEMPLATE, parameters=parameters, function_env_overrides=FAST_ENV) as app,
    ):
        boto3.client("secretsmanager", region_name=app.region).create_secret(
            Name=SECRET_NAME, SecretString=sink.url
        )
        inbox = TopicInbox(app.resource("AlertTopic"), app.region)
        yield Harness(app=app, sink=sink, inbox=inbox)
        assert_least_privilege(app)
