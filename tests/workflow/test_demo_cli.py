"""`trailwarden demo --json`: stdout is one JSON object in the contract shape, nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

REQUIRED = {"workflow", "scenario", "verdict", "ok", "before", "after"}


def test_demo_json_prints_only_the_scenarios_object_and_every_scenario_is_ok() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "trailwarden_local.cli",
            "demo",
            "--json",
            "--workflow",
            "ami-exposure",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )

    document = json.loads(completed.stdout)  # fails if anything else reached stdout
    scenarios = document["scenarios"]
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert {s["scenario"] for s in scenarios} >= {
        "made-public",
        "shared-untrusted-account",
        "shared-trusted-account",
        "failed-access-denied",
    }
    for scenario in scenarios:
        assert set(scenario) >= REQUIRED
        assert scenario["ok"] is True
        assert scenario["workflow"] == "ami-exposure"
