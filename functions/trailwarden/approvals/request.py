"""RequestApproval: store the task token under a hashed opaque id, send the link.

The state machine's ``RequestApproval`` task (``lambda:invoke.waitForTaskToken``) hands
this function the task token with the Finding. The token goes to DynamoDB only; the
message (Discord + email) carries one link, ``<endpoint>/approvals/<opaque id>``, whose
id is 256 random bits. The id itself is not stored either: only its SHA-256. Each
request also gets its own random nonce key (kept in the item, never shown) from which
its pages' nonces are derived (tokens.page_nonce).

A retried RequestApproval (same execution) stores a new request and points the
execution at it: the older link then reads as superseded and can decide nothing.

With a Discord application configured (``bot``), the request is posted by the bot with
Approve / Reject buttons and no link anywhere (Discord, email): see discord_app.py. The
buttons carry a separate random interaction id; the request's own id is never sent.
Without the buttons nobody could decide, so a failed bot post raises NotificationFailed:
the state's Catch reports the failure (nothing changes) and the stored request expires
unused.

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
from trailwarden.models.errors import InvalidEvent
from trailwarden.models.findings import Finding
from trailwarden.notify import messages
from trailwarden.notify.service import NOTIFY_ACTIONS, Webhook
from trailwarden.notify.sinks import AlreadyDelivered, Notice, deliver_all

if TYPE_CHECKING:
    from collections.abc import Sequence

    from trailwarden.approvals.store import ApprovalStore
    from trailwarden.models.settings import ApprovalSettings, NotifySettings
    from trailwarden.notify.sinks import Sink

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
    finding: Finding, link: str | None, expires_at: int, lang: str, zone: Any
) -> messages.Message:
    """The detection message plus the link (none with Discord buttons) and its expiry."""
    base = messages.detected(finding, lang, zone)
    return replace(
        base,
        fields=(*base.fields, (messages.t("expires", lang), local_time(expires_at, zone))),
        links=((messages.t("approve_link", lang), link),) if link else (),
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
    sinks: Sequence[Sink],
    bot: Webhook | None = None,
    clock: Callable[[], float] = time.time,
    new_id: Callable[[], str] = tokens.new_secret,
) -> dict[str, Any]:
    """Returns what was sent (never the token or the id: this output is logged).

    ``bot``: the Discord application's channel (Create Message); when given, the request
    goes out with buttons instead of a link, and ``sinks``' own Discord webhook is not
    used (the other sinks carry the message without a link: decide in Discord)."""
    task = ApprovalTask.from_payload(payload, settings.timeout_seconds)
    if bot is None and not settings.base_url:
        raise InvalidEvent("APPROVAL_BASE_URL is not set: no link to send")
    now = clock()
    started = task.entered_at if task.entered_at is not None and task.entered_at <= now else now
    expires_at = int(started + task.timeout_seconds)
    approval_id = new_id()
    interaction_id = new_id() if bot is not None else ""
    link = None if bot is not None else f"{settings.base_url.rstrip('/')}/approvals/{approval_id}"
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
            interaction_id=interaction_id,
        )
    )
    message = messages.with_settings_warnings(message, notify.warnings)
    notice = Notice(message, task.finding, "raised", str(task.finding.verdict))
    if bot is not None:
        # Only when approving in Discord: a link-approval function never loads the app's code.
        from trailwarden.approvals.discord_app import button_message

        # First, and it must succeed (nobody could decide without the buttons): raises
        # NotificationFailed, and no other sink has told of a request nobody can decide.
        bot.post(button_message(message, interaction_id, notify.language))
        sinks = [
            AlreadyDelivered("discord", "sent with buttons"),
            *(sink for sink in sinks if sink.name != "discord"),
        ]
    # Only a person can follow the link: Security Hub alone never counts as requested.
    delivery = deliver_all(notice, sinks, require_people=True)
    return {"status": "requested", "expiresAt": expires_at, "delivery": delivery}
