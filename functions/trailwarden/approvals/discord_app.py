"""Approve in Discord itself: a bot message with buttons, verified interactions.

When a Discord *application* is configured (``DiscordApplicationSecretName``),
RequestApproval posts the approval request with the bot (``POST
/channels/{channel}/messages``, ``Authorization: Bot <token>``) carrying **Approve** and
**Reject** buttons and no link: a link would let anyone who reads the channel decide
anonymously. Each button's ``custom_id`` is ``tw:<approve|reject>:<interaction id>``;
every channel member can read it, so the interaction id is a fresh random value that
maps to the request only through a pointer item (store.interaction_key) and decides
nothing at ``/approvals/<id>`` (the link endpoint hashes what it gets to plain hex and
never finds the pointer).

Discord POSTs each click to the interactions endpoint signed with the application's
Ed25519 key. :class:`Interactions` verifies the signature over ``timestamp + raw body``
before it reads anything else (401 otherwise, Discord probes this), refuses timestamps
more than five minutes from now, answers PING, checks the clicking user against the
allowlist (user ids, role ids), and decides through the same conditional write as the
link flow (store.decide: one decision, ever). It answers a deferred update (type 6) at
once and hands the resume (SendTaskSuccess) and the message edit (buttons removed,
"Approved by <name> at <time>") to an asynchronous invocation: Discord waits 3 seconds
at most, and a Lambda cannot keep working after it has answered.

PyNaCl is imported lazily, inside :func:`signature_valid`, so that only the
interactions function needs the compiled library.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from trailwarden.approvals import tokens
from trailwarden.approvals.store import (
    APPROVED,
    DECISION_STORE_ACTIONS,
    DECISIONS,
    PENDING,
    SUPERSEDED,
    Decider,
)
from trailwarden.models.errors import NotificationFailed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from zoneinfo import ZoneInfo

    from trailwarden.approvals.store import ApprovalStore
    from trailwarden.notify.messages import Message

logger = Logger(child=True)

_SECRET_READ = frozenset({"secretsmanager:GetSecretValue"})
# The interactions function decides (conditional write) and invokes the resume function;
# only the resume function may call SendTaskSuccess (through the approval service it is
# handed, whose DECIDE_ACTIONS permissions adds: this module does not import the service,
# so the interactions function, which must answer Discord within 3 s, never loads it).
INTERACTION_ACTIONS = DECISION_STORE_ACTIONS | _SECRET_READ | {"lambda:InvokeFunction"}
RESUME_ACTIONS = DECISION_STORE_ACTIONS | _SECRET_READ

DISCORD_API = "https://discord.com/api/v10"
SNOWFLAKE = re.compile(r"^[0-9]{17,20}$")
_PUBLIC_KEY = re.compile(r"^[0-9a-fA-F]{64}$")
_CUSTOM_ID = re.compile(r"^tw:(approve|reject):([A-Za-z0-9_-]{43})$")
MAX_SKEW_SECONDS = 300  # a signed interaction older (or newer) than this is refused
MAX_CUSTOM_ID = 100  # Discord's limit

# Interaction and response types (Discord API: Receiving and Responding).
PING = 1
MESSAGE_COMPONENT = 3
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_UPDATE_MESSAGE = 6
EPHEMERAL = 64

_TEXT = {
    "en": {
        "not_allowed": "You may not decide this request.",
        "unknown": "This request is unknown (it may have been purged).",
        "expired": "This request has expired: nothing was changed.",
        "superseded": "This request was replaced by a newer one: nothing was changed.",
        "decided": "This request was already decided.",
        "approve": "Approve",
        "reject": "Reject",
        "prompt": "Decide with the buttons below (only listed approvers can).",
        "approved": "Approved by {name} at {time}",
        "rejected": "Rejected by {name} at {time}",
        "reopened": "The decision by {name} did not reach the workflow; decide again.",
        "unconfirmed": "{decision} by {name} at {time}; delivery to the workflow unconfirmed.",
        "too_late": "{decision} by {name} at {time}, but the workflow had stopped waiting.",
    },
    "ko": {
        "not_allowed": "이 요청을 결정할 권한이 없습니다.",
        "unknown": "알 수 없는 요청입니다 (삭제되었을 수 있습니다).",
        "expired": "요청이 만료되었습니다: 변경된 것이 없습니다.",
        "superseded": "더 새로운 요청으로 대체되었습니다: 변경된 것이 없습니다.",
        "decided": "이미 결정된 요청입니다.",
        "approve": "승인",
        "reject": "거부",
        "prompt": "아래 버튼으로 결정하세요 (지정된 승인자만 가능합니다).",
        "approved": "{name} 님이 {time}에 승인했습니다",
        "rejected": "{name} 님이 {time}에 거부했습니다",
        "reopened": "{name} 님의 결정이 워크플로에 전달되지 않았습니다. 다시 결정하세요.",
        "unconfirmed": "{decision}: {name}, {time}. 워크플로 전달이 확인되지 않았습니다.",
        "too_late": "{decision}: {name}, {time}. 워크플로가 이미 대기를 끝냈습니다.",
    },
}


def _t(key: str, lang: str) -> str:
    return _TEXT.get(lang, _TEXT["en"]).get(key, _TEXT["en"][key])


# ---------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class DiscordApplication:
    """The application secret: ``{"public_key", "bot_token", "channel_id",
    "application_id"}`` (optional ``api_base_url``: only for the local stand-in)."""

    public_key: str
    bot_token: str = field(repr=False)
    channel_id: str
    application_id: str
    api_base_url: str = DISCORD_API

    @classmethod
    def from_secret(cls, raw: str) -> DiscordApplication:
        try:
            data = json.loads(raw)
        except ValueError:
            raise NotificationFailed("the Discord application secret is not JSON") from None
        if not isinstance(data, dict):
            raise NotificationFailed("the Discord application secret is not a JSON object")
        values = {k: str(data.get(k) or "").strip() for k in ("public_key", "bot_token")}
        ids = {k: str(data.get(k) or "").strip() for k in ("channel_id", "application_id")}
        if not _PUBLIC_KEY.fullmatch(values["public_key"]):
            raise NotificationFailed("the Discord application secret has no valid public_key")
        if not values["bot_token"]:
            raise NotificationFailed("the Discord application secret has no bot_token")
        for name, value in ids.items():
            if not SNOWFLAKE.fullmatch(value):
                raise NotificationFailed(f"the Discord application secret has no valid {name}")
        base = str(data.get("api_base_url") or DISCORD_API).rstrip("/")
        return cls(api_base_url=base, **values, **ids)

    @property
    def messages_url(self) -> str:
        return f"{self.api_base_url}/channels/{self.channel_id}/messages"

    def original_message_url(self, interaction_token: str) -> str:
        token = urllib.parse.quote(interaction_token, safe="")
        return f"{self.api_base_url}/webhooks/{self.application_id}/{token}/messages/@original"


@dataclass(frozen=True)
class Approvers:
    """Who may decide: listed user ids, or members holding a listed role. Empty: nobody."""

    user_ids: frozenset[str] = frozenset()
    role_ids: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, users: Iterable[str], roles: Iterable[str]) -> Approvers:
        user_ids, role_ids = frozenset(users), frozenset(roles)
        bad = sorted(v for v in user_ids | role_ids if not SNOWFLAKE.fullmatch(v))
        if bad:
            raise ValueError(f"not Discord ids (17-20 digits): {bad}")
        return cls(user_ids, role_ids)

    def allow(self, user_id: str, roles: Iterable[str]) -> bool:
        return user_id in self.user_ids or any(role in self.role_ids for role in roles)


# ---------------------------------------------------------------------- the message


def custom_id(action: str, interaction_id: str) -> str:
    value = f"tw:{action}:{interaction_id}"
    if action not in DECISIONS or len(value) > MAX_CUSTOM_ID:
        raise ValueError("bad custom_id")
    return value


def buttons(interaction_id: str, lang: str) -> list[dict[str, Any]]:
    """One action row: Approve (green), Reject (red)."""
    return [
        {
            "type": 1,
            "components": [
                {
                    "type": 2,
                    "style": 3,
                    "label": _t("approve", lang),
                    "custom_id": custom_id("approve", interaction_id),
                },
                {
                    "type": 2,
                    "style": 4,
                    "label": _t("reject", lang),
                    "custom_id": custom_id("reject", interaction_id),
                },
            ],
        }
    ]


def button_message(message: Message, interaction_id: str, lang: str) -> dict[str, Any]:
    """The bot's Create Message body: the alert embed, the buttons, no link, no pings."""
    # The message code only where a message is sent: not in the interactions function.
    from trailwarden.notify.embeds import discord_payload

    payload = discord_payload(message)
    payload.pop("username", None)  # a webhook field; bots post as themselves
    payload["content"] = _t("prompt", lang)
    payload["components"] = buttons(interaction_id, lang)
    return payload


def decided_edit(
    outcome: str,
    status: str,
    name: str,
    decided_at: int | None,
    lang: str,
    zone: ZoneInfo,
    interaction_id: str = "",
) -> dict[str, Any]:
    """The edit of the original message after a decision: buttons removed (kept only
    when the decision was undone and the approver may decide again)."""
    from trailwarden.notify.text import neutralize

    when = (
        datetime.fromtimestamp(decided_at, UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
        if decided_at is not None
        else "-"
    )
    shown_name = neutralize(name or "-")
    decision = _t("approved" if status == APPROVED else "rejected", lang).format(
        name=shown_name, time=when
    )
    if outcome == "delivered":
        content = decision
    elif outcome == "reopened":
        content = _t("reopened", lang).format(name=shown_name)
    elif outcome == "unconfirmed":
        content = _t("unconfirmed", lang).format(decision=decision, name=shown_name, time=when)
    elif outcome == "superseded":
        content = _t("superseded", lang)
    else:
        content = _t("too_late", lang).format(decision=decision, name=shown_name, time=when)
    keep = outcome == "reopened" and interaction_id
    return {
        "content": content,
        "components": buttons(interaction_id, lang) if keep else [],
        "allowed_mentions": {"parse": []},
    }


# ---------------------------------------------------------------------- verification


def signature_valid(public_key_hex: str, signature_hex: str, timestamp: str, body: bytes) -> bool:
    """Ed25519 over ``timestamp + body`` (the exact bytes received) with the app's key."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    try:
        signature = bytes.fromhex(signature_hex)
        key = VerifyKey(bytes.fromhex(public_key_hex))
    except (ValueError, TypeError):
        return False
    if len(signature) != 64:
        return False
    try:
        key.verify(timestamp.encode("utf-8") + body, signature)
    except BadSignatureError:
        return False
    return True


def fresh(timestamp: str, now: float, max_skew: int = MAX_SKEW_SECONDS) -> bool:
    return timestamp.isascii() and timestamp.isdigit() and abs(now - int(timestamp)) <= max_skew


# ---------------------------------------------------------------------- interactions


@dataclass(frozen=True)
class Response:
    status: int
    body: Mapping[str, Any]

    def to_http_api(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps(self.body, separators=(",", ":"), ensure_ascii=False),
            "isBase64Encoded": False,
        }


UNAUTHORIZED = Response(401, {"error": "invalid request signature"})


def _ephemeral(text: str) -> Response:
    return Response(
        200,
        {
            "type": CHANNEL_MESSAGE,
            "data": {"content": text, "flags": EPHEMERAL, "allowed_mentions": {"parse": []}},
        },
    )


@dataclass(frozen=True)
class Click:
    action: str
    interaction_id: str
    user_id: str
    user_name: str
    roles: tuple[str, ...]
    token: str  # the interaction token: edits the original message for 15 minutes


def _click(payload: Mapping[str, Any]) -> Click | None:
    data = payload.get("data")
    found = (
        _CUSTOM_ID.fullmatch(str(data.get("custom_id") or "")) if isinstance(data, dict) else None
    )
    member = payload.get("member")
    member = member if isinstance(member, dict) else {}
    user = member.get("user") if isinstance(member.get("user"), dict) else payload.get("user")
    user = user if isinstance(user, dict) else {}
    raw_roles = member.get("roles")
    roles: list[Any] = raw_roles if isinstance(raw_roles, list) else []
    token = payload.get("token")
    if found is None or not isinstance(token, str) or not token:
        return None
    name = user.get("global_name") or user.get("username") or ""
    return Click(
        action=found.group(1),
        interaction_id=found.group(2),
        user_id=str(user.get("id") or ""),
        user_name=str(name)[:100],
        roles=tuple(str(r) for r in roles),
        token=token,
    )


@dataclass
class Interactions:
    """POST /discord/interactions. ``resume`` hands a decided request to the resume
    function asynchronously (Lambda InvocationType=Event)."""

    store: ApprovalStore
    approvers: Approvers
    resume: Callable[[dict[str, Any]], None]
    language: str
    clock: Callable[[], float] = time.time

    def handle(self, app: DiscordApplication, headers: Mapping[str, str], body: bytes) -> Response:
        signature = headers.get("x-signature-ed25519", "")
        timestamp = headers.get("x-signature-timestamp", "")
        if not signature or not timestamp:
            return UNAUTHORIZED
        if not signature_valid(app.public_key, signature, timestamp, body):
            logger.warning("interaction with a bad signature refused")
            return UNAUTHORIZED
        if not fresh(timestamp, self.clock()):
            logger.warning("interaction with a stale timestamp refused")
            return UNAUTHORIZED
        try:
            payload = json.loads(body)
        except ValueError:
            return Response(400, {"error": "not JSON"})
        if not isinstance(payload, dict):
            return Response(400, {"error": "not an interaction"})
        if payload.get("type") == PING:
            return Response(200, {"type": PONG})
        click = _click(payload) if payload.get("type") == MESSAGE_COMPONENT else None
        if click is None:
            return Response(400, {"error": "unsupported interaction"})
        return self._decide(click)

    def _decide(self, click: Click) -> Response:
        lang = self.language
        if not click.user_id or not self.approvers.allow(click.user_id, click.roles):
            logger.warning(
                "interaction from a user outside the allowlist", extra={"user": click.user_id}
            )
            return _ephemeral(_t("not_allowed", lang))
        id_hash = self.store.for_interaction(click.interaction_id)
        record = self.store.get(id_hash) if id_hash else None
        now = int(self.clock())
        if record is None:
            return _ephemeral(_t("unknown", lang))
        if record.status == SUPERSEDED:
            return _ephemeral(_t("superseded", lang))
        if record.expired(now):
            return _ephemeral(_t("expired", lang))
        if record.status != PENDING:
            return _ephemeral(_t("decided", lang))
        if self.store.superseded(record):
            self.store.supersede(record.id_hash, now)
            return _ephemeral(_t("superseded", lang))
        status = DECISIONS[click.action]
        decided = self.store.decide(
            record.id_hash,
            record.nonce_key,
            status,
            now=now,
            source_ip="",
            user_agent="Discord interaction",
            decider=Decider(click.user_id, click.user_name),
        )
        if decided is None:  # someone decided first, or it just expired
            return _ephemeral(_t("decided", lang))
        logger.info(
            "approval decided in Discord",
            extra={
                "decision": status,
                "workflow": decided.workflow,
                "eventID": decided.event_id,
                "discordUserId": click.user_id,
            },
        )
        self.resume(
            {
                "idHash": record.id_hash,
                "interactionId": click.interaction_id,
                "interactionToken": click.token,
                "userName": click.user_name,
            }
        )
        return Response(200, {"type": DEFERRED_UPDATE_MESSAGE})


def resume_and_edit(
    event: Mapping[str, Any],
    *,
    store: ApprovalStore,
    resume: Callable[[str], str],
    edit: Callable[[str, dict[str, Any]], Any],
    language: str,
    zone: ZoneInfo,
) -> dict[str, str]:
    """The asynchronous half: deliver the decision (``resume``: ApprovalService.resume),
    then edit the original message (``edit(interaction_token, body)``)."""
    id_hash = str(event.get("idHash") or "")
    token = str(event.get("interactionToken") or "")
    if not re.fullmatch(r"[0-9a-f]{64}", id_hash) or not token:
        return {"outcome": "bad event"}
    outcome = resume(id_hash)
    record = store.get(id_hash)
    if record is None or outcome == "nothing":
        return {"outcome": outcome}
    interaction_id = str(event.get("interactionId") or "")
    body = decided_edit(
        outcome,
        record.status,
        record.discord_user_name or str(event.get("userName") or ""),
        record.decided_at,
        language,
        zone,
        interaction_id if tokens.well_formed(interaction_id) else "",
    )
    try:
        edit(token, body)
    except NotificationFailed as err:  # the decision stands; only the message is stale
        logger.warning("could not edit the Discord message", extra={"error": str(err)})
        return {"outcome": outcome, "message": "not edited"}
    return {"outcome": outcome, "message": "edited"}
