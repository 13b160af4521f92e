"""Remediate function of an acting workflow: idempotent fix, then re-read to verify."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from handlers._observability import observability
from handlers._reach import Reach, build_reach
from trailwarden.dal.clients import client_cache
from trailwarden.logic.remediate import remediate
from trailwarden.models.findings import Finding
from trailwarden.models.settings import DetectionSettings, require_workflow
from trailwarden.workflows.registry import Workflow, load_workflow

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from trailwarden.workflows.base import ClientFactory

logger, metrics = observability()


@dataclass(frozen=True)
class Deps:
    workflow: Workflow
    settings: DetectionSettings
    clients: ClientFactory  # built once per container (client_cache)
    # Organisation mode: clients in the finding's account; None acts with ``clients``.
    reach: Reach | None = None


@cache
def _deps() -> Deps:
    env = os.environ
    clients = client_cache()
    return Deps(
        clients=clients,
        reach=build_reach(env, clients),
        workflow=load_workflow(require_workflow(env)),
        settings=DetectionSettings.from_env(env),
    )


def run(state: Any, deps: Deps) -> dict[str, Any]:
    decision = state.get("decision") if isinstance(state, dict) else None
    finding = Finding.from_dict(state)
    reach = deps.reach or Reach(plain=deps.clients)
    # The incident's own session name: the member's CloudTrail shows why it changed.
    clients = reach.clients(
        finding.account, finding.region, workflow=deps.workflow.id, incident=finding.event_id
    )
    settings = reach.detection_settings(deps.settings)
    result = remediate(finding, deps.workflow, settings, clients, decision=decision)
    logger.info("remediation finished", extra={"status": result.status})
    metrics.add_metric(name=f"remediation_{result.status}", unit=MetricUnit.Count, value=1)
    return result.to_dict()


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps())
