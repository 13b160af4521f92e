"""Alert messages in English or Korean, independent of the channel that carries them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Finding, Severity, Verdict
from trailwarden.workflows.declaration import Text
from trailwarden.workflows.registry import declaration

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from trailwarden.workflows.declaration import Declaration

SEVERITY_COLOURS: dict[Severity, int] = {
    Severity.INFO: 0x3498DB,
    Severity.MEDIUM: 0xF1C40F,
    Severity.HIGH: 0xE67E22,
    Severity.CRITICAL: 0xE74C3C,
}
SUCCESS_COLOUR = 0x2ECC71

_TEXT: dict[str, dict[str, str]] = {
    "detected": {"en": "Security alert", "ko": "보안 경보"},
    "remediating": {
        "en": "Risky change detected, remediating",
        "ko": "위험한 변경 감지, 자동 조치 중",
    },
    "approval": {"en": "Approval needed", "ko": "승인 필요"},
    "result.remediated": {"en": "Remediated", "ko": "조치 완료"},
    "result.already-clean": {
        "en": "Already fixed, nothing to do",
        "ko": "이미 복구됨, 조치 불필요",
    },
    "result.partially-remediated": {"en": "Partly remediated", "ko": "일부 조치됨"},
    "result.failed": {"en": "Remediation FAILED", "ko": "자동 조치 실패"},
    "result.rejected": {"en": "Rejected, nothing changed", "ko": "거부됨, 변경 없음"},
    "result.expired": {"en": "Approval expired, nothing changed", "ko": "승인 만료, 변경 없음"},
    "workflow": {"en": "Workflow", "ko": "워크플로"},
    "severity": {"en": "Severity", "ko": "심각도"},
    "verdict": {"en": "Verdict", "ko": "판정"},
    "resource": {"en": "Resource", "ko": "리소스"},
    "where": {"en": "Account / region", "ko": "계정 / 리전"},
    "actor": {"en": "Who", "ko": "수행자"},
    "source": {"en": "Source IP / user agent", "ko": "출발지 IP / 사용자 에이전트"},
    "when": {"en": "When", "ko": "발생 시각"},
    "event": {"en": "CloudTrail event", "ko": "CloudTrail 이벤트"},
    "reason": {"en": "Why", "ko": "사유"},
    "plan": {"en": "Planned actions", "ko": "예정된 조치"},
    "done": {"en": "Actions taken", "ko": "수행한 조치"},
    "before": {"en": "Before", "ko": "조치 전"},
    "after": {"en": "After", "ko": "조치 후"},
    "error": {"en": "Error", "ko": "오류"},
    "details": {"en": "Details", "ko": "상세"},
    "approve_link": {"en": "Review and decide", "ko": "검토 후 승인/거부"},
    "decision": {"en": "Decision", "ko": "결정"},
    "decision.approved": {"en": "approved", "ko": "승인"},
    "decision.rejected": {"en": "rejected", "ko": "거부"},
    "decision.expired": {"en": "nobody decided in time", "ko": "기한 내 결정 없음"},
    "expires": {"en": "Link expires", "ko": "링크 만료"},
    "none": {"en": "none", "ko": "없음"},
    "footer": {"en": "trailwarden", "ko": "trailwarden"},
    "severity.info": {"en": "INFO", "ko": "정보"},
    "severity.medium": {"en": "MEDIUM", "ko": "중간"},
    "severity.high": {"en": "HIGH", "ko": "높음"},
    "severity.critical": {"en": "CRITICAL", "ko": "심각"},
}


def t(key: str, language: str) -> str:
    entry = _TEXT[key]
    return entry.get(language) or entry["en"]


# --- workflow facts --------------------------------------------------------------------
# Which of a workflow's facts its alerts show, their labels and what happened (the title)
# come from its declaration (trailwarden.workflows.<unit>). COMMON_FACTS are shown for
# every workflow when present.
COMMON_FACTS: dict[str, Text] = {"lookupError": Text("Live lookup failed", "실시간 조회 실패")}

# Values that are the app's own vocabulary (never text from the event): translated.
# Shared by every workflow; a workflow declares its own in ``fact_values``.
_COMMON_FACT_VALUES: dict[str, dict[str, Text]] = {
    "via": {
        "cloudformation": Text("CloudFormation", "CloudFormation"),
        "console": Text("AWS console", "AWS 콘솔"),
        "api": Text("API / CLI / SDK", "API / CLI / SDK"),
    },
}
_YES_NO = {True: Text("yes", "예"), False: Text("no", "아니요")}


def _declaration(workflow: str) -> Declaration | None:
    try:
        return declaration(workflow)
    except KeyError:
        return None


def what_happened(finding: Finding, lang: str) -> str:
    declared = _declaration(finding.workflow)
    entry = declared.what.get(finding.event_name) if declared else None
    return entry.get(lang) if entry else finding.workflow


def fact_text(key: str, value: Any, lang: str, workflow: str = "") -> str:
    """One fact as text. Event strings stay raw here: each channel escapes them."""
    if isinstance(value, bool):
        return _YES_NO[value].get(lang)
    declared = _declaration(workflow) if workflow else None
    known = (declared.fact_values if declared else {}).get(key) or _COMMON_FACT_VALUES.get(key, {})
    if isinstance(value, str) and value in known:
        return known[value].get(lang)
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, Mapping) and set(item) == {"key", "value"}:
                parts.append(f"{item['key']}={item['value']}")  # a tag
            elif isinstance(item, Mapping | list):
                parts.append(compact(item))
            else:
                parts.append(str(item))
        return ", ".join(parts)
    if isinstance(value, Mapping):
        return compact(value)
    return str(value)


def fact_fields(finding: Finding, lang: str) -> list[tuple[str, str]]:
    """The workflow's facts worth reading in the alert, labelled in ``lang``."""
    declared = _declaration(finding.workflow)
    labels = {**(declared.facts if declared else {}), **COMMON_FACTS}
    fields = []
    for key, label in labels.items():
        value = finding.facts.get(key)
        if value is None or value in ("", [], {}):
            continue
        fields.append((label.get(lang), fact_text(key, value, lang, finding.workflow)))
    return fields


@dataclass(frozen=True)
class Message:
    """Channel-neutral content. Every string from the event is raw here: channels escape."""

    severity: Severity
    colour: int
    title: str
    summary: str
    fields: tuple[tuple[str, str], ...]
    footer: str
    subject: str = ""  # English/ASCII: SNS subjects must be ASCII
    links: tuple[tuple[str, str], ...] = ()


SETTINGS_WARNING_LABEL = "Settings warning"


def with_settings_warnings(message: Message, warnings: Sequence[str]) -> Message:
    """The message with a first "Settings warning" line when a parameter was skipped or
    replaced, so the team learns of the typo from the first alert. First, so that a
    channel's field limit never cuts it; channels neutralise it like every other field."""
    if not warnings:
        return message
    return replace(message, fields=((SETTINGS_WARNING_LABEL, "\n".join(warnings)), *message.fields))


def local_time(iso: str, zone: ZoneInfo) -> str:
    """CloudTrail's UTC ISO time shown in the team's time zone, e.g. 2026-11-24 23:35:10 KST."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso or "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _account(finding: Finding) -> str:
    """The account id, with its name in organisation mode when it could be read."""
    account = finding.account or "-"
    return f"{account} ({finding.account_name})" if finding.account_name else account


def _base_fields(finding: Finding, lang: str, zone: ZoneInfo) -> list[tuple[str, str]]:
    actor = finding.actor
    who = " ".join(p for p in (str(actor.get("type", "")), str(actor.get("arn", ""))) if p)
    if actor.get("mfaAuthenticated"):
        who += " (MFA)"
    source = f"{actor.get('sourceIp', '') or '-'} / {actor.get('userAgent', '') or '-'}"
    return [
        (t("workflow", lang), finding.workflow),
        (t("severity", lang), t(f"severity.{finding.severity}", lang)),
        (t("resource", lang), f"{finding.resource_type} {finding.resource_id}".strip() or "-"),
        (t("where", lang), f"{_account(finding)} / {finding.region or '-'}"),
        (t("actor", lang), who or "-"),
        (t("source", lang), source),
        (t("when", lang), local_time(finding.event_time, zone)),
        (t("event", lang), f"{finding.event_name} {finding.event_id}".strip()),
        (t("reason", lang), finding.reason),
    ]


def detected(finding: Finding, lang: str, zone: ZoneInfo) -> Message:
    """The first message of an incident: alert, or 'remediating now'."""
    fields = _base_fields(finding, lang, zone)
    fields += fact_fields(finding, lang)
    if finding.plan:
        fields.append((t("plan", lang), "\n".join(a.description for a in finding.plan)))
    notes = finding.facts.get("notes")  # live context an enrich lookup added
    if isinstance(notes, list) and notes:
        fields.append((t("details", lang), "\n".join(str(n) for n in notes)))
    headline = {
        Verdict.REMEDIATE: t("remediating", lang),
        Verdict.APPROVAL: t("approval", lang),
    }.get(finding.verdict, t("detected", lang))
    return Message(
        severity=finding.severity,
        colour=SEVERITY_COLOURS[finding.severity],
        title=(
            f"[{t(f'severity.{finding.severity}', lang)}] {headline}: "
            f"{what_happened(finding, lang)}"
        ),
        summary=finding.reason,
        fields=tuple(fields),
        footer=f"{t('footer', lang)} · {finding.event_id}",
        subject=(
            f"[trailwarden] {finding.severity.upper()} {finding.workflow} {finding.resource_id}"
        ),
    )


def decision_text(decision: Mapping[str, Any], lang: str, zone: ZoneInfo) -> str:
    """A human's approval decision: what, when, from where (IP and user agent)."""
    status = str(decision.get("status", ""))
    key = f"decision.{status}"
    text = t(key, lang) if key in _TEXT else status
    at = decision.get("decidedAt")
    if isinstance(at, int | float) and not isinstance(at, bool):
        text += " " + datetime.fromtimestamp(at, UTC).astimezone(zone).strftime(
            "%Y-%m-%d %H:%M:%S %Z"
        )
    if decision.get("discordUserId"):  # decided with a Discord button: who, not where
        text += f" / Discord {decision.get('discordUserName') or '-'} ({decision['discordUserId']})"
    elif decision.get("sourceIp"):
        text += f" / {decision.get('sourceIp')} / {decision.get('userAgent') or '-'}"
    return text


def result(
    finding: Finding,
    status: str,
    lang: str,
    zone: ZoneInfo,
    *,
    outcome: Mapping[str, Any] | None = None,
    error: str | None = None,
    decision: Mapping[str, Any] | None = None,
) -> Message:
    """The closing message: what was done and the state read back afterwards."""
    outcome = outcome or {}
    fields = _base_fields(finding, lang, zone)
    if decision:
        fields.append((t("decision", lang), decision_text(decision, lang, zone)))
    actions = outcome.get("actions") or []
    fields.append(
        (
            t("done", lang),
            "\n".join(str(a.get("description", "")) for a in actions) or t("none", lang),
        )
    )
    if "before" in outcome:
        fields.append((t("before", lang), compact(outcome.get("before"))))
    if "after" in outcome:
        fields.append((t("after", lang), compact(outcome.get("after"))))
    for note in outcome.get("notes") or ():
        fields.append((t("details", lang), str(note)))
    if error:
        fields.append((t("error", lang), error))
    ok = status in ("remediated", "already-clean")
    return Message(
        severity=finding.severity,
        colour=SUCCESS_COLOUR
        if ok
        else SEVERITY_COLOURS[Severity.CRITICAL if status == "failed" else finding.severity],
        title=f"{t(f'result.{status}', lang)}: {finding.workflow} {finding.resource_id}".strip(),
        summary=finding.reason,
        fields=tuple(fields),
        footer=f"{t('footer', lang)} · {finding.event_id}",
        subject=f"[trailwarden] {status} {finding.workflow} {finding.resource_id}",
    )
