"""Report function (shared by every workflow): result message + audit record."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from handlers._notify_deps import NotifyDeps, build_notify_deps, send_deadline
from handlers._observability import observability
from handlers._store import build_incident_store
from trailwarden.logic.report import report

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from trailwarden.dal.incidents import IncidentStore

logger, metrics = observability()


@dataclass(frozen=True)
class Deps:
    notify: NotifyDeps
    store: IncidentStore


@cache
def _deps() -> Deps:
    return Deps(
        notify=build_notify_deps(os.environ),
        store=build_incident_store(os.environ),
    )


def run(state: Any, deps: Deps, deadline: float | None = None) -> dict[str, Any]:
    result = report(
        state,
        store=deps.store,
        settings=deps.notify.with_state_warnings(state),
        sinks=deps.notify.sinks(deadline),
    )
    logger.info("reported", extra={"status": result["status"]})
    metrics.add_metric(name=f"incident_{result['status']}", unit=MetricUnit.Count, value=1)
    return result


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps(), send_deadline(context))
