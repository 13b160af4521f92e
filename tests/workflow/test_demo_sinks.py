"""The demo shows every sink (issue 15): each row's ``sinks`` has email, Discord, Slack,
Teams and Security Hub; the remediated public AMI's finding reads back from the emulator
(plain boto3 GetFindings) resolved by the BatchUpdateFindings request the engine's
stand-in recorded; a scenario where Slack answers 500 and Teams hangs still emails,
posts to Discord and remediates. Expectations come from events/index.json."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import pytest

from trailwarden_local import demo

if TYPE_CHECKING:
    from collections.abc import Iterator

SINKS = {"email", "discord", "slack", "teams", "securityhub"}
AMI_SCENARIOS = {"made-public", "made-public-slack-500-teams-hang", "shared-trusted-account"}
WAF_SCENARIOS = {"nat-ip-blocked"}  # an approval request: the link goes to every chat
MEMBER_SCENARIOS = {"member-made-public"}
INDEX = demo.load_index()
EXPECT = {s.scenario: s.expect for s in INDEX.samples if s.workflow == "ami-exposure"}
SETUP = {s.scenario: s.setup for s in INDEX.samples if s.workflow == "ami-exposure"}


@pytest.fixture(scope="module")
def rows() -> Iterator[dict[str, dict[str, Any]]]:
    """One demo run of a few ami-exposure scenarios, rows as ``demo --json`` prints them."""
    patch = pytest.MonkeyPatch()
    organization = demo.load_organization()
    only = tuple(
        s
        for s in INDEX.samples
        if (s.workflow, s.scenario)
        in {("ami-exposure", n) for n in AMI_SCENARIOS}
        | {("waf-protected-ip", n) for n in WAF_SCENARIOS}
    )
    members = tuple(s for s in organization.samples if s.scenario in MEMBER_SCENARIOS)
    patch.setattr(demo, "load_index", lambda: dataclasses.replace(INDEX, samples=only))
    patch.setattr(
        demo, "load_organization", lambda: dataclasses.replace(organization, samples=members)
    )
    try:
        results = demo.run_all({"ami-exposure", "waf-protected-ip"})
    finally:
        patch.undo()
    document = json.loads(json.dumps({"scenarios": [r.to_dict() for r in results]}))
    yield {row["scenario"]: row for row in document["scenarios"]}


def test_every_row_reports_all_five_sinks_and_keeps_its_discord_and_email(
    rows: dict[str, dict[str, Any]],
) -> None:
    assert set(rows) == AMI_SCENARIOS | WAF_SCENARIOS | MEMBER_SCENARIOS
    for row in rows.values():
        assert set(row["sinks"]) == SINKS
        assert {"discord", "email"} <= set(row)
        assert row["ok"] is True, row["problems"]


def test_the_remediated_public_ami_finding_reads_back_resolved_by_a_batch_update(
    rows: dict[str, dict[str, Any]],
) -> None:
    expected = EXPECT["made-public"]["securityhub"]
    hub = rows["made-public"]["sinks"]["securityhub"]

    (finding,) = hub["findings"]
    assert finding["workflowStatus"] == expected["workflowStatus"] == "RESOLVED"
    assert finding["note"]
    assert finding["title"]
    resolving = [
        u
        for u in hub["batchUpdateFindings"]
        if u["update"]["Workflow"] == {"Status": "RESOLVED"} and u["update"]["Note"]["Text"]
    ]
    assert resolving, hub["batchUpdateFindings"]
    assert {"Id": finding["id"], "ProductArn": finding["productArn"]} in resolving[0]["processed"]
    assert resolving[0]["unprocessed"] == []
    assert (resolving[0]["account"], resolving[0]["region"]) == ("123456789012", "us-east-1")


def test_each_alert_reaches_slack_and_teams_with_its_title(
    rows: dict[str, dict[str, Any]],
) -> None:
    sinks = rows["made-public"]["sinks"]
    alerts = EXPECT["made-public"]["alerts"]

    assert len(sinks["email"]) == alerts
    assert [r["status"] for r in sinks["discord"]] == [200] * alerts
    assert [r["status"] for r in sinks["slack"]] == [200] * alerts
    assert [r["status"] for r in sinks["teams"]] == [202] * alerts
    assert all(r["title"] for name in ("discord", "slack", "teams") for r in sinks[name])


def test_slack_answering_500_and_teams_hanging_still_email_post_to_discord_and_remediate(
    rows: dict[str, dict[str, Any]],
) -> None:
    row = rows["made-public-slack-500-teams-hang"]
    sinks = row["sinks"]
    programmed = SETUP["made-public-slack-500-teams-hang"]["sinks"]
    alerts = EXPECT["made-public-slack-500-teams-hang"]["alerts"]

    assert programmed == {"slack": 500, "teams": "hang"}
    assert row["after"] == EXPECT["made-public-slack-500-teams-hang"]["after"]
    assert row["after"]["public"] is False
    assert len(sinks["email"]) == alerts
    assert [r["status"] for r in sinks["discord"]] == [200] * alerts
    assert sinks["slack"] and {r["status"] for r in sinks["slack"]} == {500}
    assert sinks["teams"] and {r["status"] for r in sinks["teams"]} == {None}  # never answered
    assert sinks["securityhub"]["findings"][0]["workflowStatus"] == "RESOLVED"


def test_a_scenario_that_alerts_nobody_leaves_every_sink_empty(
    rows: dict[str, dict[str, Any]],
) -> None:
    sinks = rows["shared-trusted-account"]["sinks"]

    assert sinks == {
        "email": [],
        "discord": [],
        "slack": [],
        "teams": [],
        "securityhub": {"findings": [], "batchUpdateFindings": []},
    }


def test_a_members_finding_is_imported_and_resolved_in_that_member(
    rows: dict[str, dict[str, Any]],
) -> None:
    row = rows["member-made-public"]
    hub = row["sinks"]["securityhub"]

    (finding,) = hub["findings"]  # read with the member's own credentials, in its region
    assert finding["workflowStatus"] == "RESOLVED"
    assert ":333333333333:" in finding["productArn"]
    assert ":ap-northeast-2:" in finding["productArn"]
    assert any(
        (u["account"], u["region"]) == ("333333333333", "ap-northeast-2") and u["processed"]
        for u in hub["batchUpdateFindings"]
    )


def test_the_approval_request_carries_the_link_in_discord_slack_and_teams(
    rows: dict[str, dict[str, Any]],
) -> None:
    sinks = rows["nat-ip-blocked"]["sinks"]

    requests = [sinks[name][0] for name in ("discord", "slack", "teams")]

    assert [r["approvalLink"] for r in requests] == [True, True, True]
    assert [r["status"] for r in requests] == [200, 200, 202]
