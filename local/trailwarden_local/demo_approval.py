"""The human in the demo: follow the approval link over real HTTP, then decide (or not).

For a scenario whose ``setup.approval`` is ``approve``, ``reject`` or ``expire``:

1. wait for the approval message at the local Discord stand-in and take its link;
2. GET it (the confirmation page), and GET it again with a chat unfurler's user agent:
   the execution must still be waiting and the resource unchanged;
3. ``approve``/``reject``: POST the decision with the page's nonce; ``expire``: decide
   nothing and let ApprovalTimeoutSeconds run out;
4. GET the link once more: "already approved/rejected" or "expired".

``approve-in-discord`` (DiscordApplicationSecretName set): :func:`drive_discord_approval`
plays Discord: the bot message has buttons and no link, a forged and a stranger's click
change nothing, the approver's signed click decides over real HTTP, the message loses
its buttons, a replay is refused and the audit record names the approver.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from trailwarden_local.approval_server import ApprovalClient, wait_for_link
from trailwarden_local.discord_app_standin import (
    APPLICATION_ID,
    APPROVER_ID,
    APPROVER_NAME,
    STRANGER_ID,
    DiscordApplicationStandIn,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from trailwarden_local.discord_standin import DiscordStandIn
    from trailwarden_local.engine import LocalApp

UNFURLER = "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)"


def shown(link: str) -> str:
    """The link with its opaque id shortened, for printing."""
    base, _, approval_id = link.rpartition("/")
    return f"{base}/{approval_id[:6]}…"


def _status(app: LocalApp, execution_arn: str) -> str:
    return str(app.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"])


def drive_approval(
    app: LocalApp,
    sink: DiscordStandIn,
    seen: int,
    execution_arn: str | None,
    decision: str,
    read_state: Callable[[], Any],
    timeout: float = 60.0,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Returns (steps taken, problems found)."""
    steps: list[dict[str, Any]] = []
    problems: list[str] = []
    if execution_arn is None:
        return steps, ["no execution is waiting for an approval"]
    try:
        link = wait_for_link(lambda: [r.json for r in sink.requests], seen, timeout)
    except TimeoutError as err:
        return steps, [str(err)]
    human = ApprovalClient()
    state_before = read_state()

    page = human.get(link)
    steps.append({"request": f"GET {shown(link)}", "status": page.status, "by": "the human"})
    scanner = ApprovalClient(user_agent=UNFURLER).get(link)
    steps.append({"request": f"GET {shown(link)}", "status": scanner.status, "by": "an unfurler"})
    waiting, after_gets = _status(app, execution_arn), read_state()
    steps.append(
        {
            "check": f"after 2 GETs: execution {waiting}, resource unchanged "
            f"{after_gets == state_before}"
        }
    )
    if page.status != 200 or page.nonce is None:
        problems.append(f"the confirmation page answered {page.status}")
    if waiting != "RUNNING" or after_gets != state_before:
        problems.append("a GET of the approval link changed something")

    if decision in ("approve", "reject"):
        answer = human.decide(link, page, decision)
        steps.append(
            {"request": f"POST {shown(link)} decision={decision}", "status": answer.status}
        )
        if answer.status != 200:
            problems.append(f"the {decision} POST answered {answer.status}")
        replay = human.decide(link, page, decision)
        steps.append({"request": "POST the same form again (replay)", "status": replay.status})
        if replay.status == 200:
            problems.append("a replayed POST was accepted")
        app.wait_for_execution(execution_arn, timeout)
    else:  # nobody decides: the wait times out
        started = time.monotonic()
        app.wait_for_execution(execution_arn, timeout)
        steps.append(
            {"check": f"nobody decided; the wait ended after {time.monotonic() - started:.1f}s"}
        )
        late = human.decide(link, page, "approve")
        steps.append({"request": "POST approve after expiry", "status": late.status})
        if late.status == 200:
            problems.append("an expired request accepted a decision")
    final = human.get(link)
    steps.append({"request": f"GET {shown(link)} afterwards", "status": final.status})
    return steps, problems


def _audit_decision(app: LocalApp, event_id: str) -> dict[str, Any]:
    """The decision in Report's audit record, read with plain boto3."""
    import boto3

    item = (
        boto3.client("dynamodb", region_name=app.region)
        .get_item(TableName=app.resource("IncidentsTable"), Key={"pk": {"S": f"audit#{event_id}"}})
        .get("Item")
    )
    record = json.loads(item["record"]["S"]) if item else {}
    decision = record.get("decision") if isinstance(record, dict) else None
    return dict(decision) if isinstance(decision, dict) else {}


def drive_discord_approval(
    app: LocalApp,
    standin: DiscordApplicationStandIn,
    interactions_url: str,
    seen: int,
    execution_arn: str | None,
    read_state: Callable[[], Any],
    event_id: str,
    timeout: float = 60.0,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Approve in Discord: a stranger's click and a forged one change nothing; the
    approver's signed click decides; the message loses its buttons; a replay is refused;
    the audit record names the approver. Returns (steps, problems)."""
    steps: list[dict[str, Any]] = []
    problems: list[str] = []
    if execution_arn is None:
        return steps, ["no execution is waiting for an approval"]
    try:
        message = standin.wait_for_buttons(seen, timeout)
    except TimeoutError as err:
        return steps, [str(err)]
    text = json.dumps(message)
    steps.append(
        {"check": f"bot message with buttons, approval link in it: {'/approvals/' in text}"}
    )
    if "/approvals/" in text:
        problems.append("the Discord message carries an approval link")
    approve = standin.custom_id(message, "approve")
    state_before = read_state()

    ping = (
        b'{"type":1,"id":"1","application_id":"%s","token":"t","version":1}'
        % APPLICATION_ID.encode()
    )
    pong = standin.post(interactions_url, ping, standin.signed_headers(ping))
    steps.append({"request": "POST PING (signed)", "status": pong.status, "answer": pong.body})
    forged_body = standin.interaction(approve, APPROVER_ID, APPROVER_NAME)
    forged = standin.post(
        interactions_url,
        forged_body,
        DiscordApplicationStandIn(standin.sink).signed_headers(forged_body),
    )
    steps.append({"request": "POST Approve signed by another key", "status": forged.status})
    stranger, _ = standin.click(interactions_url, approve, STRANGER_ID, "Mallory")
    steps.append(
        {
            "request": "POST Approve by a user outside the allowlist",
            "status": stranger.status,
            "answer": stranger.body,
        }
    )
    waiting, unchanged = _status(app, execution_arn), read_state() == state_before
    steps.append({"check": f"after both: execution {waiting}, resource unchanged {unchanged}"})
    if pong.body != {"type": 1}:
        problems.append(f"PING answered {pong.status} {pong.body}")
    if forged.status != 401:
        problems.append(f"a forged signature answered {forged.status}")
    if waiting != "RUNNING" or not unchanged:
        problems.append("a refused click changed something")

    answer, body = standin.click(interactions_url, approve, APPROVER_ID, APPROVER_NAME)
    steps.append(
        {"request": "POST Approve by the approver", "status": answer.status, "answer": answer.body}
    )
    if answer.body != {"type": 6}:
        problems.append(f"the approver's click answered {answer.status} {answer.body}")
    app.wait_for_execution(execution_arn, timeout)
    replay = standin.post(interactions_url, body, standin.signed_headers(body))
    steps.append(
        {
            "request": "POST the same click again (replay)",
            "status": replay.status,
            "answer": replay.body,
        }
    )
    if not (isinstance(replay.body, dict) and replay.body.get("type") == 4):
        problems.append("a replayed click was not refused")
    edits = [r.json for r in standin.edits(seen) if isinstance(r.json, dict)]
    edit = edits[-1] if edits else {}
    steps.append(
        {"check": f"message edited: {edit.get('content', '-')!r}, buttons {edit.get('components')}"}
    )
    if not edits or edit.get("components") != []:
        problems.append("the Discord message still has its buttons")
    decision = _audit_decision(app, event_id)
    steps.append({"audit": decision})
    if decision.get("discordUserId") != APPROVER_ID:
        problems.append(f"the audit record does not name the approver: {decision}")
    return steps, problems
