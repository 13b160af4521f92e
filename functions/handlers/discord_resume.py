"""Discord resume (invoked asynchronously by the interactions function): hand the
recorded decision to the waiting workflow (SendTaskSuccess), then edit the clicked
message (buttons removed, "Approved by <name> at <time>").

Its event carries the interaction token: never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from handlers._approval_service import build_approval_service
from handlers._discord_app import DiscordAppDeps
from handlers._notify_deps import send_deadline
from handlers._observability import observability
from trailwarden.approvals.discord_app import resume_and_edit
from trailwarden.dal.clients import make_client
from trailwarden.models.settings import ApprovalSettings, NotifySettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from trailwarden.approvals.service import ApprovalService

logger, metrics = observability()


@dataclass(frozen=True)
class Deps:
    service: ApprovalService
    discord_app: DiscordAppDeps


@cache
def _deps() -> Deps:
    settings = ApprovalSettings.from_env(os.environ)
    notify = NotifySettings.from_env(os.environ)
    return Deps(
        service=build_approval_service(settings, notify),
        discord_app=DiscordAppDeps(
            SecretsProvider(boto3_client=make_client("secretsmanager")),
            settings.discord_app_secret_name,
            notify,
        ),
    )


def run(event: Any, deps: Deps, deadline: float | None = None) -> dict[str, str]:
    service = deps.service
    result = resume_and_edit(
        event if isinstance(event, dict) else {},
        store=service.store,
        resume=service.resume,
        edit=lambda token, body: deps.discord_app.edit_original(token, body, deadline),
        language=service.language,
        zone=service.zone,
    )
    # Not ``extra=result``: its "message" key would overwrite the LogRecord's (KeyError).
    logger.info(
        "discord decision resumed",
        extra={"outcome": result["outcome"], "edit": result.get("message", "")},
    )
    return result


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: Any, context: LambdaContext) -> dict[str, str]:
    return run(event, _deps(), send_deadline(context))
