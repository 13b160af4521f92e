"""Discord interactions endpoint (HTTP API POST /discord/interactions, payload v2.0).

Verifies Discord's Ed25519 signature over the exact raw body before anything else,
then decides through the approvals table's conditional write and answers a deferred
update at once; the resume (SendTaskSuccess) and the message edit run in
DiscordResumeFunction, invoked asynchronously. This function holds no
states:SendTaskSuccess. Requests are never logged (the body carries the interaction
token).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from handlers._discord_app import DiscordAppDeps
from handlers._observability import observability
from trailwarden.approvals.discord_app import UNAUTHORIZED, Approvers, Interactions
from trailwarden.approvals.store import ApprovalStore
from trailwarden.dal.clients import make_client
from trailwarden.models.settings import ApprovalSettings, NotifySettings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_lambda_powertools.utilities.typing import LambdaContext

logger, metrics = observability()

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Deps:
    interactions: Interactions
    discord_app: DiscordAppDeps


def invoke_async(lambda_client: Any, function: str) -> Any:
    """Hand a decided request to the resume function (InvocationType=Event: the 202
    comes back at once, Lambda runs it and retries it on failure)."""

    def resume(event: dict[str, Any]) -> None:
        lambda_client.invoke(
            FunctionName=function,
            InvocationType="Event",
            Payload=json.dumps(event).encode("utf-8"),
        )

    return resume


@cache
def _deps() -> Deps:
    settings = ApprovalSettings.from_env(os.environ)
    notify = NotifySettings.from_env(os.environ)
    return Deps(
        interactions=Interactions(
            store=ApprovalStore(make_client("dynamodb"), settings.table),
            approvers=Approvers.parse(
                settings.approver_discord_user_ids, settings.approver_discord_role_ids
            ),
            resume=invoke_async(make_client("lambda"), settings.resume_function),
            language=notify.language,
        ),
        discord_app=DiscordAppDeps(
            SecretsProvider(boto3_client=make_client("secretsmanager")),
            settings.discord_app_secret_name,
            notify,
        ),
    )


def raw_body(event: Mapping[str, Any]) -> bytes | None:
    """The exact bytes Discord sent (API Gateway passes JSON as text, else base64)."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        return None
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except binascii.Error:
            return None
    else:
        data = body.encode("utf-8")
    return data if len(data) <= MAX_BODY_BYTES else None


def run(event: Any, deps: Deps) -> dict[str, Any]:
    event = event if isinstance(event, dict) else {}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = raw_body(event)
    if body is None:
        response = UNAUTHORIZED
    else:
        response = deps.interactions.handle(deps.discord_app.application(), headers, body)
    logger.info("discord interaction", extra={"status": response.status})
    return response.to_http_api()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps())
