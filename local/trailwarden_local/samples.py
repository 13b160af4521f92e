"""The sample events in events/ and their index (expected workflow, verdict, demo setup)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = REPO_ROOT / "events"
TEMPLATE = REPO_ROOT / "template.yaml"


@dataclass(frozen=True)
class Sample:
    file: str
    scenario: str
    workflow: str | None
    verdict: str
    event: dict[str, Any]
    setup: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    own_role: bool = False
    in_demo: bool = True
    # Template parameters this scenario needs on top of the index's (e.g. a tiny
    # ApprovalTimeoutSeconds): the demo runs such scenarios in an app of their own.
    parameters: dict[str, str] = field(default_factory=dict)
    # Organisation scenarios (index "organization"): the member account and region the
    # sample is replayed in, and "member-role" when the call is the member role's own.
    account: str | None = None
    region: str | None = None
    issuer: str | None = None


@dataclass(frozen=True)
class SampleIndex:
    parameters: dict[str, str]
    own_role_arns: tuple[str, ...]
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class OrganizationIndex:
    """The demo's organisation: hub parameters, member accounts, member scenarios."""

    parameters: dict[str, str]
    members: tuple[dict[str, Any], ...]
    samples: tuple[Sample, ...]


def _sample(entry: dict[str, Any], events_dir: Path) -> Sample:
    return Sample(
        file=entry["file"],
        scenario=entry["scenario"],
        workflow=entry.get("workflow"),
        verdict=entry["verdict"],
        event=json.loads((events_dir / entry["file"]).read_text(encoding="utf-8")),
        setup=entry.get("setup", {}),
        expect=entry.get("expect", {}),
        own_role=bool(entry.get("ownRole")),
        in_demo=entry.get("demo", True),
        parameters={str(k): str(v) for k, v in (entry.get("parameters") or {}).items()},
        account=entry.get("account"),
        region=entry.get("region"),
        issuer=entry.get("issuer"),
    )


def load_organization(events_dir: Path = EVENTS_DIR) -> OrganizationIndex:
    raw = json.loads((events_dir / "index.json").read_text(encoding="utf-8"))
    org = raw.get("organization") or {}
    return OrganizationIndex(
        parameters={str(k): str(v) for k, v in (org.get("parameters") or {}).items()},
        members=tuple(org.get("members", ())),
        samples=tuple(_sample(entry, events_dir) for entry in org.get("events", ())),
    )


def load_index(events_dir: Path = EVENTS_DIR) -> SampleIndex:
    raw = json.loads((events_dir / "index.json").read_text(encoding="utf-8"))
    samples = tuple(_sample(entry, events_dir) for entry in raw["events"])
    return SampleIndex(
        parameters=dict(raw.get("parameters", {})),
        own_role_arns=tuple(raw.get("ownRoleArns", ())),
        samples=samples,
    )
