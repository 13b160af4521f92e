"""The logging backstop across an organisation (``DeploymentMode=organization``).

Every period the schedule starts the org-backstop state machine
(``statemachines/org-backstop.asl.json``):

1. ``ListAccounts`` (:func:`account_batches`): every ACTIVE account of the organisation
   but ``ExcludedAccountIds``, in batches of :attr:`OrgBackstopSettings.batch_size`.
2. ``CheckAccounts``: a Map state over the batches with a bounded ``MaxConcurrency``;
   each item is one invocation that checks every enabled region of its accounts
   (:class:`OrganizationBackstop`), with one thread pool over all of its calls:

   * per account: assume the member role once, through the hub region's STS endpoint
     (its token is valid in every region), and read the account's enabled regions
     (``ec2:DescribeRegions``);
   * per account and region: ``DescribeTrails`` with shadow trails;
   * per account and distinct trail: ``GetTrailStatus`` (a multi-region or organisation
     trail is seen in every region and read once);
   * then the same findings as the account-mode backstop (``logic.backstop``): a trail
     not logging starts the cloudtrail-tamper workflow in the trail's account (its
     Assess/Remediate act there through the member role), a watched trail missing or a
     region no trail logs is a critical alert through the same workflow.

A member whose role cannot be assumed, or denies a call, is ONE ``Member Unreachable``
event per account and reminder window (``cannot reach account X: role missing ...``),
whatever number of regions failed; the other accounts are checked as usual. Every event
has a deterministic id per (finding, window), and the execution is named after it: a
retried batch, an overlapping run or the same organisation trail seen from 500 accounts
starts one execution.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from trailwarden.dal.aws_errors import error_code, translate
from trailwarden.logic.backstop import (
    MISSING_REMINDER_SECONDS,
    _account_of,
    _window,
    check_time,
    synthetic_event,
    trail_not_logging_event,
    watched_trails,
)
from trailwarden.models.errors import MemberUnreachable, ResourceGone
from trailwarden.models.settings import split_list
from trailwarden.workflows.cloudtrail_tamper import detection as cloudtrail_tamper
from trailwarden.workflows.cloudtrail_tamper.remediation import (
    Trail,
    TrailState,
    list_trails,
    read_status,
)

if TYPE_CHECKING:
    from datetime import datetime

    from trailwarden.workflows.base import ClientFactory

# What the member role must allow for it: the cloudtrail-tamper assess reads (DescribeTrails,
# GetTrailStatus) and the declaration's member_grants (ec2:DescribeRegions).
# A call denied in a member (the role lacks it, or an SCP denies it): the account cannot
# be checked. The same codes STS answers for a role that is missing or does not trust us.
_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
)
# A region not enabled in the account answers with an invalid token (the regional token
# is refused there): not a finding, the region is simply not in use.
_REGION_OFF = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "OptInRequired"}
)
UNREACHABLE_REMINDER_SECONDS = 3600  # an unreachable account is reported again every hour


@dataclass(frozen=True)
class OrgBackstopSettings:
    """The organisation backstop (its two functions)."""

    hub_region: str
    batch_size: int = 10  # accounts per Map item
    pool_size: int = 32  # threads per invocation (every call is I/O)
    watched_trail_names: tuple[str, ...] = ()  # empty: every trail that logs a region
    excluded_account_ids: frozenset[str] = frozenset()
    window_seconds: int = 300
    unreachable_reminder_seconds: int = UNREACHABLE_REMINDER_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OrgBackstopSettings:
        return cls(
            hub_region=env.get("AWS_REGION", ""),
            batch_size=max(1, int(env.get("BACKSTOP_BATCH_SIZE", "10"))),
            pool_size=max(1, int(env.get("BACKSTOP_POOL_SIZE", "32"))),
            watched_trail_names=split_list(env.get("WATCHED_TRAIL_NAMES")),
            excluded_account_ids=frozenset(split_list(env.get("EXCLUDED_ACCOUNT_IDS"))),
            window_seconds=max(60, int(env.get("BACKSTOP_WINDOW_SECONDS", "300"))),
        )


def account_batches(
    organizations: Any, settings: OrgBackstopSettings, raw_event: Any
) -> dict[str, Any]:
    """The Map's items: every ACTIVE account but the excluded ones (ListAccounts, every
    page), sorted, in batches. A failed list raises (the state retries it)."""
    try:
        pages = organizations.get_paginator("list_accounts").paginate()
        active = sorted(
            str(a["Id"])
            for page in pages
            for a in page["Accounts"]
            if (a.get("State") or a.get("Status")) == "ACTIVE"
        )
    except ClientError as err:
        raise translate(err) from err
    accounts = [a for a in active if a not in settings.excluded_account_ids]
    size = settings.batch_size
    scheduled = raw_event.get("scheduledTime") if isinstance(raw_event, Mapping) else None
    return {
        "scheduledTime": scheduled if isinstance(scheduled, str) else "",
        "accounts": len(accounts),
        "excluded": len(active) - len(accounts),
        "batches": [accounts[i : i + size] for i in range(0, len(accounts), size)],
    }


@dataclass
class AccountReport:
    account: str
    regions: list[str] = field(default_factory=list)
    trails: dict[str, TrailState] = field(default_factory=dict)  # ARN or name -> state
    region_trails: dict[str, list[Trail]] = field(default_factory=dict)
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # (region, cause)
    errors: list[Exception] = field(default_factory=list)


def _denied(err: ClientError, account: str, what: str) -> MemberUnreachable:
    return MemberUnreachable(
        f"cannot reach account {account}: the member role denies {what} ({error_code(err)})"
    )


class OrganizationBackstop:
    """One batch of accounts. ``clients_for(account, session)`` gives a ClientFactory in
    the account (the member role); ``start_workflow`` starts the cloudtrail-tamper state
    machine with an event (and treats a same-named execution as started)."""

    def __init__(
        self,
        settings: OrgBackstopSettings,
        *,
        clients_for: Callable[[str, str], ClientFactory],
        start_workflow: Callable[[dict[str, Any]], dict[str, Any]],
        role_arn: Callable[[str], str] = lambda account: "",
    ) -> None:
        self.settings = settings
        self.clients_for = clients_for
        self.start_workflow = start_workflow
        self.role_arn = role_arn

    # ------------------------------------------------------------------ reads

    def _regions(self, report: AccountReport, clients: ClientFactory) -> None:
        try:
            answer = clients("ec2", self.settings.hub_region).describe_regions()
        except MemberUnreachable as err:
            report.unreachable.append(("", str(err)))
            return
        except ClientError as err:
            if error_code(err) in _DENIED:
                report.unreachable.append(
                    ("", str(_denied(err, report.account, "DescribeRegions")))
                )
            else:
                report.errors.append(translate(err))
            return
        except Exception as err:
            report.errors.append(err)
            return
        report.regions = sorted(str(r["RegionName"]) for r in answer.get("Regions", []))

    def _trails(self, report: AccountReport, clients: ClientFactory, region: str) -> None:
        try:
            report.region_trails[region] = list_trails(clients("cloudtrail", region), region)
        except MemberUnreachable as err:
            report.unreachable.append((region, str(err)))
        except ClientError as err:  # translate() keeps codes that mean nothing to us
            if error_code(err) in _REGION_OFF:
                return  # not enabled in this account (a race with DescribeRegions)
            if error_code(err) in _DENIED:
                cause = _denied(err, report.account, f"DescribeTrails in {region}")
                report.unreachable.append((region, str(cause)))
            else:
                report.errors.append(err)
        except Exception as err:
            report.errors.append(err)

    def _status(self, report: AccountReport, clients: ClientFactory, trail: Trail) -> None:
        # A shadow trail is read by ARN from any region; its home region is the natural one.
        try:
            state = read_status(clients("cloudtrail", trail.home_region), trail)
        except ResourceGone:
            return  # deleted since DescribeTrails: DeleteTrail is alerted on its own
        except MemberUnreachable as err:
            report.unreachable.append((trail.home_region, str(err)))
            return
        except ClientError as err:
            if error_code(err) in _DENIED:
                cause = _denied(err, report.account, "GetTrailStatus")
                report.unreachable.append((trail.home_region, str(cause)))
            else:
                report.errors.append(err)
            return
        except Exception as err:
            report.errors.append(err)
            return
        report.trails[trail.arn or trail.name] = state

    # ------------------------------------------------------------------ findings

    def _events(self, report: AccountReport, moment: datetime, at: str) -> list[dict[str, Any]]:
        """One "Member Unreachable" alert when anything was refused (naming the regions),
        and the findings of every region that could be read: a region-deny SCP in one
        region never hides a stopped trail in another."""
        account = report.account
        events: list[dict[str, Any]] = []
        if report.unreachable:
            window = _window(moment, self.settings.unreachable_reminder_seconds)
            regions = sorted({region for region, _cause in report.unreachable if region})
            events.append(
                synthetic_event(
                    cloudtrail_tamper.MEMBER_UNREACHABLE,
                    account,
                    window,
                    account=account,
                    region=self.settings.hub_region,
                    detail={
                        "cause": report.unreachable[0][1],
                        "roleArn": self.role_arn(account),
                        "regions": regions,
                    },
                    time=at,
                )
            )
        window = _window(moment, self.settings.window_seconds)
        daily = _window(moment, MISSING_REMINDER_SECONDS)
        for region in report.regions:
            if region not in report.region_trails:
                continue  # not read (error recorded, or the region is off)
            watched, missing = watched_trails(
                report.region_trails[region], self.settings.watched_trail_names
            )
            for trail in watched:
                state = report.trails.get(trail.arn or trail.name)
                if state is None or state.is_logging:
                    continue
                # The trail's owner: an organisation trail is the management account's,
                # and is restarted there (one execution for all).
                events.append(
                    trail_not_logging_event(
                        trail,
                        trail.arn or f"{account}/{trail.name}",
                        window,
                        account=account,
                        region=region,
                        time=at,
                    )
                )
            lost = [
                (
                    cloudtrail_tamper.WATCHED_TRAIL_MISSING,
                    f"{account}/{region}/{n}",
                    {"trailName": n},
                )
                for n in missing
            ]
            if not self.settings.watched_trail_names and not watched:
                lost.append((cloudtrail_tamper.NO_LOGGING_TRAIL, f"{account}/{region}", {}))
            events += [
                synthetic_event(
                    kind, key, daily, account=account, region=region, detail=detail, time=at
                )
                for kind, key, detail in lost
            ]
        return events

    # ------------------------------------------------------------------ run

    def run(self, item: Any, clock: Callable[[], float] = time.time) -> dict[str, Any]:
        """Check every account of ``item`` (``{"accounts": [...], "scheduledTime"}``).
        Every account is checked; an error that is not an unreachable member is raised
        after all of them (the function's error alarm fires, the state retries)."""
        accounts = (
            [str(a) for a in (item.get("accounts") or [])] if isinstance(item, Mapping) else []
        )
        moment = check_time(item, clock)
        at = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        session = at.replace(":", "")
        reports = [AccountReport(a) for a in accounts]
        factories = {r.account: self.clients_for(r.account, session) for r in reports}
        with ThreadPoolExecutor(max_workers=self.settings.pool_size) as pool:
            # 1. assume + enabled regions, every account at once
            list(pool.map(lambda r: self._regions(r, factories[r.account]), reports))
            # 2. DescribeTrails in every (account, region)
            reads = [(r, region) for r in reports if not r.unreachable for region in r.regions]
            list(pool.map(lambda rr: self._trails(rr[0], factories[rr[0].account], rr[1]), reads))
            # 3. GetTrailStatus once per (account, distinct trail it owns): a shadow of an
            # organisation trail is the management account's, read (and restarted) there,
            # since the member role may read only its own account's trails.
            distinct = [
                (r, trail)
                for r in reports
                for trail in {
                    t.arn or t.name: t for ts in r.region_trails.values() for t in ts
                }.values()
                if _account_of(trail.arn) in ("", r.account)
            ]
            list(
                pool.map(lambda rt: self._status(rt[0], factories[rt[0].account], rt[1]), distinct)
            )
            # 4. one event per finding (one per account when unreachable)
            events = [e for r in reports for e in self._events(r, moment, at)]
            unique = list({e["id"]: e for e in events}.values())
            started = list(pool.map(self._start, unique))
        failures = [err for r in reports for err in r.errors]
        failures += [s["error"] for s in started if "error" in s]
        result = {
            "checkedAt": at,
            "accounts": len(reports),
            "regionsChecked": sum(len(r.region_trails) for r in reports),
            "trailsChecked": sum(len(r.trails) for r in reports),
            "notLogging": sum(
                1 for e in unique if e["detail-type"] == cloudtrail_tamper.TRAIL_NOT_LOGGING
            ),
            "unreachable": [r.account for r in reports if r.unreachable],
            "executions": [
                {k: v for k, v in s.items() if k != "error"} for s in started if "error" not in s
            ],
            "errors": len(failures),
        }
        if failures:
            raise failures[0]
        return result

    def _start(self, event: dict[str, Any]) -> dict[str, Any]:
        try:
            started = self.start_workflow(event)
        except Exception as err:  # the others still start; raised after the batch
            return {"error": err}
        return {
            "account": event["account"],
            "kind": event["detail-type"],
            "name": started.get("name", ""),
            "alreadyStarted": bool(started.get("alreadyStarted")),
        }


def start_execution(sfn: Any, state_machine_arn: str, event: dict[str, Any]) -> dict[str, Any]:
    """Start the cloudtrail-tamper state machine; an execution of the same name (a retried
    batch, or the same trail seen from another account) counts as started."""
    name = f"backstop-{event['id']}"
    try:
        arn = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(event)
        )["executionArn"]
    except ClientError as err:
        if error_code(err) != "ExecutionAlreadyExists":
            raise translate(err) from err
        return {"name": name, "executionArn": None, "alreadyStarted": True}
    return {"name": name, "executionArn": arn, "alreadyStarted": False}
