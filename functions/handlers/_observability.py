"""Powertools Logger/Tracer/Metrics as every handler uses them.

Logs go to stderr: Lambda ships stdout and stderr alike, and locally the demo's
stdout must carry nothing but its JSON.
"""

from __future__ import annotations

import logging
import sys
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer


@cache
def observability() -> tuple[Logger, Tracer, Metrics]:
    """One set per process: Powertools keys its logger by service name, and the local
    engine runs several functions' handler modules in one process."""
    logger = Logger(logger_handler=logging.StreamHandler(sys.stderr))
    return logger, Tracer(), Metrics()


def count_verdict(metrics: Metrics, workflow: str, verdict: str) -> None:
    """One metric per verdict with the workflow as its own dimension.

    A single-metric blob keeps the dimension off the function's other metrics and never
    accumulates across invocations of a warm container.
    """
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name=f"verdict_{verdict}", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ) as metric:
        metric.add_dimension(name="workflow", value=workflow)
