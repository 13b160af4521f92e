"""Notify function (shared by every workflow): the first message of an incident."""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from handlers._notify_deps import NotifyDeps, build_notify_deps, send_deadline
from handlers._observability import observability
from trailwarden.models.findings import Finding
from trailwarden.notify import messages
from trailwarden.notify.sinks import Notice, deliver_all

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger, metrics = observability()


@cache
def _deps() -> NotifyDeps:
    return build_notify_deps(os.environ)


def run(state: Any, deps: NotifyDeps, deadline: float | None = None) -> dict[str, str]:
    finding = Finding.from_dict(state)
    settings = deps.with_state_warnings(state)
    message = messages.with_settings_warnings(
        messages.detected(finding, settings.language, settings.zone), settings.warnings
    )
    notice = Notice(message, finding, "raised", str(finding.verdict))
    delivery = deliver_all(notice, deps.sinks(deadline))
    logger.info("notified", extra=delivery)
    metrics.add_metric(name="notifications_sent", unit=MetricUnit.Count, value=1)
    return delivery


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, str]:
    return run(event, _deps(), send_deadline(context))
