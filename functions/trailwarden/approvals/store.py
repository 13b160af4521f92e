"""The approvals table: one item per approval request, keyed by SHA-256(opaque id).

Item: ``pk`` (the id's hash), ``status`` (pending | approved | rejected | expired),
``taskToken`` (removed once the decision is delivered), ``summary`` (what the page
shows, JSON), ``expiresAt`` (the link's end), ``purgeAt`` (TTL: DynamoDB deletes the
item a while after expiry), ``nonces`` (hash -> issued at, one per page render) and,
once decided, ``decidedAt`` / ``decidedIp`` / ``decidedUserAgent``.

Every state change is a conditional write, so a decision happens at most once however
many requests race for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from trailwarden.aws_errors import error_code, translate

if TYPE_CHECKING:
    from collections.abc import Mapping

REQUEST_STORE_ACTIONS = frozenset({"dynamodb:PutItem"})
DECISION_STORE_ACTIONS = frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"})

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
DECISIONS = {"approve": APPROVED, "reject": REJECTED}
MAX_NONCES = 20  # page renders remembered per request; older ones are dropped past this

_CONDITION_FAILED = "ConditionalCheckFailedException"
_NAMES = {"#s": "status"}


@dataclass(frozen=True)
class NewApproval:
    id_hash: str
    task_token: str
    summary: Mapping[str, Any]
    workflow: str
    event_id: str
    execution_id: str
    created_at: int
    expires_at: int
    purge_at: int


@dataclass(frozen=True)
class ApprovalRecord:
    id_hash: str
    status: str
    summary: Mapping[str, Any]
    workflow: str
    event_id: str
    created_at: int
    expires_at: int
    task_token: str | None = None
    decided_at: int | None = None
    decided_ip: str = ""
    decided_user_agent: str = ""
    nonce_count: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def expired(self, now: float) -> bool:
        return self.status == EXPIRED or (self.status == PENDING and now >= self.expires_at)


def _num(item: Mapping[str, Any], key: str) -> int | None:
    value = item.get(key, {}).get("N")
    return int(value) if value is not None else None


def _str(item: Mapping[str, Any], key: str) -> str:
    return str(item.get(key, {}).get("S", ""))


def _record(item: Mapping[str, Any]) -> ApprovalRecord:
    try:
        summary = json.loads(_str(item, "summary") or "{}")
    except ValueError:
        summary = {}
    return ApprovalRecord(
        id_hash=_str(item, "pk"),
        status=_str(item, "status"),
        summary=summary if isinstance(summary, dict) else {},
        workflow=_str(item, "workflow"),
        event_id=_str(item, "eventId"),
        created_at=_num(item, "createdAt") or 0,
        expires_at=_num(item, "expiresAt") or 0,
        task_token=_str(item, "taskToken") or None,
        decided_at=_num(item, "decidedAt"),
        decided_ip=_str(item, "decidedIp"),
        decided_user_agent=_str(item, "decidedUserAgent"),
        nonce_count=len(item.get("nonces", {}).get("M", {})),
    )


class ApprovalStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._ddb = dynamodb
        self._table = table

    def _key(self, id_hash: str) -> dict[str, Any]:
        return {"pk": {"S": id_hash}}

    def _update(self, **kwargs: Any) -> dict[str, Any] | None:
        """UpdateItem; None when its condition failed."""
        try:
            result: dict[str, Any] = self._ddb.update_item(TableName=self._table, **kwargs)
        except ClientError as err:
            if error_code(err) == _CONDITION_FAILED:
                return None
            raise translate(err) from err
        return result

    # ------------------------------------------------------------------ request side

    def create(self, new: NewApproval) -> None:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": new.id_hash},
                    "status": {"S": PENDING},
                    "taskToken": {"S": new.task_token},
                    "summary": {"S": json.dumps(new.summary, ensure_ascii=False, default=str)},
                    "workflow": {"S": new.workflow},
                    "eventId": {"S": new.event_id},
                    "executionId": {"S": new.execution_id},
                    "createdAt": {"N": str(new.created_at)},
                    "expiresAt": {"N": str(new.expires_at)},
                    "purgeAt": {"N": str(new.purge_at)},
                    "nonces": {"M": {}},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as err:
            raise translate(err) from err

    # ------------------------------------------------------------------ decision side

    def get(self, id_hash: str) -> ApprovalRecord | None:
        try:
            item = self._ddb.get_item(
                TableName=self._table, Key=self._key(id_hash), ConsistentRead=True
            ).get("Item")
        except ClientError as err:
            raise translate(err) from err
        return _record(item) if item else None

    def add_nonce(self, id_hash: str, nonce_hash: str, now: int) -> bool:
        """Remember a page render's nonce. False when the request is no longer pending."""
        values = {":pending": {"S": PENDING}, ":now": {"N": str(now)}}
        pending = "#s = :pending AND expiresAt > :now"
        added = self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET nonces.#n = :now",
            ConditionExpression=f"{pending} AND size(nonces) < :max",
            ExpressionAttributeNames={**_NAMES, "#n": nonce_hash},
            ExpressionAttributeValues={**values, ":max": {"N": str(MAX_NONCES)}},
        )
        if added is not None:
            return True
        # Full (or no longer pending): start a fresh set if it is still pending. Pages
        # rendered before this one go stale and say "reload".
        return (
            self._update(
                Key=self._key(id_hash),
                UpdateExpression="SET nonces = :fresh",
                ConditionExpression=pending,
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={
                    **values,
                    ":fresh": {"M": {nonce_hash: {"N": str(now)}}},
                },
            )
            is not None
        )

    def decide(
        self,
        id_hash: str,
        nonce_hash: str,
        status: str,
        *,
        now: int,
        source_ip: str,
        user_agent: str,
    ) -> ApprovalRecord | None:
        """Pending + not expired + a nonce this request issued -> decided, exactly once.

        Returns the decided record (with its task token), or None when the condition
        failed: already decided, expired, unknown, or a nonce it never issued.
        """
        result = self._update(
            Key=self._key(id_hash),
            UpdateExpression=(
                "SET #s = :status, decidedAt = :now, decidedIp = :ip, "
                "decidedUserAgent = :ua REMOVE nonces"
            ),
            ConditionExpression=(
                "#s = :pending AND expiresAt > :now AND attribute_exists(nonces.#n)"
            ),
            ExpressionAttributeNames={**_NAMES, "#n": nonce_hash},
            ExpressionAttributeValues={
                ":status": {"S": status},
                ":pending": {"S": PENDING},
                ":now": {"N": str(now)},
                ":ip": {"S": source_ip[:64]},
                ":ua": {"S": user_agent[:512]},
            },
            ReturnValues="ALL_NEW",
        )
        return _record(result["Attributes"]) if result else None

    def delivered(self, id_hash: str, now: int) -> None:
        """The workflow got the decision: the token is spent, so drop it."""
        self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET deliveredAt = :now REMOVE taskToken",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":now": {"N": str(now)}},
        )

    def reopen(self, id_hash: str, status: str, now: int) -> None:
        """The decision could not be handed to the workflow (throttled, 5xx): undo it, so
        the approver can decide again from a fresh page. Only this decision is undone."""
        self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET #s = :pending, nonces = :none "
            "REMOVE decidedAt, decidedIp, decidedUserAgent",
            ConditionExpression="#s = :status AND decidedAt = :now",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                ":pending": {"S": PENDING},
                ":none": {"M": {}},
                ":status": {"S": status},
                ":now": {"N": str(now)},
            },
        )

    def too_late(self, id_hash: str, status: str, now: int) -> None:
        """The workflow had already stopped waiting (timed out): record it as expired."""
        self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET #s = :expired, lateDecision = :status, lateAt = :now "
            "REMOVE taskToken",
            ConditionExpression="#s = :status",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                ":expired": {"S": EXPIRED},
                ":status": {"S": status},
                ":now": {"N": str(now)},
            },
        )
