"""The demo's organisation scenarios (issue 14, "Local"), end to end: the real template in
organisation mode, member accounts with their own moto backends, events routed by the
member forwarders to the hub bus, each resource read back with the member's credentials."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import pytest

from trailwarden_local import demo

if TYPE_CHECKING:
    from collections.abc import Iterator

HUB = "123456789012"
MEMBER_SCENARIOS = {"member-made-public", "member-role-missing", "member-role-own-call"}


@pytest.fixture(scope="module")
def rows() -> Iterator[dict[str, dict[str, Any]]]:
    """One demo run of ami-exposure: the account-mode made-public and the three
    ami-exposure organisation scenarios; rows as ``trailwarden demo --json`` prints them."""
    patch = pytest.MonkeyPatch()
    index, organization = demo.load_index(), demo.load_organization()
    only = tuple(s for s in index.samples if s.file == "ami-exposure/made-public.json")
    members = tuple(s for s in organization.samples if s.scenario in MEMBER_SCENARIOS)
    patch.setattr(demo, "load_index", lambda: dataclasses.replace(index, samples=only))
    patch.setattr(
        demo, "load_organization", lambda: dataclasses.replace(organization, samples=members)
    )
    try:
        results = demo.run_all({"ami-exposure"})
    finally:
        patch.undo()
    document = json.loads(json.dumps({"scenarios": [r.to_dict() for r in results]}))
    yield {row["scenario"]: row for row in document["scenarios"]}


def test_ami_made_public_in_a_member_is_made_private_there_through_the_hub_bus(
    rows: dict[str, dict[str, Any]],
) -> None:
    row = rows["member-made-public"]

    assert row["problems"] == []
    assert row["ok"] is True
    assert (row["account"], row["region"]) == ("333333333333", "ap-northeast-2")
    assert row["verdict"] == "remediate"
    assert row["before"]["public"] is True
    assert row["after"] == {
        "public": False,
        "accountIds": ["222222222222"],
        "organizationArns": [],
        "organizationalUnitArns": [],
    }
    assert row["route"] == [
        {
            "bus": "trailwarden-local-hub",
            "rule": "AmiExposureStateMachineLaunchPermissionAdded",
            "forwardedBy": "AmiExposureStateMachineLaunchPermissionAdded",
        }
    ]
    assert row["hubHolds"] == []  # the hub account has no image in that region


def test_a_member_without_the_role_gets_one_clear_alert_and_keeps_its_image(
    rows: dict[str, dict[str, Any]],
) -> None:
    row = rows["member-role-missing"]

    assert row["ok"] is True, row["problems"]
    assert row["verdict"] == "alert"
    assert "cannot reach account 555555555555" in row["reason"]
    assert row["after"]["public"] is True  # nothing could be changed there
    assert len(row["email"]) == 1
    assert len(row["discord"]) == 1
    assert "555555555555" in row["email"][0]["body"]


def test_the_run_goes_on_after_a_member_without_the_role(
    rows: dict[str, dict[str, Any]],
) -> None:
    order = list(rows)

    after_missing = order[order.index("member-role-missing") + 1 :]

    assert after_missing
    assert all(rows[name]["ok"] for name in after_missing)


def test_the_member_roles_own_call_in_a_member_reaches_no_rule(
    rows: dict[str, dict[str, Any]],
) -> None:
    row = rows["member-role-own-call"]

    assert row["ok"] is True, row["problems"]
    assert row["verdict"] == "ignore"
    assert row["route"] == []
    assert row["after"]["public"] is True
    assert row["email"] == []


def test_every_demo_row_says_in_which_account_and_region_it_happened(
    rows: dict[str, dict[str, Any]],
) -> None:
    hub_row = rows["made-public"]

    assert all(row["account"] and row["region"] for row in rows.values())
    assert (hub_row["account"], hub_row["region"]) == (HUB, "us-east-1")
    assert {row["account"] for name, row in rows.items() if name in MEMBER_SCENARIOS} == {
        "333333333333",
        "444444444444",
        "555555555555",
    }
