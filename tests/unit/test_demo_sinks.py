"""The demo grades each scenario's sinks from the scenario's data: a sink programmed to
fail must have been tried and answered only that, the working ones must carry the
expected number of messages, and a resolved Security Hub finding needs the
BatchUpdateFindings request that resolved it."""

from __future__ import annotations

from typing import Any

from trailwarden_local.demo_sinks import SINK_NAMES, _summary, lines, problems
from trailwarden_local.samples import Sample

APPROVAL = "http://127.0.0.1:5000"
FINDING = {
    "id": "trailwarden/123456789012/ami-exposure/e1",
    "productArn": "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default",
    "title": "AMI made public",
    "severity": "CRITICAL",
    "workflowStatus": "RESOLVED",
    "note": "Made private",
}
RESOLVING = {
    "update": {"Workflow": {"Status": "RESOLVED"}, "Note": {"Text": "Made private"}},
    "processed": [{"Id": FINDING["id"], "ProductArn": FINDING["productArn"]}],
    "unprocessed": [],
    "error": None,
}


def sample(setup: dict[str, Any] | None = None, expect: dict[str, Any] | None = None) -> Sample:
    return Sample(
        file="ami-exposure/made-public.json",
        scenario="made-public",
        workflow="ami-exposure",
        verdict="remediate",
        event={},
        setup=setup or {},
        expect=expect or {},
    )


def message(status: int | None) -> dict[str, Any]:
    return {"title": "t", "fields": 3, "approvalLink": False, "status": status}


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "email": ["raised", "closed"],
        "discord": [message(200), message(200)],
        "slack": [message(200), message(200)],
        "teams": [message(202), message(202)],
        "securityhub": {"findings": [FINDING], "batchUpdateFindings": [RESOLVING]},
    }
    return base | overrides


RESOLVED = {"securityhub": {"findings": 1, "workflowStatus": "RESOLVED", "note": True}}


def test_a_scenario_whose_sinks_all_received_what_its_data_expects_has_no_problem() -> None:
    assert problems(sample(expect={"alerts": 2, **RESOLVED}), row()) == []


def test_a_missing_sink_key_is_a_problem() -> None:
    incomplete = {k: v for k, v in row().items() if k != "teams"}

    assert problems(sample(), incomplete) == ["sinks ['teams'] missing from the row"]


def test_slack_programmed_to_500_must_have_been_tried_and_answered_only_500() -> None:
    failing = sample(setup={"sinks": {"slack": 500, "teams": "hang"}}, expect={"alerts": 2})

    tried = row(slack=[message(500), message(500)], teams=[message(None)])
    untried = row(slack=[], teams=[message(None)])
    answered = row(slack=[message(200)], teams=[message(None)])

    assert problems(failing, tried) == []
    assert problems(failing, untried) == ["slack was programmed to answer 500 but got no request"]
    assert problems(failing, answered) == ["slack answered [200], programmed 500"]


def test_a_working_sink_with_too_few_messages_is_a_problem() -> None:
    assert problems(sample(expect={"alerts": 2}), row(discord=[message(200)])) == [
        "1 discord message(s), expected 2"
    ]


def test_a_sink_the_app_does_not_configure_is_not_expected_to_receive_anything() -> None:
    only_mail = frozenset({"email", "discord"})

    found = problems(
        sample(expect={"alerts": 2, **RESOLVED}),
        row(slack=[], teams=[], securityhub={"findings": [], "batchUpdateFindings": []}),
        only_mail,
    )

    assert found == []


def test_a_resolved_finding_without_the_resolving_batch_update_is_a_problem() -> None:
    unresolved = row(securityhub={"findings": [FINDING], "batchUpdateFindings": []})
    notified = row(securityhub={"findings": [{**FINDING, "workflowStatus": "NOTIFIED"}]})

    assert problems(sample(expect=RESOLVED), unresolved) == [
        f"no BatchUpdateFindings request set RESOLVED with a Note on {FINDING['id']}"
    ]
    assert "finding's Workflow.Status NOTIFIED, expected RESOLVED" in problems(
        sample(expect=RESOLVED),
        {**notified, "securityhub": {**notified["securityhub"], "batchUpdateFindings": []}},
    )


def test_slack_and_teams_requests_are_summarised_from_their_own_shapes() -> None:
    slack = {
        "text": "fallback",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "AMI made public"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "a"}] * 4},
            {"type": "actions", "elements": [{"type": "button", "url": APPROVAL + "/a/x"}]},
        ],
    }
    teams = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "body": [
                        {"type": "TextBlock", "text": "AMI made public", "weight": "Bolder"},
                        {"type": "FactSet", "facts": [{"title": "a", "value": "b"}] * 5},
                    ],
                },
            }
        ],
    }

    assert _summary("slack", slack, APPROVAL) == {
        "title": "AMI made public",
        "fields": 4,
        "approvalLink": True,
    }
    assert _summary("teams", teams, APPROVAL) == {
        "title": "AMI made public",
        "fields": 5,
        "approvalLink": False,
    }


def test_the_human_output_has_one_line_per_sink() -> None:
    printed = lines(row(teams=[message(None)]))

    assert [line.split(":")[0].strip() for line in printed] == list(SINK_NAMES)
    assert printed[3].endswith("-> no answer")
    assert "RESOLVED" in printed[4]
