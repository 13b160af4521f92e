"""Evaluation function of the key-pair AWS Config rule (AWS Config invokes it)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from handlers._observability import observability
from trailwarden.dal.clients import make_client
from trailwarden.workflows.ec2_keypair.config_rule import evaluate_invocation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger, metrics = observability()


@dataclass(frozen=True)
class Deps:
    config: Any


@cache
def _deps() -> Deps:
    return Deps(config=make_client("config"))


def run(event: Any, deps: Deps) -> dict[str, Any]:
    evaluations = evaluate_invocation(event, deps.config)
    for evaluation in evaluations:
        logger.info("evaluated", extra=evaluation.to_dict())
        metrics.add_metric(
            name=f"keypair_{evaluation.compliance.lower()}", unit=MetricUnit.Count, value=1
        )
    return {"evaluations": [e.to_dict() for e in evaluations]}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run(event, _deps())
