"""A workflow harness with the approval endpoint served over real HTTP on 127.0.0.1.

Import ``approval_harness`` into a test module to use it as a fixture. It is the
``harness`` of conftest.py plus an :class:`ApprovalServer` whose URL the functions get
as APPROVAL_BASE_URL, and it checks least privilege on teardown the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from tests.workflow.conftest import SAMPLE_PARAMETERS, Harness, assert_least_privilege
from trailwarden_local.approval_server import ApprovalServer, wait_for_link
from trailwarden_local.demo import FAST_ENV, SECRET_NAME
from trailwarden_local.discord_standin import DiscordStandIn
from trailwarden_local.engine import LocalApp
from trailwarden_local.inbox import TopicInbox
from trailwarden_local.samples import TEMPLATE

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


@dataclass
class ApprovalHarness:
    base: Harness
    server: ApprovalServer

    @property
    def app(self) -> LocalApp:
        return self.base.app

    def start(self, event: Mapping[str, Any]) -> str:
        """Put the event on the bus; return the one execution it started (not awaited)."""
        (delivery,) = [d for d in self.app.put_event(dict(event)) if d.execution_arn]
        assert delivery.execution_arn is not None
        return delivery.execution_arn

    def link(self, seen: int = 0) -> str:
        return wait_for_link(self.base.discord_bodies, seen)

    def status(self, execution_arn: str) -> str:
        sfn = self.app.client("stepfunctions")
        return str(sfn.describe_execution(executionArn=execution_arn)["status"])

    def wait_until_waiting(self, execution_arn: str, timeout: float = 30.0) -> None:
        """Until the execution sits in RequestApproval (the approval message was sent)."""
        deadline = time.monotonic() + timeout
        while "RequestApproval" not in self.app.entered_states(execution_arn):
            assert time.monotonic() < deadline, "the execution never asked for approval"
            time.sleep(0.02)

    def approvals_item(self) -> dict[str, Any]:
        ddb = boto3.client("dynamodb", region_name=self.app.region)
        items = ddb.scan(TableName=self.app.resource("ApprovalsTable"))["Items"]
        (item,) = [i for i in items if "status" in i]  # not the execution's pointer
        return dict(item)


@pytest.fixture
def approval_harness(request: pytest.FixtureRequest) -> Iterator[ApprovalHarness]:
    """Use ``@pytest.mark.parameters({...})`` to override template parameters."""
    marker = request.node.get_closest_marker("parameters")
    overrides = dict(marker.args[0]) if marker else {}
    parameters = {
        **SAMPLE_PARAMETERS,
        "DiscordWebhookSecretName": SECRET_NAME,
        "NotificationEmail": "security-team@example.com",
        **overrides,
    }
    with DiscordStandIn() as sink, ApprovalServer() as server:
        env = {**FAST_ENV, "APPROVAL_BASE_URL": server.url, "LOCK_RETRY_BASE_SECONDS": "0.01"}
        with LocalApp(TEMPLATE, parameters=parameters, function_env_overrides=env) as app:
            server.attach(app)
            boto3.client("secretsmanager", region_name=app.region).create_secret(
                Name=SECRET_NAME, SecretString=sink.url
            )
            inbox = TopicInbox(app.resource("AlertTopic"), app.region)
            yield ApprovalHarness(Harness(app=app, sink=sink, inbox=inbox), server)
            server.attach(None)
            assert_least_privilege(app)
