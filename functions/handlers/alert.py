"""Alert function of an alert-only workflow (WORKFLOW names which one); rule target."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from handlers._notify_deps import NotifyDeps, build_notify_deps, send_deadline
from handlers._observability import count_verdict, observability
from handlers._reach import Reach, build_reach
from handlers._store import build_incident_store
from trailwarden.dal.clients import client_cache
from trailwarden.logic.alert import alert
from trailwarden.models.settings import DetectionSettings, merge_warnings, require_workflow
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
    # Organisation mode: clients in the event's account; None acts with ``clients``.
    reach: Reach | None = None


@cache
def _deps() -> Deps:
    env = os.environ
    settings = DetectionSettings.from_env(env)
    clients = client_cache()
    reach = build_reach(env, clients)
    return Deps(
        clients=clients,
        reach=reach,
        workflow=load_workflow(require_workflow(env)),
        settings=settings,
        store=build_incident_store(env),
        notify=build_notify_deps(env, merge_warnings(settings.warnings, reach.warnings)),
    )


def run(event: Any, deps: Deps, deadline: float | None = None) -> dict[str, Any]:
    reach = deps.reach or Reach(plain=deps.clients)
    result = alert(
        event,
        deps.workflow,
        deps.settings,  # alert-only decisions never read the trusted accounts
        reach.clients_for_event(event, deps.workflow.id),
        deps.store,
        deps.notify.settings,
        deps.notify.sinks(deadline),
        account_name=reach.account_name if reach.organization else None,
    )
    count_verdict(deps.workflow.id, str(result["verdict"]))
    return result


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps(), send_deadline(context))
