"""`trailwarden demo`: every workflow end to end on the embedded AWS (moto), no account.

Each scenario comes from events/: the driver sets up the emulator, the sample event is
routed by the template's own rule patterns, the real state machine runs with our
handlers in-process, and the resource is read back. A scenario's expected verdict and
end state come from events/index.json, never from the code under test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import boto3

from trailwarden_local import demo_sinks
from trailwarden_local.approval_server import INTERACTIONS_PATH, ApprovalServer
from trailwarden_local.chat_standins import SlackStandIn, TeamsStandIn
from trailwarden_local.demo_approval import drive_approval, drive_discord_approval
from trailwarden_local.discord_app_standin import DiscordApplicationStandIn
from trailwarden_local.discord_standin import DiscordStandIn
from trailwarden_local.drivers import DRIVERS
from trailwarden_local.drivers.base import MemberView, rewrite_issuer
from trailwarden_local.inbox import TopicInbox
from trailwarden_local.samples import TEMPLATE, Sample, load_index, load_organization

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

SECRET_NAME = "trailwarden/discord-webhook"  # noqa: S105 - a name, not a secret
SLACK_SECRET_NAME = "trailwarden/slack-webhook"  # noqa: S105 - a name, not a secret
TEAMS_SECRET_NAME = "trailwarden/teams-webhook"  # noqa: S105 - a name, not a secret
# Every sink on (the index's and a scenario's parameters go on top): the demo shows, per
# scenario, what each received.
SINK_PARAMETERS = {
    "DiscordWebhookSecretName": SECRET_NAME,
    "SlackWebhookSecretName": SLACK_SECRET_NAME,
    "TeamsWebhookSecretName": TEAMS_SECRET_NAME,
    "SecurityHubFindings": "on",
    "NotificationEmail": "security-team@example.com",
}
# Small delays so the demo and tests never wait long (the template keeps production values).
FAST_ENV = {
    "WEBHOOK_BACKOFF_SECONDS": "0.05",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "SECRET_MAX_AGE_SECONDS": "0",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
# The demo's own: a webhook that hangs (a scenario's Teams) costs each message at most
# this much, not the production budget.
DEMO_ENV = {**FAST_ENV, "WEBHOOK_BUDGET_SECONDS": "3"}


@dataclass
class ScenarioResult:
    workflow: str
    scenario: str
    file: str
    verdict: str
    expected_verdict: str
    ok: bool
    before: Any
    after: Any
    reason: str = ""
    discord: list[dict[str, Any]] = field(default_factory=list)
    email: list[dict[str, str]] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    approval: list[dict[str, Any]] = field(default_factory=list)
    simulated: str | None = None  # which step AWS would do the driver simulated, and why
    account: str = ""  # where the resource lives
    region: str = ""
    # The rules that got the event: bus, rule, and (organisation) the member forwarder.
    route: list[dict[str, Any]] = field(default_factory=list)
    # Organisation scenarios: what the hub's own backend holds of the resource's kind in
    # the member's region (read with the hub's plain credentials; must be nothing).
    hub_holds: list[str] | None = None
    # What each sink received (contract: every key of demo_sinks.SINK_NAMES).
    sinks: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "scenario": self.scenario,
            "file": self.file,
            "verdict": self.verdict,
            "expectedVerdict": self.expected_verdict,
            "ok": self.ok,
            "reason": self.reason,
            "before": self.before,
            "after": self.after,
            "discord": self.discord,
            "email": self.email,
            "executions": self.executions,
            "problems": self.problems,
            "approval": self.approval,
            "simulated": self.simulated,
            "account": self.account,
            "region": self.region,
            "route": self.route,
            "hubHolds": self.hub_holds,
            "sinks": self.sinks,
        }


def _discord_summary(body: Any) -> dict[str, Any]:
    embeds = body.get("embeds", []) if isinstance(body, dict) else []
    first = embeds[0] if embeds else {}
    return {
        "title": first.get("title", ""),
        "color": first.get("color"),
        "fields": len(first.get("fields", [])),
        "allowed_mentions": body.get("allowed_mentions") if isinstance(body, dict) else None,
    }


def run_scenario(
    app: Any,
    sink: DiscordStandIn,
    inbox: TopicInbox,
    sample: Sample,
    discord_app: tuple[DiscordApplicationStandIn, str] | None = None,
    where: Any = None,
    *,
    observer: demo_sinks.Observer,
) -> ScenarioResult:
    """``discord_app``: Discord's stand-in and the interactions URL, when the scenario's
    app has DiscordApplicationSecretName (approve with buttons instead of a link).
    ``where``: the app as the driver sees it (a member's ``MemberView``; default the app).
    ``observer``: reads what every sink received (``sinks``), and programs the chat
    stand-ins as the sample's ``setup.sinks`` says."""
    assert sample.workflow is not None
    where = app if where is None else where
    prepared = DRIVERS[sample.workflow](where, sample)
    if sample.issuer == "member-role":  # the member role's own call
        rewrite_issuer(prepared.event, app.organization.member_role_arn(where.account_id))
    before = prepared.read_state()
    seen = len(sink.requests)
    observer.sinks.program(sample.setup.get("sinks"))
    marks = observer.mark(where)

    # Events the scenario puts on the bus before its own one (they may match nothing).
    deliveries = [d for e in prepared.preceding_events for d in app.put_event(e)]
    deliveries += prepared.trigger() if prepared.trigger else app.put_event(prepared.event)
    approval: list[dict[str, Any]] = []
    approval_problems: list[str] = []
    if sample.setup.get("approval") == "approve-in-discord":
        waiting = next((d.execution_arn for d in deliveries if d.execution_arn), None)
        if discord_app is None:
            approval_problems = ["approve-in-discord needs DiscordApplicationSecretName"]
        else:
            approval, approval_problems = drive_discord_approval(
                app,
                discord_app[0],
                discord_app[1],
                seen,
                waiting,
                prepared.read_state,
                str(prepared.event["detail"]["eventID"]),
            )
    elif sample.setup.get("approval"):  # a human follows the link over HTTP, then decides
        waiting = next((d.execution_arn for d in deliveries if d.execution_arn), None)
        approval, approval_problems = drive_approval(
            app, sink, seen, waiting, str(sample.setup["approval"]), prepared.read_state
        )
    executions: list[dict[str, Any]] = []
    verdict, reason = "ignore", "no rule matched the event"
    for delivery in deliveries:
        if delivery.execution_arn:
            described = app.wait_for_execution(delivery.execution_arn)
            finding = app.first_task_output(delivery.execution_arn)
            executions.append(
                {
                    "status": described["status"],
                    "stateTransitions": app.state_transitions(delivery.execution_arn),
                }
            )
        else:
            finding = delivery.lambda_result if isinstance(delivery.lambda_result, dict) else {}
        verdict = str(finding.get("verdict", verdict))
        reason = str(finding.get("reason", reason))

    after = prepared.read_state()
    if prepared.cleanup is not None:
        prepared.cleanup()
    problems = list(approval_problems)
    if verdict != sample.verdict:
        problems.append(f"verdict {verdict}, expected {sample.verdict}")
    if "after" in sample.expect and after != sample.expect["after"]:
        problems.append(f"end state {after}, expected {sample.expect['after']}")
    expected_status = sample.expect.get("status", "SUCCEEDED")
    problems += [
        f"execution {e['status']}, expected {expected_status}"
        for e in executions
        if e["status"] != expected_status
    ]
    discord = [_discord_summary(r.json) for r in sink.requests[seen:]]
    email = inbox.drain()
    sinks = observer.observe(where, marks, email)
    observer.sinks.program(None)
    problems += demo_sinks.problems(sample, sinks, observer.configured)
    return ScenarioResult(
        workflow=sample.workflow,
        scenario=sample.scenario,
        file=sample.file,
        verdict=verdict,
        expected_verdict=sample.verdict,
        ok=not problems,
        before=before,
        after=after,
        reason=reason,
        discord=discord,
        email=email,
        executions=executions,
        problems=problems,
        simulated=prepared.simulated,
        approval=approval,
        account=str(where.account_id),
        region=str(where.region),
        route=[
            {"bus": d.event_bus, "rule": d.rule_logical_id, "forwardedBy": d.forwarded_by}
            for d in deliveries
        ],
        sinks=sinks,
    )


def relocated(sample: Sample) -> Sample:
    """``sample`` as it happened in its member account and region: the sample's own
    account id and region are replaced everywhere in the event (envelope, record, ARNs)."""
    assert sample.account and sample.region
    text = json.dumps(sample.event)
    text = text.replace(str(sample.event["account"]), sample.account)
    text = text.replace(f'"{sample.event["region"]}"', f'"{sample.region}"')
    text = text.replace(f":{sample.event['region']}:", f":{sample.region}:")
    text = text.replace(f".{sample.event['region']}.", f".{sample.region}.")
    return dataclasses.replace(sample, event=json.loads(text))


# Organisation scenarios: what the hub account holds, in the member's region, of the
# kind of resource each workflow changes (plain boto3 with the hub's own credentials).
_HUB_PROBES: dict[str, Callable[[str], list[str]]] = {
    "ami-exposure": lambda region: [
        i["ImageId"]
        for i in boto3.client("ec2", region_name=region).describe_images(Owners=["self"])["Images"]
    ],
    "snapshot-exposure": lambda region: [
        s["SnapshotId"]
        for s in boto3.client("ec2", region_name=region).describe_snapshots(OwnerIds=["self"])[
            "Snapshots"
        ]
    ],
    "sg-open-ingress": lambda region: [
        g["GroupId"]
        for g in boto3.client("ec2", region_name=region).describe_security_groups()[
            "SecurityGroups"
        ]
        if g["GroupName"] != "default"
    ],
    "cloudtrail-tamper": lambda region: [
        t["Name"]
        for t in boto3.client("cloudtrail", region_name=region).describe_trails()["trailList"]
    ],
    "waf-protected-ip": lambda region: [
        s["Name"]
        for s in boto3.client("wafv2", region_name=region).list_ip_sets(Scope="REGIONAL")["IPSets"]
    ],
}


def run_organization(
    app: Any,
    sink: DiscordStandIn,
    inbox: TopicInbox,
    samples: list[Sample],
    observer: demo_sinks.Observer,
) -> list[ScenarioResult]:
    """Member scenarios on an organisation-mode app: each sample happens in its member
    account and region (driver clients use that member's AssumeRole credentials), goes
    through the member's forwarder to the hub bus, and is checked for a hub-bus route and
    for leaving nothing in the hub's own backend."""
    results = []
    for sample in samples:
        moved = relocated(sample)
        assert moved.account and moved.region
        view = MemberView(app, moved.account, moved.region, app.member_credentials(moved.account))
        result = run_scenario(app, sink, inbox, moved, where=view, observer=observer)
        if result.verdict != "ignore" and not any(
            r["bus"] == app.organization.hub_bus and r["forwardedBy"] for r in result.route
        ):
            result.problems.append("the event did not reach the hub bus through a forwarder")
        probe = _HUB_PROBES.get(str(sample.workflow))
        if probe is not None:
            result.hub_holds = probe(moved.region)
            if result.hub_holds:
                result.problems.append(f"the hub account holds {result.hub_holds}")
        result.ok = not result.problems
        results.append(result)
    return results


def _connect_sinks(app: Any, chat: demo_sinks.ChatStandIns) -> demo_sinks.Observer:
    """The webhook secrets (Discord and Slack as a plain URL, Teams as ``{"url": ...}``:
    both formats), Security Hub enabled where scenarios happen (the hub's region; in
    organisation mode every member region, through the member's own credentials)."""
    secrets = boto3.client("secretsmanager", region_name=app.region)
    secrets.create_secret(Name=SECRET_NAME, SecretString=chat.discord.url)
    secrets.create_secret(Name=SLACK_SECRET_NAME, SecretString=chat.slack.url)
    secrets.create_secret(Name=TEAMS_SECRET_NAME, SecretString=json.dumps({"url": chat.teams.url}))
    boto3.client("securityhub", region_name=app.region).enable_security_hub()
    if app.organization is not None:
        for member in app.organization.members.values():
            credentials = app.member_credentials(member.account)
            for region in member.regions:
                boto3.client("securityhub", region_name=region, **credentials).enable_security_hub()
    on = {
        "email": bool(app.parameters.get("NotificationEmail")),
        "discord": bool(app.parameters.get("DiscordWebhookSecretName")),
        "slack": bool(app.parameters.get("SlackWebhookSecretName")),
        "teams": bool(app.parameters.get("TeamsWebhookSecretName")),
        "securityhub": app.parameters.get("SecurityHubFindings") == "on",
    }
    configured = frozenset(name for name, yes in on.items() if yes)
    return demo_sinks.Observer(chat, app.security_hub_updates, configured)


def run_all(workflows: set[str] | None = None) -> list[ScenarioResult]:
    # moto otherwise loads hundreds of public AMIs into every EC2 backend.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    from trailwarden_local.engine import LocalApp

    index = load_index()
    samples = [
        s
        for s in index.samples
        if s.in_demo and s.workflow in DRIVERS and (not workflows or s.workflow in workflows)
    ]
    # Scenarios that need other parameters (a tiny ApprovalTimeoutSeconds) get an app of
    # their own; results keep the index's order.
    groups: dict[tuple[tuple[str, str], ...], list[Sample]] = {}
    for sample in samples:
        groups.setdefault(tuple(sorted(sample.parameters.items())), []).append(sample)
    results: dict[int, ScenarioResult] = {}
    with (
        DiscordStandIn() as sink,
        SlackStandIn() as slack,
        TeamsStandIn() as teams,
        ApprovalServer() as approvals,
    ):
        chat = demo_sinks.ChatStandIns(sink, slack, teams, approvals.url)
        env = {**DEMO_ENV, "APPROVAL_BASE_URL": approvals.url}
        for extra, group in groups.items():
            parameters = {**SINK_PARAMETERS, **index.parameters, **dict(extra)}
            with LocalApp(TEMPLATE, parameters=parameters, function_env_overrides=env) as app:
                approvals.attach(app)
                observer = _connect_sinks(app, chat)
                discord_app = None
                if parameters.get("DiscordApplicationSecretName"):  # Discord plays the app
                    standin = DiscordApplicationStandIn(sink)
                    boto3.client("secretsmanager", region_name=app.region).create_secret(
                        Name=parameters["DiscordApplicationSecretName"],
                        SecretString=standin.secret(),
                    )
                    discord_app = (standin, approvals.url + INTERACTIONS_PATH)
                inbox = TopicInbox(app.resource("AlertTopic"), app.region)
                for sample in group:
                    results[samples.index(sample)] = run_scenario(
                        app, sink, inbox, sample, discord_app, observer=observer
                    )
                approvals.attach(None)
        ordered = [results[i] for i in sorted(results)]
        organization = load_organization()
        members = [
            s
            for s in organization.samples
            if s.in_demo and s.workflow in DRIVERS and (not workflows or s.workflow in workflows)
        ]
        if members:
            parameters = {**SINK_PARAMETERS, **index.parameters, **organization.parameters}
            with LocalApp(TEMPLATE, parameters=parameters, function_env_overrides=env) as app:
                approvals.attach(app)
                for member in organization.members:
                    app.add_member(
                        str(member["account"]),
                        tuple(member["regions"]),
                        member_role=bool(member.get("memberRole", True)),
                    )
                observer = _connect_sinks(app, chat)
                inbox = TopicInbox(app.resource("AlertTopic"), app.region)
                ordered += run_organization(app, sink, inbox, members, observer)
                approvals.attach(None)
    return ordered


def _approval_step(step: Mapping[str, Any]) -> str:
    """One approval step as a line: a check, an HTTP request and its answer, or the
    audit record's decision (each driver says which)."""
    if "check" in step:
        return str(step["check"])
    if "request" in step:
        line = f"{step['request']} -> {step.get('status')}"
        return line + (f" ({step['by']})" if "by" in step else "")
    return json.dumps(step, sort_keys=True, default=str)


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


def print_human(results: list[ScenarioResult], elapsed: float, out: TextIO) -> None:
    for r in results:
        mark = "OK  " if r.ok else "FAIL"
        print(f"[{mark}] {r.workflow} / {r.scenario}: verdict {r.verdict}", file=out)
        print(f"    where  : account {r.account}, {r.region}", file=out)
        for route in r.route:
            if route["forwardedBy"]:
                print(
                    f"    route  : member forwarder {route['forwardedBy']} -> bus {route['bus']}"
                    f", rule {route['rule']}",
                    file=out,
                )
        if r.hub_holds is not None:
            print(f"    hub    : holds {r.hub_holds or 'nothing'} of this kind there", file=out)
        print(f"    why    : {r.reason}", file=out)
        if r.simulated:
            print(f"    SIMULATED: {r.simulated}", file=out)
        print(f"    before : {json.dumps(r.before, sort_keys=True)}", file=out)
        print(f"    after  : {json.dumps(r.after, sort_keys=True)}", file=out)
        for e in r.executions:
            print(
                f"    run    : {e['status']}, {e['stateTransitions']} state transitions", file=out
            )
        for line in demo_sinks.lines(r.sinks):  # one line per sink
            print(f"    {line}", file=out)
        if r.email:  # the first email in full
            print(_indent(r.email[0]["body"]), file=out)
        for step in r.approval:
            print(f"    approve: {_approval_step(step)}", file=out)
        for problem in r.problems:
            print(f"    PROBLEM: {problem}", file=out)
        print(file=out)
    failed = [r for r in results if not r.ok]
    print(
        f"{len(results) - len(failed)}/{len(results)} scenarios ended as their data expects "
        f"({elapsed:.1f}s)",
        file=out,
    )


def main(
    json_output: bool = False, out: TextIO = sys.stdout, workflows: set[str] | None = None
) -> int:
    started = time.monotonic()
    results = run_all(workflows or None)
    elapsed = time.monotonic() - started
    if json_output:
        json.dump({"scenarios": [r.to_dict() for r in results]}, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        print_human(results, elapsed, out)
    return 0 if results and all(r.ok for r in results) else 1
