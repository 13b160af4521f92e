"""Executions: state machine runs (moto's ASL executor) and Lambda invocations, awaited
by polling with a deadline."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from .lambda_runtime import LocalFunction

LOG = logging.getLogger("trailwarden_local.engine")

_POLL_SECONDS = 0.01


@dataclass(frozen=True)
class InvokeResult:
    payload: Any
    function_error: str | None


class Executions:
    """Starts, invokes and follows runs through moto's APIs (``client`` gives the clients)."""

    def __init__(
        self, client: Callable[[str], Any], functions: Mapping[str, LocalFunction]
    ) -> None:
        self._client = client
        self._functions = functions
        self.started: list[str] = []  # execution ARNs started by the bus, in order

    def start(self, state_machine_arn: str, name: str, payload: Any) -> str:
        arn: str = self._client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
        )["executionArn"]
        self.started.append(arn)
        return arn

    def invoke(self, function: str, event: Any) -> InvokeResult:
        """Invoke a function (logical id, name or ARN) through moto's Lambda API."""
        name = self._functions[function].arn if function in self._functions else function
        response = self._client("lambda").invoke(
            FunctionName=name, Payload=json.dumps(event).encode("utf-8")
        )
        raw = response["Payload"].read()
        payload = json.loads(raw) if raw else None
        return InvokeResult(payload, response.get("FunctionError"))

    def wait(self, execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll until the execution leaves RUNNING; return ``describe_execution``."""
        sfn = self._client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            description: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if description["status"] not in ("RUNNING", "PENDING_REDRIVE"):
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"execution {execution_arn} still RUNNING after {timeout}s; "
                    f"states entered: {self.entered_states(execution_arn)}"
                )
            time.sleep(_POLL_SECONDS)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self._client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def entered_states(self, execution_arn: str) -> list[str]:
        """Names of the states the execution entered, in order."""
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(execution_arn)
            if "stateEnteredEventDetails" in e
        ]

    def first_task_output(self, execution_arn: str) -> dict[str, Any]:
        """The first task's result (for this app's workflows: Assess's Finding)."""
        for event in self.history(execution_arn):
            for key in ("lambdaFunctionSucceededEventDetails", "taskSucceededEventDetails"):
                details = event.get(key)
                if details and "output" in details:
                    output = json.loads(details["output"])
                    return output if isinstance(output, dict) else {}
        return {}

    def drain(self, state_machine_arns: Iterable[str], timeout: float) -> None:
        """Wait (bounded) for every running execution; stop those still running after."""
        sfn = self._client("stepfunctions")
        running: set[str] = set(self.started)
        for arn in state_machine_arns:
            paginator = sfn.get_paginator("list_executions")
            for page in paginator.paginate(stateMachineArn=arn, statusFilter="RUNNING"):
                running.update(e["executionArn"] for e in page["executions"])
        deadline = time.monotonic() + timeout
        for arn in sorted(running):
            while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                if time.monotonic() > deadline:
                    LOG.warning("stopping execution %s: still RUNNING at shutdown", arn)
                    sfn.stop_execution(executionArn=arn, cause="LocalApp shutting down")
                    break
                time.sleep(_POLL_SECONDS)
