"""The demo's approve-in-discord scenario: the real template, the interactions route served
over real HTTP, Discord played by a stand-in holding the application's private key."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from trailwarden_local import demo
from trailwarden_local.discord_app_standin import APPROVER_ID

if TYPE_CHECKING:
    import pytest


def test_approve_in_discord_removes_the_ip_and_the_audit_names_the_approver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = demo.load_index()
    only = tuple(s for s in index.samples if s.scenario == "approve-in-discord")
    monkeypatch.setattr(demo, "load_index", lambda: dataclasses.replace(index, samples=only))
    organization = dataclasses.replace(demo.load_organization(), samples=())
    monkeypatch.setattr(demo, "load_organization", lambda: organization)

    (result,) = demo.run_all({"waf-protected-ip"})

    assert result.problems == []
    assert result.ok
    assert result.after == {"addresses": ["192.0.2.44/32"]}
    audit = next(step["audit"] for step in result.approval if "audit" in step)
    assert audit["status"] == "approved"
    assert audit["discordUserId"] == APPROVER_ID
    refused = [s for s in result.approval if s.get("request", "").startswith("POST Approve ")]
    assert [s["status"] for s in refused[:2]] == [401, 200]  # forged key; stranger (ephemeral)
    assert refused[1]["answer"]["data"]["flags"] == 64
