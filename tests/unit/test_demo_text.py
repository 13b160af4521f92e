"""The plain-text demo prints every kind of approval step a driver records."""

from __future__ import annotations

from trailwarden_local.demo import _approval_step


def test_every_kind_of_approval_step_prints_as_one_line() -> None:
    steps = [
        {"check": "bot message with buttons, approval link in it: False"},
        {"request": "POST Approve", "status": 200, "by": "the approver"},
        {"audit": {"status": "approved", "discordUserName": "Alice Kim"}},
    ]

    lines = [_approval_step(step) for step in steps]

    assert lines[0] == "bot message with buttons, approval link in it: False"
    assert lines[1] == "POST Approve -> 200 (the approver)"
    assert "Alice Kim" in lines[2]
    assert all("\n" not in line for line in lines)
