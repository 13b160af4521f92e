"""Remediate function of an acting workflow: idempotent fix, then re-read to verify."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from handlers._observability import observability
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


@cache
def _deps() -> Deps:
    env = os.environ
    return Deps(
        clients=client_cache(),
        workflow=load_workflow(require_workflow(env)),
        settings=DetectionSettings.from_env(env),
    )


def run(state: Any, deps: Deps) -> dict[str, Any]:
    decision = state.get("decision") if isinstance(state, dict) else None
    result = remediate(
        Finding.from_dict(state), deps.workflow, deps.settings, deps.clients, decision=decision
    )
    logger.info("remediation finished", extra={"status": result.status})
    metrics.add_metric(name=f"remediation_{result.status}", unit=MetricUnit.Count, value=1)
    return result.to_dict()


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps())
