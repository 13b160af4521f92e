"""Every EventBridge sample in events/ yields the workflow and verdict its index records."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import load_event, load_index
from trailwarden.logic.decide import decide
from trailwarden.models.events import parse_envelope
from trailwarden.models.settings import PARAMETER_ENV, DetectionSettings
from trailwarden.workflows.registry import workflow_for_event

INDEX = load_index()


def sample_settings(index: dict[str, Any]) -> DetectionSettings:
    env = {PARAMETER_ENV[k]: v for k, v in index["parameters"].items() if k in PARAMETER_ENV}
    env["OWN_ROLE_ARNS"] = ",".join(index["ownRoleArns"])
    return DetectionSettings.from_env(env)


@pytest.mark.parametrize("entry", INDEX["events"], ids=[e["file"] for e in INDEX["events"]])
def test_sample_yields_indexed_workflow_and_verdict(entry: dict[str, Any]) -> None:
    settings = sample_settings(INDEX)
    raw = load_event(entry["file"])

    # Routed as the app routes it: by call for CloudTrail records, by (source,
    # detail-type) for other events such as AWS Config compliance changes.
    workflow = workflow_for_event(parse_envelope(raw))

    assert (workflow.id if workflow else None) == entry["workflow"]
    if workflow is None:
        assert entry["verdict"] == "ignore"
        return
    assert str(decide(raw, workflow, settings).verdict) == entry["verdict"]


def test_every_sample_file_is_indexed() -> None:
    from tests.conftest import EVENTS

    on_disk = {
        str(p.relative_to(EVENTS))
        for p in EVENTS.rglob("*.json")
        if p.name != "index.json" and "states" not in p.parts
    }
    assert on_disk == {e["file"] for e in INDEX["events"]}
