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
from trailwarden.clients import make_client
from trailwarden.settings import ApprovalSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger, metrics = observability()


@dataclass(frozen=True)
class Deps:
    settings: ApprovalSettings
    store: ApprovalStore
    notify: NotifyDeps


@cache
def _deps() -> Deps:
    settings = ApprovalSettings.from_env(os.environ)
    return Deps(
        settings=settings,
        store=ApprovalStore(make_client("dynamodb"), settings.table),
        notify=build_notify_deps(os.environ, settings.warnings),
    )


def run(event: Any, deps: Deps, deadline: float | None = None) -> dict[str, Any]:
    result = request_approval(
        event,
        store=deps.store,
        settings=deps.settings,
        notify=deps.notify.with_state_warnings(
            event.get("finding") if isinstance(event, dict) else None
        ),
        sns=deps.notify.sns,
        discord=deps.notify.discord(deadline),
    )
    logger.info("approval requested", extra=result)
    return result


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps(), send_deadline(context))
