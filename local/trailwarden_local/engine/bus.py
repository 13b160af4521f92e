"""Bus routing: an event goes to the targets of every ENABLED rule (read from moto) whose
pattern matches, with EventBridge semantics (:mod:`trailwarden_local.patterns`)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import UnsupportedTemplateFeature

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .executions import Executions
    from .stack import LocalRule

LOG = logging.getLogger("trailwarden_local.engine")

_EXECUTION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Delivery:
    """One rule target an event was delivered to by :meth:`EventBus.put_event`."""

    rule_logical_id: str | None  # None for a rule not from the template
    rule_name: str
    target_id: str
    target_arn: str
    kind: str  # "stepfunctions" | "lambda"
    input: Any
    execution_arn: str | None = None
    lambda_result: Any = None
    function_error: str | None = None
    error: str | None = None
    dead_lettered: bool = False
    event_bus: str = "default"  # the bus whose rule matched
    forwarded_by: str | None = None  # organisation mode: the member forwarder rule


class EventBus:
    """Routes events to rule targets: state machines start, functions are invoked."""

    def __init__(
        self,
        client: Callable[[str], Any],
        executions: Executions,
        rules: Mapping[str, LocalRule],
        *,
        region: str,
        account_id: str,
    ) -> None:
        self._client = client
        self._executions = executions
        self._rules = rules
        self._region = region
        self._account_id = account_id
        self._matchers: dict[str, Callable[[Mapping[str, Any]], bool]] = {}

    def matcher(self, pattern: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
        """The compiled pattern (compiled once; raises PatternError for a bad pattern)."""
        key = json.dumps(pattern, sort_keys=True)
        if key not in self._matchers:
            from ..patterns import compile_pattern

            self._matchers[key] = compile_pattern(pattern)
        return self._matchers[key]

    def _envelope(self, event: Mapping[str, Any]) -> dict[str, Any]:
        full = dict(event)
        full.setdefault("version", "0")
        full.setdefault("id", str(uuid.uuid4()))
        full.setdefault("time", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        full.setdefault("region", self._region)
        full.setdefault("account", self._account_id)
        full.setdefault("resources", [])
        return full

    def envelope(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """``event`` with the envelope fields EventBridge fills in (see put_event)."""
        return self._envelope(event)

    def put_event(
        self, event: Mapping[str, Any], *, event_bus_name: str = "default"
    ) -> list[Delivery]:
        """Route ``event`` like EventBridge: every ENABLED rule (read from moto) that matches.

        Missing envelope fields (id, time, region, account, version, resources) are filled
        in as EventBridge does. State machine targets start an execution (returned, not
        awaited); Lambda targets are invoked through moto (so the handler runs now).
        """
        full = self._envelope(event)
        events = self._client("events")
        by_name = {rule.name: rule.logical_id for rule in self._rules.values()}
        deliveries: list[Delivery] = []
        for page in events.get_paginator("list_rules").paginate(EventBusName=event_bus_name):
            for rule in page["Rules"]:
                if not str(rule.get("State", "")).startswith("ENABLED"):
                    continue
                if not rule.get("EventPattern"):
                    continue  # scheduled rule
                if not self.matcher(json.loads(rule["EventPattern"]))(full):
                    continue
                targets = events.list_targets_by_rule(
                    Rule=rule["Name"], EventBusName=event_bus_name
                )["Targets"]
                for target in targets:
                    deliveries.append(
                        self._deliver(rule, by_name.get(rule["Name"]), target, full, event_bus_name)
                    )
        return deliveries

    def _deliver(
        self,
        rule: Mapping[str, Any],
        rule_lid: str | None,
        target: Mapping[str, Any],
        event: Mapping[str, Any],
        event_bus_name: str = "default",
    ) -> Delivery:
        from botocore.exceptions import ClientError

        arn = str(target["Arn"])
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        kinds = {"states": "stepfunctions", "lambda": "lambda"}
        if service not in kinds:
            raise UnsupportedTemplateFeature(
                f"rule {rule['Name']}: target {arn} (only Step Functions and Lambda targets are"
                " delivered locally)"
            )
        transforms = {"Input", "InputPath", "InputTransformer"} & set(target)
        if transforms:
            raise UnsupportedTemplateFeature(f"rule {rule['Name']}: target {sorted(transforms)}")
        base = {
            "rule_logical_id": rule_lid,
            "rule_name": rule["Name"],
            "target_id": target["Id"],
            "target_arn": arn,
            "kind": kinds[service],
            "input": event,
            "event_bus": event_bus_name,
        }
        try:
            if service == "states":
                prefix = _EXECUTION_NAME_UNSAFE.sub("-", rule["Name"])[:47]
                name = f"{prefix}-{uuid.uuid4().hex}"
                return Delivery(**base, execution_arn=self._executions.start(arn, name, event))
            result = self._executions.invoke(arn, event)
            return Delivery(
                **base, lambda_result=result.payload, function_error=result.function_error
            )
        except ClientError as exc:
            dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
            if dlq:
                self._dead_letter(dlq, event, rule["Arn"], arn, exc)
            LOG.warning("delivery of %s to %s failed: %s", rule["Name"], arn, exc)
            return Delivery(**base, error=str(exc), dead_lettered=bool(dlq))

    def _dead_letter(
        self, queue_arn: str, event: Mapping[str, Any], rule_arn: str, target_arn: str, exc: Any
    ) -> None:
        sqs = self._client("sqs")
        _, _, _, _, account, name = queue_arn.split(":", 5)
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        code = exc.response["Error"].get("Code", "Error")
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RULE_ARN": {"DataType": "String", "StringValue": rule_arn},
                "TARGET_ARN": {"DataType": "String", "StringValue": target_arn},
                "ERROR_CODE": {"DataType": "String", "StringValue": code},
            },
        )
