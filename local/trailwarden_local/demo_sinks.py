"""What each sink received in one demo scenario (the rows' ``sinks``), read independently.

Every sink is observed from the outside, never through the code under test:

- ``email``: the subjects published to the alert topic (an SQS queue subscribed to it);
- ``discord``, ``slack``, ``teams``: the requests the local HTTP stand-ins recorded, one
  summary each (title or header text, number of fields / facts, whether the approval
  link is in it, the status the stand-in answered; ``None``: never answered);
- ``securityhub``: the findings that appeared or changed, read back with plain boto3
  ``GetFindings`` where the resource lives (a member's own credentials in organisation
  scenarios), and the ``BatchUpdateFindings`` requests the engine's stand-in received.

A scenario's expectations come from its data (``events/index.json``): ``expect.alerts``
(messages per channel), ``expect.securityhub`` (the finding's workflow status and note)
and ``setup.sinks`` (a sink programmed to fail or hang, e.g. ``{"slack": 500, "teams":
"hang"}``: it must have been tried and answered only that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import client

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from trailwarden_local.engine.securityhub_standin import BatchUpdateFindingsStandIn
    from trailwarden_local.samples import Sample
    from trailwarden_local.webhook_server import WebhookServer

SINK_NAMES = ("email", "discord", "slack", "teams", "securityhub")  # contract: row keys
CHAT = ("discord", "slack", "teams")


@dataclass
class ChatStandIns:
    """The local stand-ins the demo's apps post to, and the approval server's URL."""

    discord: WebhookServer
    slack: WebhookServer
    teams: WebhookServer
    approval_url: str

    def by_name(self) -> dict[str, WebhookServer]:
        return {"discord": self.discord, "slack": self.slack, "teams": self.teams}

    def program(self, setup: Mapping[str, Any] | None) -> None:
        """A sample's ``setup.sinks``: each named stand-in fails or hangs (the rest
        answer normally)."""
        wanted = dict(setup or {})
        for name, sink in self.by_name().items():
            sink.program(wanted.get(name))


@dataclass
class Marks:
    """Where each record stood before a scenario (so only its own part is reported)."""

    requests: dict[str, int]
    updates: int
    findings: dict[str, str]  # Id -> the finding as JSON


@dataclass
class Observer:
    sinks: ChatStandIns
    updates: BatchUpdateFindingsStandIn
    configured: frozenset[str] = frozenset(SINK_NAMES)  # the sinks the app's parameters turn on

    def mark(self, where: Any) -> Marks:
        return Marks(
            requests={name: len(s.requests) for name, s in self.sinks.by_name().items()},
            updates=len(self.updates.requests),
            findings={f["Id"]: _canonical(f) for f in _findings(where)},
        )

    def observe(self, where: Any, marks: Marks, email: list[dict[str, str]]) -> dict[str, Any]:
        """The row's ``sinks``: every key of SINK_NAMES."""
        row: dict[str, Any] = {"email": [mail["subject"] for mail in email]}
        for name, sink in self.sinks.by_name().items():
            start = marks.requests[name]
            answers = sink.answers[start:]
            row[name] = [
                {**_summary(name, request.json, self.sinks.approval_url), "status": status}
                for request, status in zip(sink.requests[start:], answers, strict=False)
            ]
        changed = [f for f in _findings(where) if marks.findings.get(f["Id"]) != _canonical(f)]
        row["securityhub"] = {
            "findings": [_finding_summary(f) for f in changed],
            "batchUpdateFindings": [
                r.to_dict()
                for r in self.updates.requests[marks.updates :]
                if (r.account, r.region) == (str(where.account_id), str(where.region))
            ],
        }
        return row


def problems(
    sample: Sample, sinks: Mapping[str, Any], configured: frozenset[str] = frozenset(SINK_NAMES)
) -> list[str]:
    """What the scenario's data expects of its (configured) sinks and did not happen."""
    found: list[str] = []
    missing = [name for name in SINK_NAMES if name not in sinks]
    if missing:
        found.append(f"sinks {missing} missing from the row")
    programmed = dict(sample.setup.get("sinks") or {})
    if "alerts" in sample.expect:  # messages per working channel
        for name in ("email", *CHAT):
            if name in programmed or name not in configured:
                continue
            if len(sinks[name]) != sample.expect["alerts"]:
                found.append(
                    f"{len(sinks[name])} {name} message(s), expected {sample.expect['alerts']}"
                )
    for name, mode in programmed.items():
        if name not in configured:
            continue
        answered = [request["status"] for request in sinks.get(name, [])]
        wanted = None if mode == "hang" else int(mode)
        if not answered:
            found.append(f"{name} was programmed to answer {mode} but got no request")
        elif any(status != wanted for status in answered):
            found.append(f"{name} answered {answered}, programmed {mode}")
    expected = sample.expect.get("securityhub")
    if expected is not None and "securityhub" in configured:
        found += _securityhub_problems(expected, sinks["securityhub"])
    return found


def _securityhub_problems(expected: Mapping[str, Any], observed: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    findings = observed["findings"]
    if len(findings) != expected.get("findings", 1):
        found.append(
            f"{len(findings)} Security Hub finding(s), expected {expected.get('findings', 1)}"
        )
    status = expected.get("workflowStatus")
    if status is None or not findings:
        return found
    finding = findings[0]
    if finding["workflowStatus"] != status:
        found.append(f"finding's Workflow.Status {finding['workflowStatus']}, expected {status}")
    if expected.get("note") and not finding["note"]:
        found.append("the finding has no Note")
    resolving = [
        update
        for update in observed["batchUpdateFindings"]
        if (update["update"].get("Workflow") or {}).get("Status") == status
        and (update["update"].get("Note") or {}).get("Text")
        and {"Id": finding["id"], "ProductArn": finding["productArn"]} in update["processed"]
    ]
    if not resolving:
        found.append(f"no BatchUpdateFindings request set {status} with a Note on {finding['id']}")
    return found


def lines(sinks: Mapping[str, Any]) -> list[str]:
    """One line per sink (the human-readable demo)."""
    out = [f"email      : {_joined(sinks['email']) or 'nothing'}"]
    for name in CHAT:
        requests = sinks[name]
        shown = [
            f'"{r["title"]}" ({r["fields"]} fields{", approval link" if r["approvalLink"] else ""})'
            f" -> {'no answer' if r['status'] is None else r['status']}"
            for r in requests
        ]
        out.append(f"{name:<11}: {_joined(shown) or 'nothing'}")
    hub = sinks["securityhub"]
    shown = [
        f"{f['id']} {f['severity']} {f['workflowStatus']}"
        + (f' note "{f["note"]}"' if f["note"] else "")
        for f in hub["findings"]
    ]
    updates = hub["batchUpdateFindings"]
    if updates:
        shown.append(
            "BatchUpdateFindings: "
            + ", ".join(
                f"{(u['update'].get('Workflow') or {}).get('Status', '-')}"
                f" ({len(u['processed'])} processed, {len(u['unprocessed'])} unprocessed"
                + (f", refused {u['error']}" if u["error"] else "")
                + ")"
                for u in updates
            )
        )
    out.append(f"securityhub: {_joined(shown) or 'nothing'}")
    return out


def _joined(items: list[str]) -> str:
    return " | ".join(items)


# ---------------------------------------------------------------------------- reading


def _findings(where: Any) -> list[dict[str, Any]]:
    """Every finding held where the scenario happens: plain boto3 ``GetFindings`` (moto
    has no filters), every page."""
    securityhub = client(where, "securityhub")
    out: list[dict[str, Any]] = []
    for page in securityhub.get_paginator("get_findings").paginate():
        out += page.get("Findings", [])
    return out


def _canonical(finding: Mapping[str, Any]) -> str:
    return json.dumps(finding, sort_keys=True, default=str)


def _finding_summary(finding: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": finding.get("Id"),
        "productArn": finding.get("ProductArn"),
        "title": finding.get("Title"),
        "severity": (finding.get("Severity") or {}).get("Label"),
        "workflowStatus": (finding.get("Workflow") or {}).get("Status"),
        "note": (finding.get("Note") or {}).get("Text"),
    }


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts(item)


def _summary(platform: str, body: Any, approval_url: str) -> dict[str, Any]:
    """Title (header text), how many fields / facts, and whether the approval link is in
    it, from the request body as the platform would read it."""
    linked = any(approval_url in text for text in _strings(body))
    title, fields = "", 0
    if platform == "discord" and isinstance(body, dict):
        embeds = body.get("embeds") or [{}]
        title = str(embeds[0].get("title") or body.get("content") or "")
        fields = len(embeds[0].get("fields") or [])
    elif platform == "slack" and isinstance(body, dict):
        blocks = body.get("blocks") or []
        header = next((b for b in blocks if b.get("type") == "header"), None)
        title = str(((header or {}).get("text") or {}).get("text") or body.get("text") or "")
        fields = sum(
            len(b.get("fields") or []) for b in _dicts(blocks) if b.get("type") == "section"
        )
    elif platform == "teams" and isinstance(body, dict):
        blocks = [d for d in _dicts(body) if d.get("type") == "TextBlock"]
        title = str(blocks[0].get("text") or "") if blocks else ""
        fields = sum(len(d.get("facts") or []) for d in _dicts(body) if d.get("type") == "FactSet")
    return {"title": title, "fields": fields, "approvalLink": linked}
