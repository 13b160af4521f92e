"""Assess function of an acting workflow (WORKFLOW names which one)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from handlers._observability import count_verdict, observability
from handlers._reach import Reach, build_reach
from handlers._store import build_incident_store
from trailwarden.dal.clients import client_cache
from trailwarden.logic.assess import assess
from trailwarden.models.settings import (
    APPROVAL_TIMEOUT_DEFAULT,
    STATE_WARNINGS_KEY,
    DetectionSettings,
    approval_timeout,
    log_warnings,
    merge_warnings,
    require_workflow,
)
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
    clients: ClientFactory  # built once per container (client_cache)
    # The ApprovalTimeoutSeconds parameter: the RequestApproval state's TimeoutSecondsPath
    # reads it from this function's output (an ASL number cannot come from a substitution).
    approval_timeout_seconds: int = APPROVAL_TIMEOUT_DEFAULT
    # Careless parameter entries: handed on in the state so Notify/Report show them.
    warnings: tuple[str, ...] = ()
    # Organisation mode: clients in the event's account; None acts with ``clients``.
    reach: Reach | None = None


@cache
def _deps() -> Deps:
    env = os.environ
    settings = DetectionSettings.from_env(env)
    timeout_warnings: list[str] = []
    timeout = approval_timeout(env, timeout_warnings)
    clients = client_cache()
    reach = build_reach(env, clients)
    return Deps(
        clients=clients,
        reach=reach,
        workflow=load_workflow(require_workflow(env)),
        settings=settings,
        store=build_incident_store(env),
        approval_timeout_seconds=timeout,
        warnings=merge_warnings(settings.warnings, reach.warnings, log_warnings(timeout_warnings)),
    )


def run(event: Any, deps: Deps) -> dict[str, Any]:
    reach = deps.reach or Reach(plain=deps.clients)
    settings = reach.detection_settings(deps.settings)
    finding = assess(
        event,
        deps.workflow,
        settings,
        reach.clients_for_event(event, deps.workflow.id),
        deps.store,
        account_name=reach.account_name if reach.organization else None,
    )
    count_verdict(deps.workflow.id, str(finding.verdict))
    logger.info("assessed", extra={"verdict": str(finding.verdict), "reason": finding.reason})
    output = {**finding.to_dict(), "approvalTimeoutSeconds": deps.approval_timeout_seconds}
    warnings = merge_warnings(deps.warnings, settings.warnings)
    if warnings:
        output[STATE_WARNINGS_KEY] = list(warnings)
    return output


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps())
