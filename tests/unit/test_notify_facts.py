"""Workflow facts in alerts: labelled per language, only those each workflow lists."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from trailwarden.models.findings import Finding, Severity, Verdict
from trailwarden.notify import messages

SEOUL = ZoneInfo("Asia/Seoul")


def finding(workflow: str, facts: dict[str, Any], event_name: str = "CreateUser") -> Finding:
    return Finding(
        workflow=workflow,
        event_id="e-1",
        event_name=event_name,
        event_time="2026-11-24T03:10:05Z",
        region="us-east-1",
        account="123456789012",
        verdict=Verdict.ALERT,
        severity=Severity.MEDIUM,
        reason="something happened",
        resource_type="AWS::IAM::User",
        resource_id="bob",
        actor={},
        facts=facts,
    )


@pytest.mark.parametrize(
    ("key", "value", "lang", "text"),
    [
        ("mfaAuthenticated", True, "en", "yes"),
        ("mfaAuthenticated", False, "ko", "아니요"),
        ("via", "console", "ko", "AWS 콘솔"),
        ("sessionKind", "port-forwarding-remote-host", "en", "port forwarding to a remote host"),
        ("tags", [{"key": "a", "value": "1"}, {"key": "b", "value": ""}], "en", "a=1, b="),
        ("remotePort", "5432", "en", "5432"),
        ("userName", "console", "ko", "console"),  # event text is never "translated"
    ],
)
def test_fact_values_read_naturally(key: str, value: Any, lang: str, text: str) -> None:
    assert messages.fact_text(key, value, lang, "ssm-session") == text


def test_only_listed_non_empty_facts_are_shown_in_order() -> None:
    facts = {"tags": [], "path": "/", "userName": "bob", "secretThing": "x", "userArn": ""}

    fields = messages.fact_fields(finding("iam-user-change", facts), "en")

    assert fields == [("IAM user", "bob"), ("Path", "/")]


def test_a_failed_lookup_is_shown_for_any_workflow() -> None:
    fields = messages.fact_fields(finding("ssm-session", {"lookupError": "ResourceGone"}), "ko")

    assert fields == [("실시간 조회 실패", "ResourceGone")]


def test_workflows_without_listed_facts_keep_their_layout() -> None:
    plain = finding("ami-exposure", {"imageId": "ami-1", "addedPublic": True}, "X")

    message = messages.detected(plain, "en", SEOUL)

    assert len(message.fields) == 9
    assert message.title.endswith(": ami-exposure")


@pytest.mark.parametrize(("lang", "what"), [("en", "IAM user created"), ("ko", "IAM 사용자 생성")])
def test_title_says_what_happened_in_the_alert_language(lang: str, what: str) -> None:
    message = messages.detected(finding("iam-user-change", {}), lang, SEOUL)

    severity, headline = messages.t("severity.medium", lang), messages.t("detected", lang)
    assert message.title == f"[{severity}] {headline}: {what}"
