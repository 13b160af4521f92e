"""The incidents table: dedupe claims (expire by TTL) and audit records (kept).

One table, one key ``pk``. ``dedupe#<key>`` items carry ``expiresAt`` (TTL);
``audit#<key>`` items have no TTL and are never deleted by the app. The key is the
event's incident key (its eventID, or the fallback of :func:`trailwarden.models.events.record_key`).

One rule keeps every ``pk`` short and safe whatever the input: a key in the plain GUID
shape CloudTrail and EventBridge write is used as it is (readable in the console);
anything else is replaced by ``sha256:<hex>`` of it, and the key itself is kept in the
item's ``key`` attribute, cut to :data:`MAX_KEY_ATTRIBUTE_CHARS`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from trailwarden.dal.aws_errors import error_code, translate

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

STORE_ACTIONS = frozenset({"dynamodb:PutItem"})
# The alert-only path also gives a claim back when no channel delivered (see alert.py).
ALERT_STORE_ACTIONS = STORE_ACTIONS | {"dynamodb:DeleteItem"}

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_KEY_ATTRIBUTE_CHARS = 256


def item_key(kind: str, key: str) -> str:
    """``<kind>#<key>`` for a GUID-shaped key, else ``<kind>#sha256:<hex of key>``."""
    if _GUID.fullmatch(key):
        return f"{kind}#{key}"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}#sha256:{digest}"


def _key_attribute(key: str) -> dict[str, str]:
    """The key as written, for people reading the table: bounded and plain ASCII."""
    shown = key.encode("ascii", "backslashreplace").decode("ascii")
    return {"S": shown[:MAX_KEY_ATTRIBUTE_CHARS] or "-"}


class IncidentStore:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        dedupe_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ddb = dynamodb
        self._table = table
        self._ttl = dedupe_ttl_seconds
        self._clock = clock

    def claim(self, event_id: str, workflow: str) -> bool:
        """Claim an incident once. False when this key was already claimed.

        DynamoDB deletes expired items lazily, so an expired claim counts as free.
        """
        now = int(self._clock())
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": item_key("dedupe", event_id)},
                    "key": _key_attribute(event_id),
                    "workflow": {"S": workflow},
                    "claimedAt": {"N": str(now)},
                    "expiresAt": {"N": str(now + self._ttl)},
                },
                ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise translate(err) from err
        return True

    def release(self, event_id: str) -> None:
        """Give a claim back, so a retried delivery of the same event is not a duplicate."""
        try:
            self._ddb.delete_item(
                TableName=self._table, Key={"pk": {"S": item_key("dedupe", event_id)}}
            )
        except ClientError as err:
            raise translate(err) from err

    def record_audit(self, event_id: str, workflow: str, record: Mapping[str, Any]) -> None:
        """Write the audit record (no TTL). A retried Report overwrites the same item."""
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": item_key("audit", event_id)},
                    "key": _key_attribute(event_id),
                    "workflow": {"S": workflow},
                    "recordedAt": {"N": str(int(self._clock()))},
                    "record": {"S": json.dumps(record, default=str, sort_keys=True)},
                },
            )
        except ClientError as err:
            raise translate(err) from err
