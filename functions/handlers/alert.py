"""Alert function of an alert-only workflow (WORKFLOW names which one); rule target."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from handlers._notify_deps import NotifyDeps, build_notify_deps, send_deadline
from handlers._observability import count_verdict, observability
from handlers._store import build_incident_store
from trailwarden.dal.clients import client_cache
from trailwarden.logic.alert import alert
from trailwarden.models.settings import DetectionSettings, require_workflow
from trailwarden.workflows.registry import Workflow, load_workflow

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from trailwarden.dal.incidents import IncidentStore
    from trailwarden.workflows.base import ClientFactory

# The verdict is published as a single metric (count_verdict), so no log_metrics here.
logger, _metrics = observability()


@dataclass(frozen=True)
class Deps:
    workflow: Workflow
    settings: DetectionSettings
    store: IncidentStore
    notify: NotifyDeps
    clients: ClientFactory  # built once per container (client_cache)


@cache
def _deps() -> Deps:
    env = os.environ
    settings = DetectionSettings.from_env(env)
    return Deps(
        clients=client_cache(),
        workflow=load_workflow(require_workflow(env)),
        settings=settings,
        store=build_incident_store(env),
        notify=build_notify_deps(env, settings.warnings),
    )


def run(event: Any, deps: Deps, deadline: float | None = None) -> dict[str, Any]:
    result = alert(
        event,
        deps.workflow,
        deps.settings,
        deps.clients,
        deps.store,
        deps.notify.settings,
        deps.notify.sns,
        deps.notify.discord(deadline),
    )
    count_verdict(deps.workflow.id, str(result["verdict"]))
    return result


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps(), send_deadline(context))
