"""TrailBackstopFunction: the scheduled logging backstop (EventBridge Scheduler target)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from handlers._notify_deps import NotifyDeps, build_notify_deps, send_deadline
from handlers._observability import observability
from handlers._store import build_incident_store
from trailwarden.dal.clients import client_cache
from trailwarden.logic.backstop import Backstop
from trailwarden.models.settings import BackstopSettings, DetectionSettings
from trailwarden.workflows.app_tamper import DECLARATION as APP_TAMPER

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from trailwarden.dal.incidents import IncidentStore
    from trailwarden.workflows.base import ClientFactory

logger, metrics = observability()


@dataclass(frozen=True)
class Deps:
    region: str
    settings: BackstopSettings
    detection: DetectionSettings
    store: IncidentStore
    notify: NotifyDeps
    clients: ClientFactory  # built once per container (client_cache)


@cache
def _deps() -> Deps:
    env = os.environ
    detection = DetectionSettings.from_env(env)
    return Deps(
        clients=client_cache(),
        region=env.get("AWS_REGION", ""),
        settings=BackstopSettings.from_env(env),
        detection=detection,
        store=build_incident_store(env),
        notify=build_notify_deps(env, detection.warnings),
    )


def run(event: Any, deps: Deps, deadline: float | None = None) -> dict[str, Any]:
    def raise_alert(synthetic: dict[str, Any]) -> dict[str, Any]:
        # Only when a trail is found not logging: the alert path and the app-tamper
        # workflow stay off the scheduled runs' cold starts.
        from trailwarden.logic.alert import alert
        from trailwarden.workflows.registry import load_workflow

        return alert(
            synthetic,
            load_workflow(APP_TAMPER.id),
            deps.detection,
            deps.clients,
            deps.store,
            deps.notify.settings,
            deps.notify.sinks(deadline),
        )

    backstop = Backstop(
        deps.settings,
        region=deps.region,
        cloudtrail=deps.clients("cloudtrail", None),
        events=deps.clients("events", None),
        stepfunctions=deps.clients("stepfunctions", None),
        raise_alert=raise_alert,
    )
    report = backstop.run(event)
    stopped = sum(1 for t in report.trails if not t["isLogging"])
    broken = sum(1 for r in report.rules if not r["ok"])
    metrics.add_metric(name="trails_not_logging", unit=MetricUnit.Count, value=stopped)
    metrics.add_metric(name="app_rules_not_enabled", unit=MetricUnit.Count, value=broken)
    logger.info("backstop checked", extra={"trailsNotLogging": stopped, "rulesBroken": broken})
    return report.to_dict()


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps(), send_deadline(context))
