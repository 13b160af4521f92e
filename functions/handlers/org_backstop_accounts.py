"""OrgBackstopAccountsFunction: the organisation backstop's first state
(statemachines/org-backstop.asl.json): every ACTIVE account of the organisation but
ExcludedAccountIds, in batches (the Map's items). Organisation mode only."""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from handlers._observability import observability
from trailwarden.dal.clients import client_cache
from trailwarden.logic.org_backstop import OrgBackstopSettings, account_batches

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from trailwarden.workflows.base import ClientFactory

logger, _metrics = observability()


@cache
def _deps() -> tuple[OrgBackstopSettings, ClientFactory]:
    return OrgBackstopSettings.from_env(os.environ), client_cache()


def run(event: Any, settings: OrgBackstopSettings, clients: ClientFactory) -> dict[str, Any]:
    result = account_batches(clients("organizations", None), settings, event)
    logger.info(
        "backstop accounts",
        extra={"accounts": result["accounts"], "batches": len(result["batches"])},
    )
    return result


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, *_deps())
