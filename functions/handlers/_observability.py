"""Powertools Logger and Metrics as every handler uses them.

Logs go to stderr: Lambda ships stdout and stderr alike, and locally the demo's
stdout must carry nothing but its JSON.

No Powertools Tracer: it needs the X-Ray SDK (aws-xray-sdk + wrapt, and botocore
patching), which the shared layer does not ship. ``Tracing: Active`` in the template
still records each invocation and each Step Functions task in X-Ray.

The AWS SDK's loggers are pinned to WARNING whatever the root level: at DEBUG
(Lambda's ``ApplicationLogLevel=DEBUG`` sets the root logger) botocore logs every
request and response body, which carry the Step Functions task token
(SendTaskSuccess, the approvals item) and the Discord webhook URL (the secret's value).
"""

from __future__ import annotations

import logging
import sys
from functools import cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

# Loggers whose DEBUG/INFO records can hold request or response bodies, headers or URLs.
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def pin_quiet_loggers() -> None:
    """Set (again) the SDK loggers to WARNING: their own level wins over the root's."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@cache
def _logger() -> Logger:
    # Powertools keys its logger by service name; the local engine runs several
    # functions' handler modules in one process, so build it once per process.
    return Logger(logger_handler=logging.StreamHandler(sys.stderr))


def observability() -> tuple[Logger, Metrics]:
    """Metrics reads its namespace from the environment when built: build it with the
    handler module, never earlier."""
    pin_quiet_loggers()
    return _logger(), Metrics()


def count_verdict(workflow: str, verdict: str) -> None:
    """One metric per verdict with the workflow as its own dimension.

    A single-metric blob keeps the dimension off the function's other metrics and never
    accumulates across invocations of a warm container. Unlike ``Metrics``, Powertools'
    ``single_metric`` ignores POWERTOOLS_METRICS_DISABLED, so honour it here.
    """
    if is_metrics_disabled():
        return
    with single_metric(name=f"verdict_{verdict}", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="workflow", value=workflow)
