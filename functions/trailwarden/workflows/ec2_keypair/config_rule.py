"""The key-pair Config rule: an EC2 instance without a key name is NON_COMPLIANT.

AWS Config invokes the rule's function on every configuration change of an
``AWS::EC2::Instance`` with ``{"invokingEvent": "<json>", "resultToken": ...,
"eventLeftScope": ...}``. The invoking event carries the configuration item, or,
when the item is over Config's notification size limit
(``OversizedConfigurationItemChangeNotification``), only a summary: the item is then
fetched with GetResourceConfigHistory. The result goes back with PutEvaluations.

- no ``keyName``                                   -> NON_COMPLIANT
- a key name                                       -> COMPLIANT
- shutting-down / terminated instance, a deleted or
  unrecorded item, or a resource out of scope      -> NOT_APPLICABLE

:func:`evaluate_item` is pure; :func:`evaluate_invocation` reads and reports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from trailwarden.dal.aws_errors import translate
from trailwarden.models.errors import InvalidEvent, TransientAwsError

# Neither action supports resource-level permissions: the template grants them on "*".
RULE_ACTIONS = frozenset({"config:PutEvaluations", "config:GetResourceConfigHistory"})
RESOURCE_TYPE = "AWS::EC2::Instance"
CHANGE = "ConfigurationItemChangeNotification"
OVERSIZED = "OversizedConfigurationItemChangeNotification"
APPLICABLE_STATUSES = frozenset({"OK", "ResourceDiscovered"})
GONE_STATES = frozenset({"shutting-down", "terminated"})
ANNOTATION_LIMIT = 256  # PutEvaluations' limit


class Compliance(StrEnum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"


@dataclass(frozen=True)
class Evaluation:
    resource_type: str
    resource_id: str
    compliance: Compliance
    annotation: str
    ordering_timestamp: datetime

    def to_api(self) -> dict[str, Any]:
        """The PutEvaluations ``Evaluations[]`` item."""
        return {
            "ComplianceResourceType": self.resource_type,
            "ComplianceResourceId": self.resource_id,
            "ComplianceType": str(self.compliance),
            "Annotation": self.annotation[:ANNOTATION_LIMIT],
            "OrderingTimestamp": self.ordering_timestamp,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
            "complianceType": str(self.compliance),
            "annotation": self.annotation[:ANNOTATION_LIMIT],
            "orderingTimestamp": self.ordering_timestamp.isoformat(),
        }


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _timestamp(value: Any) -> datetime:
    """Config's capture time: ISO text in the invoking event, a datetime from boto3."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _configuration(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """``configuration`` is an object in the invoking event, JSON text in the history API."""
    raw = item.get("configuration")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return _mapping(raw)


def evaluate_item(item: Mapping[str, Any], *, event_left_scope: bool = False) -> Evaluation:
    """Pure: the compliance of one configuration item of an EC2 instance."""
    resource_id = str(item.get("resourceId") or "")
    resource_type = str(item.get("resourceType") or RESOURCE_TYPE)
    when = _timestamp(item.get("configurationItemCaptureTime"))

    def result(compliance: Compliance, annotation: str) -> Evaluation:
        return Evaluation(resource_type, resource_id, compliance, annotation, when)

    status = str(item.get("configurationItemStatus") or "")
    if resource_type != RESOURCE_TYPE:
        return result(Compliance.NOT_APPLICABLE, f"{resource_type} is not an EC2 instance")
    if event_left_scope:
        return result(Compliance.NOT_APPLICABLE, "the instance left the rule's scope")
    if status not in APPLICABLE_STATUSES:
        return result(Compliance.NOT_APPLICABLE, f"configuration item is {status or 'empty'}")
    configuration = _configuration(item)
    state = str(_mapping(configuration.get("state")).get("name") or "")
    if state in GONE_STATES:
        return result(Compliance.NOT_APPLICABLE, f"the instance is {state}")
    key_name = configuration.get("keyName")
    if isinstance(key_name, str) and key_name:
        return result(Compliance.COMPLIANT, f"launched with key pair {key_name}")
    return result(Compliance.NON_COMPLIANT, "launched without a key pair (no KeyName)")


def fetch_item(summary: Mapping[str, Any], config: Any) -> Mapping[str, Any]:
    """The latest configuration item of an oversized notification's resource."""
    resource_type = str(summary.get("resourceType") or RESOURCE_TYPE)
    resource_id = str(summary.get("resourceId") or "")
    if not resource_id:
        raise InvalidEvent("oversized notification without a resourceId")
    try:
        items = config.get_resource_config_history(
            resourceType=resource_type, resourceId=resource_id, limit=1
        )["configurationItems"]
    except ClientError as err:
        raise translate(err) from err
    if not items:
        raise TransientAwsError(f"no configuration item recorded yet for {resource_id}")
    return _mapping(items[0])


def configuration_item(invoking_event: Mapping[str, Any], config: Any) -> Mapping[str, Any] | None:
    """The item to evaluate, or None for a notification this rule does not evaluate."""
    message_type = invoking_event.get("messageType")
    if message_type == CHANGE:
        return _mapping(invoking_event.get("configurationItem"))
    if message_type == OVERSIZED:
        return fetch_item(_mapping(invoking_event.get("configurationItemSummary")), config)
    return None


def parse_invocation(event: Any) -> tuple[Mapping[str, Any], str, bool]:
    """(invoking event, result token, event left scope) from the rule's Lambda input."""
    if not isinstance(event, Mapping):
        raise InvalidEvent("a Config rule invocation is an object")
    raw = event.get("invokingEvent")
    try:
        invoking = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as err:
        raise InvalidEvent(f"invokingEvent is not JSON: {err}") from err
    token = event.get("resultToken")
    if not isinstance(invoking, Mapping) or not isinstance(token, str) or not token:
        raise InvalidEvent("Config rule invocation without invokingEvent or resultToken")
    left = event.get("eventLeftScope")
    return invoking, token, left is True or left == "true"


def evaluate_invocation(event: Any, config: Any) -> list[Evaluation]:
    """Evaluate what Config sent and report it with PutEvaluations. Returns the results."""
    invoking, token, left_scope = parse_invocation(event)
    item = configuration_item(invoking, config)
    if item is None:
        return []  # e.g. ScheduledNotification: this rule is change-triggered only
    evaluations = [evaluate_item(item, event_left_scope=left_scope)]
    try:
        response = config.put_evaluations(
            Evaluations=[e.to_api() for e in evaluations], ResultToken=token
        )
    except ClientError as err:
        raise translate(err) from err
    failed = response.get("FailedEvaluations") or []
    if failed:
        raise TransientAwsError(f"Config rejected {len(failed)} evaluation(s): {failed}")
    return evaluations
