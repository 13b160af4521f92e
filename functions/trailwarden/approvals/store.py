"""The approvals table: one item per approval request, keyed by SHA-256(opaque id).

Item: ``pk`` (the id's hash), ``status`` (pending | approved | rejected | expired |
superseded), ``taskToken`` (removed once the decision is delivered), ``nonceKey`` (the
request's secret HMAC key for page nonces, see tokens.py), ``summary`` (what the page
shows, JSON), ``expiresAt`` (the link's end), ``purgeAt`` (TTL: DynamoDB deletes the
item a while after expiry), ``executionId`` and, once decided, ``decidedAt`` /
``decidedIp`` / ``decidedUserAgent``, then ``deliveredAt`` or ``deliveryUnknownAt``.

A request posted to Discord with buttons (see discord_app.py) has one more item,
``pk = "interaction#" + SHA-256(interaction id)``, naming it (``current``): the
interaction id is what the buttons' ``custom_id`` carries, visible to the whole channel,
so it maps to the request only through this pointer and decides nothing at the link
endpoint (whose ids hash to plain hex). A decision from Discord also records
``discordUserId`` / ``discordUserName``.

One more item per execution, ``pk = "execution#" + SHA-256(execution id)``, names the
execution's newest request (``current``): a retried RequestApproval writes a new request
and moves the pointer, so the older link reads as superseded. It has no ``status``.

Every state change is a conditional write, so a decision happens at most once however
many requests race for it. Reads for pages leave the task token out (a projection).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from trailwarden.dal.aws_errors import error_code, translate

if TYPE_CHECKING:
    from collections.abc import Mapping

REQUEST_STORE_ACTIONS = frozenset({"dynamodb:PutItem"})
DECISION_STORE_ACTIONS = frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"})

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
SUPERSEDED = "superseded"
DECISIONS = {"approve": APPROVED, "reject": REJECTED}
EXECUTION_PREFIX = "execution#"
INTERACTION_PREFIX = "interaction#"

_CONDITION_FAILED = "ConditionalCheckFailedException"
_NAMES = {"#s": "status"}
# Everything a page needs; never the task token.
_PAGE_ATTRIBUTES = (
    "pk, #s, summary, workflow, eventId, executionId, createdAt, expiresAt, nonceKey, "
    "decidedAt, decidedIp, decidedUserAgent, deliveredAt, deliveryUnknownAt, "
    "discordUserId, discordUserName"
)


def execution_key(execution_id: str) -> str:
    return EXECUTION_PREFIX + hashlib.sha256(execution_id.encode("utf-8")).hexdigest()


def interaction_key(interaction_id: str) -> str:
    return INTERACTION_PREFIX + hashlib.sha256(interaction_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Decider:
    """Who decided, when a verified Discord interaction did (not a link's POST)."""

    discord_user_id: str
    discord_user_name: str


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
    nonce_key: str
    interaction_id: str = ""  # set when the request is posted to Discord with buttons


@dataclass(frozen=True)
class ApprovalRecord:
    id_hash: str
    status: str
    summary: Mapping[str, Any]
    workflow: str
    event_id: str
    created_at: int
    expires_at: int
    execution_id: str = ""
    nonce_key: str = ""
    task_token: str | None = None
    decided_at: int | None = None
    decided_ip: str = ""
    decided_user_agent: str = ""
    delivered_at: int | None = None
    delivery_unknown_at: int | None = None
    discord_user_id: str = ""
    discord_user_name: str = ""

    def expired(self, now: float) -> bool:
        return self.status == EXPIRED or (self.status == PENDING and now >= self.expires_at)

    @property
    def delivery_unknown(self) -> bool:
        """Decided, but whether the workflow received the decision is not known."""
        return (
            self.status in (APPROVED, REJECTED)
            and self.delivery_unknown_at is not None
            and self.delivered_at is None
        )

    def decision_output(self) -> dict[str, Any]:
        """What SendTaskSuccess hands the workflow (the same on a re-delivery)."""
        output: dict[str, Any] = {
            "status": self.status,
            "decidedAt": self.decided_at,
            "sourceIp": self.decided_ip,
            "userAgent": self.decided_user_agent[:512],
        }
        if self.discord_user_id:
            output["discordUserId"] = self.discord_user_id
            output["discordUserName"] = self.discord_user_name[:100]
        return output


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
        execution_id=_str(item, "executionId"),
        nonce_key=_str(item, "nonceKey"),
        task_token=_str(item, "taskToken") or None,
        decided_at=_num(item, "decidedAt"),
        decided_ip=_str(item, "decidedIp"),
        decided_user_agent=_str(item, "decidedUserAgent"),
        delivered_at=_num(item, "deliveredAt"),
        delivery_unknown_at=_num(item, "deliveryUnknownAt"),
        discord_user_id=_str(item, "discordUserId"),
        discord_user_name=_str(item, "discordUserName"),
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

    def _get(self, key: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            item: dict[str, Any] | None = self._ddb.get_item(
                TableName=self._table, Key=self._key(key), ConsistentRead=True, **kwargs
            ).get("Item")
        except ClientError as err:
            raise translate(err) from err
        return item

    # ------------------------------------------------------------------ request side

    def create(self, new: NewApproval) -> None:
        """Store the request, then point its execution at it (superseding older links)."""
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": new.id_hash},
                    "status": {"S": PENDING},
                    "taskToken": {"S": new.task_token},
                    "nonceKey": {"S": new.nonce_key},
                    "summary": {"S": json.dumps(new.summary, ensure_ascii=False, default=str)},
                    "workflow": {"S": new.workflow},
                    "eventId": {"S": new.event_id},
                    "executionId": {"S": new.execution_id},
                    "createdAt": {"N": str(new.created_at)},
                    "expiresAt": {"N": str(new.expires_at)},
                    "purgeAt": {"N": str(new.purge_at)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            if new.interaction_id:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": interaction_key(new.interaction_id)},
                        "current": {"S": new.id_hash},
                        "createdAt": {"N": str(new.created_at)},
                        "purgeAt": {"N": str(new.purge_at)},
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
            if new.execution_id:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": execution_key(new.execution_id)},
                        "current": {"S": new.id_hash},
                        "createdAt": {"N": str(new.created_at)},
                        "purgeAt": {"N": str(new.purge_at)},
                    },
                )
        except ClientError as err:
            raise translate(err) from err

    # ------------------------------------------------------------------ decision side

    def get(self, id_hash: str) -> ApprovalRecord | None:
        """The request as pages need it: without the task token."""
        if id_hash.startswith((EXECUTION_PREFIX, INTERACTION_PREFIX)):
            return None
        item = self._get(
            id_hash, ProjectionExpression=_PAGE_ATTRIBUTES, ExpressionAttributeNames=_NAMES
        )
        return _record(item) if item and "status" in item else None

    def for_interaction(self, interaction_id: str) -> str | None:
        """The request (id hash) a Discord button's interaction id names, if any."""
        item = self._get(
            interaction_key(interaction_id),
            ProjectionExpression="#c",
            ExpressionAttributeNames={"#c": "current"},
        )
        return (_str(item, "current") or None) if item else None

    def task_token(self, id_hash: str) -> str | None:
        """Only for re-delivering a decision whose first delivery was not confirmed."""
        item = self._get(id_hash, ProjectionExpression="taskToken")
        return (_str(item, "taskToken") or None) if item else None

    def superseded(self, record: ApprovalRecord) -> bool:
        """A later RequestApproval of the same execution replaced this request."""
        if not record.execution_id:
            return False
        item = self._get(
            execution_key(record.execution_id),
            ProjectionExpression="#c",
            ExpressionAttributeNames={"#c": "current"},
        )
        current = _str(item, "current") if item else ""
        return bool(current) and current != record.id_hash

    def ensure_nonce_key(self, id_hash: str, candidate: str, now: int) -> str | None:
        """A request stored before nonce keys existed gets one (once); None if not pending."""
        result = self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET nonceKey = if_not_exists(nonceKey, :key)",
            ConditionExpression="#s = :pending AND expiresAt > :now",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                ":key": {"S": candidate},
                ":pending": {"S": PENDING},
                ":now": {"N": str(now)},
            },
            ReturnValues="UPDATED_NEW",
        )
        return (_str(result["Attributes"], "nonceKey") or None) if result else None

    def decide(
        self,
        id_hash: str,
        nonce_key: str,
        status: str,
        *,
        now: int,
        source_ip: str,
        user_agent: str,
        decider: Decider | None = None,
    ) -> ApprovalRecord | None:
        """Pending + not expired + the key the nonce was checked against -> decided, once.

        Returns the decided record (with its task token), or None when the condition
        failed: already decided, expired, superseded or unknown. The link flow and the
        Discord buttons both decide here; ``decider`` names the Discord user.
        """
        extra_set, extra_values = "", {}
        if decider is not None:
            extra_set = ", discordUserId = :uid, discordUserName = :uname"
            extra_values = {
                ":uid": {"S": decider.discord_user_id[:32]},
                ":uname": {"S": decider.discord_user_name[:100] or "-"},
            }
        result = self._update(
            Key=self._key(id_hash),
            UpdateExpression=(
                "SET #s = :status, decidedAt = :now, decidedIp = :ip, decidedUserAgent = :ua"
                + extra_set
            ),
            ConditionExpression="#s = :pending AND expiresAt > :now AND nonceKey = :key",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                ":status": {"S": status},
                ":pending": {"S": PENDING},
                ":now": {"N": str(now)},
                ":key": {"S": nonce_key},
                ":ip": {"S": source_ip[:64]},
                ":ua": {"S": user_agent[:512]},
                **extra_values,
            },
            ReturnValues="ALL_NEW",
        )
        return _record(result["Attributes"]) if result else None

    def delivered(self, id_hash: str, now: int, evidence: str = "accepted") -> None:
        """The workflow got the decision (or its token is spent): drop the token."""
        self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET deliveredAt = :now, deliveryEvidence = :why REMOVE taskToken",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":now": {"N": str(now)}, ":why": {"S": evidence}},
        )

    def delivery_unknown(self, id_hash: str, now: int) -> None:
        """SendTaskSuccess may or may not have arrived (timeout, connection dropped): the
        decision stays recorded and the token is kept for a re-delivery."""
        self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET deliveryUnknownAt = :now",
            ConditionExpression=(
                "#s IN (:approved, :rejected) AND attribute_not_exists(deliveredAt)"
            ),
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                ":now": {"N": str(now)},
                ":approved": {"S": APPROVED},
                ":rejected": {"S": REJECTED},
            },
        )

    def start_sending(self, id_hash: str, now: int) -> bool | None:
        """Mark that a decision is being handed to the workflow. True for the first
        attempt, False when an earlier attempt (a retried or duplicated asynchronous
        resume) may already have delivered it, None when it is not a decided,
        undelivered request. A later "token gone" after an earlier attempt means that
        attempt arrived, never "expired"."""
        undelivered = "#s IN (:approved, :rejected) AND attribute_not_exists(deliveredAt)"
        values = {
            ":now": {"N": str(now)},
            ":approved": {"S": APPROVED},
            ":rejected": {"S": REJECTED},
        }
        first = self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET sendingAt = :now",
            ConditionExpression=f"{undelivered} AND attribute_not_exists(sendingAt)",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues=values,
        )
        if first is not None:
            return True
        again = self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET sentAgainAt = :now",
            ConditionExpression=undelivered,
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues=values,
        )
        return None if again is None else False

    def reopen(self, id_hash: str, status: str, now: int) -> None:
        """Step Functions answered with an error (throttled, 5xx): the decision surely did
        not arrive, so undo it and let the approver decide again. Only this decision is
        undone."""
        self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET #s = :pending REMOVE decidedAt, decidedIp, decidedUserAgent, "
            "discordUserId, discordUserName, sendingAt",
            ConditionExpression="#s = :status AND decidedAt = :now",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                ":pending": {"S": PENDING},
                ":status": {"S": status},
                ":now": {"N": str(now)},
            },
        )

    def too_late(self, id_hash: str, status: str, now: int, final: str = EXPIRED) -> None:
        """The workflow had already stopped waiting for this token (timed out, or a retry
        replaced the request): record the decision as late, ending ``final``."""
        self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET #s = :final, lateDecision = :status, lateAt = :now "
            "REMOVE taskToken",
            # A delivered decision is never rewritten as late (a retried resume).
            ConditionExpression="#s = :status AND attribute_not_exists(deliveredAt)",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                ":final": {"S": final},
                ":status": {"S": status},
                ":now": {"N": str(now)},
            },
        )

    def supersede(self, id_hash: str, now: int) -> None:
        """A pending request replaced by a newer one: it can never be decided."""
        self._update(
            Key=self._key(id_hash),
            UpdateExpression="SET #s = :superseded, supersededAt = :now REMOVE taskToken",
            ConditionExpression="#s = :pending",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                ":superseded": {"S": SUPERSEDED},
                ":pending": {"S": PENDING},
                ":now": {"N": str(now)},
            },
        )
