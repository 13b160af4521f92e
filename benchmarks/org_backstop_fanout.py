"""The organisation backstop's fan-out: accounts x regions checked per period, wall time.

Runs the REAL ``statemachines/org-backstop.asl.json`` in moto's Step Functions executor
(its Map state runs up to MaxConcurrency iterations at once) with the real handlers'
logic (``handlers.org_backstop_accounts.run``, ``handlers.org_backstop.run_check``) over a
simulated organisation (``trailwarden_local.org_backstop_sim``): every member call
(AssumeRole, DescribeRegions, DescribeTrails, GetTrailStatus, ListAccounts pages,
StartExecution) sleeps ``--latency-ms``. Some accounts have no member role, one has its
trail stopped. Printed, never asserted as a timing; the run fails only when an answer is
wrong (an account or region not checked, not exactly one alert per unreachable account).

    .venv/bin/python benchmarks/org_backstop_fanout.py [--accounts 100] [--latency-ms 20]

Extrapolation: 500 accounts are ceil(500 / batch) items; the Map runs MaxConcurrency of
them at once, so a period costs the ListAccounts step (ceil(500 / 20) pages) plus
ceil(items / MaxConcurrency) waves of the slowest measured batch. ``--accounts 500``
measures it directly.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "functions"), str(REPO / "local"), str(REPO)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "trailwarden")

from trailwarden_local.org_backstop_sim import (  # noqa: E402
    REGIONS_17,
    FakeOrganization,
    account_ids,
    max_concurrency,
    run_state_machine,
)

PERIOD_SECONDS = 300
TARGET_ACCOUNTS = 500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="per member call")
    parser.add_argument("--batch-size", type=int, default=10, help="accounts per Map item")
    parser.add_argument("--pool-size", type=int, default=32, help="threads per item")
    parser.add_argument("--unreachable", type=int, default=2, help="accounts without a role")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)

    ids = account_ids(args.accounts)
    step = max(1, args.accounts // max(1, args.unreachable))
    unreachable = frozenset(ids[step // 2 :: step][: args.unreachable])
    stopped = frozenset(a for a in ids[-1:] if a not in unreachable)
    org = FakeOrganization(
        args.accounts,
        latency=args.latency_ms / 1000,
        unreachable=unreachable,
        stopped=stopped,
    )
    result = run_state_machine(org, batch_size=args.batch_size, pool_size=args.pool_size)

    batches = result.output.get("results", [])
    regions = len(REGIONS_17)
    checked = sum(b.get("regionsChecked", 0) for b in batches)
    flagged = [a for b in batches for a in b.get("unreachable", [])]
    alerts = [e for e in org.started.values() if e["detail-type"] == "Member Unreachable"]
    not_logging = [e for e in org.started.values() if e["detail-type"] == "Trail Not Logging"]
    wrong = []
    if result.status != "SUCCEEDED":
        wrong.append(f"execution {result.status}")
    if checked != (args.accounts - len(unreachable)) * regions:
        wrong.append(f"{checked} account-regions checked, expected every reachable one")
    if sorted(flagged) != sorted(unreachable) or len(alerts) != len(unreachable):
        wrong.append(f"unreachable {sorted(flagged)}, alerts {len(alerts)}")
    if {e["account"] for e in not_logging} != set(stopped):
        wrong.append("the stopped trail did not start exactly its workflow")

    concurrency = max_concurrency()
    check = result.durations["org-backstop-check"]
    listing = result.durations["org-backstop-accounts"]
    items = math.ceil(TARGET_ACCOUNTS / args.batch_size)
    waves = math.ceil(items / concurrency)
    list_500 = math.ceil(TARGET_ACCOUNTS / 20) * args.latency_ms / 1000
    extrapolated = list_500 + waves * max(check)
    print(f"latency per member call     {args.latency_ms:.0f} ms")
    print(
        f"batch / MaxConcurrency      {args.batch_size} accounts / {concurrency} items "
        f"(pool {args.pool_size} threads)"
    )
    print(
        f"measured                    {args.accounts} accounts x {regions} regions: "
        f"{checked + len(unreachable) * regions} account-regions in one period "
        f"({checked} read, {len(unreachable)} accounts unreachable -> {len(alerts)} alerts)"
    )
    print(
        f"wall time                   {result.wall_seconds:.2f} s "
        f"(ListAccounts {max(listing):.2f} s, batches {min(check):.2f}-{max(check):.2f} s, "
        f"{result.invocations['org-backstop-check']} items, peak {result.peak_concurrent_checks}"
        " at once)"
    )
    print(f"state transitions           {result.state_transitions} per period")
    print(f"member calls                {dict(sorted(org.calls.items()))}")
    print(
        f"extrapolated 500 x {regions}        {extrapolated:.2f} s = ListAccounts {list_500:.2f} s "
        f"+ {waves} waves of {items} items x {max(check):.2f} s "
        f"({extrapolated / PERIOD_SECONDS:.1%} of a {PERIOD_SECONDS} s period)"
    )
    for line in wrong:
        print(f"WRONG: {line}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
