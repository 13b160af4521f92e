"""RequestApproval: store the task token under a hashed opaque id, send the link.

The state machine's ``RequestApproval`` task (``lambda:invoke.waitForTaskToken``) hands
this function the task token with the Finding. The token goes to DynamoDB only; the
message (Discord + email) carries one link, ``<endpoint>/approvals/<opaque id>``, whose
id is 256 random bits. The id itself is not stored either: only its SHA-256. Each
request also gets its own random nonce key (kept in the item, never shown) from which
its pages' nonces are derived (tokens.page_nonce).

A retried RequestApproval (same execution) stores a new request and points the
execution at it: the older link then reads as superseded and can decide nothing.

The link expires when the workflow stops waiting. Step Functions' timer starts when
the state is entered, so the link's end is computed from that same moment
(``$$.State.EnteredTime``) and never outlives the wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from trailwarden.approvals import tokens
from trailwarden.approvals.page import local_time
from trailwarden.approvals.store import REQUEST_STORE_ACTIONS, NewApproval
from trailwarden.errors import InvalidEvent
from trailwarden.findings import Finding
from trailwarden.notify import messages
from trailwarden.notify.service import NOTIFY_ACTIONS, Webhook, deliver

if TYPE_CHECKING:
    from trailwarden.approvals.store import ApprovalStore
    from trailwarden.settings import ApprovalSettings, NotifySettings

REQUEST_ACTIONS = REQUEST_STORE_ACTIONS | NOTIFY_ACTIONS


@dataclass(frozen=True)
class ApprovalTask:
    """The RequestApproval task's payload (see statemachines/remediation.asl.json)."""

    task_token: str
    finding: Finding
    timeout_seconds: int
    entered_at: float | None
    execution_id: str

    @classmethod
    def from_payload(cls, payload: Any, default_timeout: int) -> ApprovalTask:
        if not isinstance(payload, Mapping):
            raise InvalidEvent("approval payload is not an object")
        token = payload.get("taskToken")
        if not isinstance(token, str) or not 0 < len(token) <= tokens.MAX_TASK_TOKEN_LENGTH:
            raise InvalidEvent("approval payload has no usable task token")
        state = payload.get("finding")
        if not isinstance(state, Mapping):
            raise InvalidEvent("approval payload has no finding")
        try:
            finding = Finding.from_dict(state)
        except (KeyError, ValueError) as err:
            raise InvalidEvent(f"approval payload's finding is unreadable: {err}") from err
        timeout = state.get("approvalTimeoutSeconds", default_timeout)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
            raise InvalidEvent("approvalTimeoutSeconds is not a positive integer")
        return cls(
            task_token=token,
            finding=finding,
            timeout_seconds=timeout,
            entered_at=_epoch(payload.get("enteredTime")),
            execution_id=str(payload.get("executionId") or ""),
        )


def _epoch(iso: Any) -> float | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def approval_message(
    finding: Finding, link: str, expires_at: int, lang: str, zone: Any
) -> messages.Message:
    """The detection message plus the link and when it expires."""
    base = messages.detected(finding, lang, zone)
    return replace(
        base,
        fields=(*base.fields, (messages.t("expires", lang), local_time(expires_at, zone))),
        links=((messages.t("approve_link", lang), link),),
    )


def page_summary(message: messages.Message) -> dict[str, Any]:
    """What the confirmation page shows: the same content as the message (raw text)."""
    return {
        "title": message.title,
        "summary": message.summary,
        "severity": str(message.severity),
        "fields": [[name, value] for name, value in message.fields],
    }


def request_approval(
    payload: Any,
    *,
    store: ApprovalStore,
    settings: ApprovalSettings,
    notify: NotifySettings,
    sns: Any,
    discord: Webhook | None,
    clock: Callable[[], float] = time.time,
    new_id: Callable[[], str] = tokens.new_secret,
) -> dict[str, Any]:
    """Returns what was sent (never the token or the id: this output is logged)."""
    task = ApprovalTask.from_payload(payload, settings.timeout_seconds)
    if not settings.base_url:
        raise InvalidEvent("APPROVAL_BASE_URL is not set: no link to send")
    now = clock()
    started = task.entered_at if task.entered_at is not None and task.entered_at <= now else now
    expires_at = int(started + task.timeout_seconds)
    approval_id = new_id()
    link = f"{settings.base_url.rstrip('/')}/approvals/{approval_id}"
    message = approval_message(task.finding, link, expires_at, notify.language, notify.zone)
    store.create(
        NewApproval(
            id_hash=tokens.digest(approval_id),
            task_token=task.task_token,
            summary=page_summary(message),
            workflow=task.finding.workflow,
            event_id=task.finding.event_id,
            execution_id=task.execution_id,
            created_at=int(now),
            expires_at=expires_at,
            purge_at=expires_at + settings.retention_seconds,
            nonce_key=tokens.new_secret(),
        )
    )
    delivery = deliver(
        message, sns=sns, topic_arn=notify.topic_arn, discord=discord, warnings=notify.warnings
    )
    return {"status": "requested", "expiresAt": expires_at, "delivery": delivery.to_dict()}
