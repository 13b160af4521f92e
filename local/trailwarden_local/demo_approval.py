"""The human in the demo: follow the approval link over real HTTP, then decide (or not).

For a scenario whose ``setup.approval`` is ``approve``, ``reject`` or ``expire``:

1. wait for the approval message at the local Discord sink and take its link;
2. GET it (the confirmation page), and GET it again with a chat unfurler's user agent:
   the execution must still be waiting and the resource unchanged;
3. ``approve``/``reject``: POST the decision with the page's nonce; ``expire``: decide
   nothing and let ApprovalTimeoutSeconds run out;
4. GET the link once more: "already approved/rejected" or "expired".
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from trailwarden_local.approval_server import ApprovalClient, wait_for_link

if TYPE_CHECKING:
    from collections.abc import Callable

    from trailwarden_local.discord_sink import DiscordSink
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
    sink: DiscordSink,
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
