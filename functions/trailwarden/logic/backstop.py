"""The logging backstop: a scheduled check that the app can still see and still react.

CloudTrail events reach EventBridge best effort, and a stopped trail stops the very
events this app reacts to, so every few minutes (EventBridge Scheduler) this:

* reads every trail that logs this region (DescribeTrails with shadow trails, or only
  ``WatchedTrailNames``) and its GetTrailStatus; a trail found not logging starts the
  cloudtrail-tamper state machine with a synthetic EventBridge event
  (``source: trailwarden.backstop``, ``detail-type: Trail Not Logging``), so the same
  Assess/Notify/Remediate/Report path restarts it and tells the team;
* a watched trail that is gone, or no trail at all, is a critical alert through the
  same state machine;
* checks the app's own EventBridge rules (DescribeRule, ListTargetsByRule): a disabled
  or missing rule, or one without targets, is a critical ``app-tamper`` alert, raised
  here directly (the rule that would carry it may be the one that was switched off).

Each synthetic event has a deterministic id per (finding, time window): a retried or
overlapping run dedupes on it (the incidents table, and the execution name).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from trailwarden.dal.aws_errors import error_code, translate
from trailwarden.dal.incidents import ALERT_STORE_ACTIONS
from trailwarden.models.errors import ResourceGone
from trailwarden.notify.service import NOTIFY_ACTIONS
from trailwarden.workflows.app_tamper import detection as app_tamper
from trailwarden.workflows.cloudtrail_tamper import detection as cloudtrail_tamper
from trailwarden.workflows.cloudtrail_tamper.remediation import Trail, list_trails, read_status

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from trailwarden.models.settings import BackstopSettings

# IAM actions the backstop function calls (alerts go out through the shared notifier).
BACKSTOP_ACTIONS = (
    frozenset(
        {
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "events:DescribeRule",
            "events:ListTargetsByRule",
            "states:StartExecution",
        }
    )
    | ALERT_STORE_ACTIONS
    | NOTIFY_ACTIONS
)

SOURCE = cloudtrail_tamper.BACKSTOP_SOURCE
RULE_REMINDER_SECONDS = 3600  # a rule left disabled is reported again every hour
MISSING_REMINDER_SECONDS = 86400  # a trail that is gone: once a day


@dataclass
class BackstopReport:
    checked_at: str
    trails: list[dict[str, Any]] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checkedAt": self.checked_at,
            "trails": self.trails,
            "executions": self.executions,
            "rules": self.rules,
            "alerts": self.alerts,
        }


def check_time(raw_event: Any, clock: Callable[[], float]) -> datetime:
    """The schedule's own time (``<aws.scheduler.scheduled-time>``: the same on a retried
    run), else now."""
    scheduled = raw_event.get("scheduledTime") if isinstance(raw_event, dict) else None
    if isinstance(scheduled, str):
        try:
            moment = datetime.fromisoformat(scheduled.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(clock(), UTC)


def _window(moment: datetime, seconds: int) -> str:
    start = int(moment.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def synthetic_event(
    detail_type: str,
    key: str,
    window: str,
    *,
    account: str,
    region: str,
    detail: Mapping[str, Any],
    resources: tuple[str, ...] = (),
    time: str = "",
) -> dict[str, Any]:
    """An EventBridge-shaped event whose id is the same for the same finding and window
    (``time`` is when the check ran; it defaults to the window's start)."""
    event_id = str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"trailwarden-backstop/{detail_type}/{key}/{window}")
    )
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": SOURCE,
        "account": account,
        "time": time or window,
        "region": region,
        "resources": list(resources),
        "detail": {**detail, "window": window},
    }


def watched_trails(trails: list[Trail], names: tuple[str, ...]) -> tuple[list[Trail], list[str]]:
    """The trails the backstop watches (every one when no names are set: WatchedTrailNames
    lists names or ARNs), and the names that match no trail."""
    if not names:
        return trails, []
    watched = [t for t in trails if t.name in names or t.arn in names]
    seen = {t.name for t in watched} | {t.arn for t in watched}
    return watched, [n for n in names if n not in seen]


def trail_not_logging_event(
    trail: Trail, key: str, window: str, *, account: str, region: str, time: str
) -> dict[str, Any]:
    """The finding for a trail found not logging (the cloudtrail-tamper workflow's
    backstop event). It is the trail's owner's (from its ARN: an organisation trail is
    the management account's, restarted there), else ``account``'s."""
    return synthetic_event(
        cloudtrail_tamper.TRAIL_NOT_LOGGING,
        key,
        window,
        account=_account_of(trail.arn) or account,
        region=region,
        detail={
            "trailName": trail.name,
            "trailArn": trail.arn,
            "homeRegion": trail.home_region,
            "isMultiRegionTrail": trail.multi_region,
            "isLogging": False,
        },
        resources=(trail.arn,) if trail.arn else (),
        time=time,
    )


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


class Backstop:
    """One run of the check. Clients and the alert callable are given (tests pass fakes)."""

    def __init__(
        self,
        settings: BackstopSettings,
        *,
        region: str,
        cloudtrail: Any,
        events: Any,
        stepfunctions: Any,
        raise_alert: Callable[[dict[str, Any]], Mapping[str, Any]],
    ) -> None:
        self.settings = settings
        self.region = region
        self.cloudtrail = cloudtrail
        self.events = events
        self.sfn = stepfunctions
        self.raise_alert = raise_alert
        self.account = _account_of(settings.state_machine_arn)

    # ------------------------------------------------------------------ trails

    def start_workflow(self, event: dict[str, Any]) -> dict[str, Any]:
        """Start the cloudtrail-tamper state machine; an execution of the same name
        (a retried run in the same window) counts as started."""
        name = f"backstop-{event['id']}"
        try:
            arn = self.sfn.start_execution(
                stateMachineArn=self.settings.state_machine_arn,
                name=name,
                input=json.dumps(event),
            )["executionArn"]
        except ClientError as err:
            if error_code(err) != "ExecutionAlreadyExists":
                raise translate(err) from err
            return {"name": name, "executionArn": None, "alreadyStarted": True}
        return {"name": name, "executionArn": arn, "alreadyStarted": False}

    def check_trails(self, moment: datetime, report: BackstopReport) -> None:
        trails, missing = watched_trails(
            list_trails(self.cloudtrail, self.region), self.settings.watched_trail_names
        )
        window = _window(moment, self.settings.window_seconds)
        for trail in trails:
            try:
                state = read_status(self.cloudtrail, trail)
            except ResourceGone:
                continue  # deleted since DescribeTrails: DeleteTrail is alerted on its own
            report.trails.append(state.to_dict())
            if state.is_logging:
                continue
            event = trail_not_logging_event(
                trail,
                trail.arn or trail.name,
                window,
                account=self.account,
                region=self.region,
                time=report.checked_at,
            )
            report.executions.append({"trail": trail.name, **self.start_workflow(event)})
        daily = _window(moment, MISSING_REMINDER_SECONDS)
        lost = [
            (cloudtrail_tamper.WATCHED_TRAIL_MISSING, name, {"trailName": name}) for name in missing
        ]
        if not self.settings.watched_trail_names and not trails:
            lost.append((cloudtrail_tamper.NO_LOGGING_TRAIL, self.region, {}))
        for detail_type, key, detail in lost:
            event = synthetic_event(
                detail_type,
                key,
                daily,
                account=self.account,
                region=self.region,
                detail=detail,
                time=report.checked_at,
            )
            report.executions.append({"trail": key, **self.start_workflow(event)})

    # ------------------------------------------------------------------ app rules

    def rule_problem(self, name: str) -> tuple[str, str, str] | None:
        """(detail-type, state, rule ARN) when the rule is off, gone or has no targets."""
        try:
            rule = self.events.describe_rule(Name=name)
        except ClientError as err:
            if error_code(err) == "ResourceNotFoundException":
                return app_tamper.RULE_MISSING, "MISSING", ""
            raise translate(err) from err
        state, arn = str(rule.get("State", "")), str(rule.get("Arn", ""))
        if not state.startswith("ENABLED"):  # ENABLED or ENABLED_WITH_ALL_CLOUDTRAIL_...
            return app_tamper.RULE_DISABLED, state or "DISABLED", arn
        try:
            targets = self.events.list_targets_by_rule(Rule=name).get("Targets", [])
        except ClientError as err:
            raise translate(err) from err
        if not targets:
            return app_tamper.RULE_WITHOUT_TARGETS, state, arn
        return None

    def check_rules(self, moment: datetime, report: BackstopReport) -> None:
        window = _window(moment, RULE_REMINDER_SECONDS)
        for name in self.settings.app_rule_names:
            problem = self.rule_problem(name)
            if problem is None:
                report.rules.append({"name": name, "ok": True})
                continue
            detail_type, state, arn = problem
            report.rules.append({"name": name, "ok": False, "problem": detail_type, "state": state})
            event = synthetic_event(
                detail_type,
                name,
                window,
                account=_account_of(arn) or self.account,
                region=self.region,
                detail={"ruleName": name, "ruleArn": arn, "state": state},
                resources=(arn,) if arn else (),
                time=report.checked_at,
            )
            result = self.raise_alert(event)
            report.alerts.append(
                {
                    "rule": name,
                    "eventId": event["id"],
                    "verdict": result.get("verdict"),
                    "reason": result.get("reason"),
                }
            )

    # ------------------------------------------------------------------ run

    def run(self, raw_event: Any, clock: Callable[[], float] = time.time) -> BackstopReport:
        """Both checks always run; the first failure is raised afterwards (so the
        function's error alarm fires and the Scheduler retries)."""
        moment = check_time(raw_event, clock)
        report = BackstopReport(checked_at=moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
        failures: list[Exception] = []
        for check in (self.check_trails, self.check_rules):
            try:
                check(moment, report)
            except Exception as err:
                failures.append(err)
        if failures:
            raise failures[0]
        return report
