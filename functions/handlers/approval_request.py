"""RequestApproval task (lambda:invoke.waitForTaskToken): store the token, send the link.

The payload carries the Step Functions task token: it is never logged (no event
logging; the result below names neither the token nor the opaque id).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from handlers._notify_deps import NotifyDeps, build_notify_deps, send_deadline
from handlers._observability import observability
from trailwarden.approvals.request import request_approval
from trailwarden.approvals.store import ApprovalStore
from trailwarden.dal.clients import make_client
from trailwarden.models.settings import ApprovalSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from handlers._discord_app import DiscordAppDeps

logger, metrics = observability()


@dataclass(frozen=True)
class Deps:
    settings: ApprovalSettings
    store: ApprovalStore
    notify: NotifyDeps
    discord_app: DiscordAppDeps | None = None  # approve in Discord: buttons, no link


@cache
def _deps() -> Deps:
    settings = ApprovalSettings.from_env(os.environ)
    notify = build_notify_deps(os.environ, settings.warnings)
    discord_app = None
    if settings.discord_app_secret_name:
        # Only when approving in Discord: Powertools Parameters and the Discord application.
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from handlers._discord_app import DiscordAppDeps

        discord_app = DiscordAppDeps(
            SecretsProvider(boto3_client=make_client("secretsmanager")),
            settings.discord_app_secret_name,
            notify.settings,
        )
    return Deps(
        settings=settings,
        store=ApprovalStore(make_client("dynamodb"), settings.table),
        notify=notify,
        discord_app=discord_app,
    )


def run(event: Any, deps: Deps, deadline: float | None = None) -> dict[str, Any]:
    result = request_approval(
        event,
        store=deps.store,
        settings=deps.settings,
        notify=deps.notify.with_state_warnings(
            event.get("finding") if isinstance(event, dict) else None
        ),
        # With the Discord application, its bot posts the request (buttons), not the webhook.
        sinks=deps.notify.sinks(
            deadline, without=frozenset({"discord"} if deps.discord_app is not None else ())
        ),
        bot=deps.discord_app.bot(deadline) if deps.discord_app is not None else None,
    )
    logger.info("approval requested", extra=result)
    return result


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps(), send_deadline(context))
