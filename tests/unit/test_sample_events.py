"""Every EventBridge sample in events/ yields the workflow and verdict its index records."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import load_event, load_index
from trailwarden.events import parse_cloudtrail, parse_envelope
from trailwarden.findings import effective_verdict
from trailwarden.registry import workflow_for_call
from trailwarden.settings import PARAMETER_ENV, DetectionSettings

INDEX = load_index()


def sample_settings(index: dict[str, Any]) -> DetectionSettings:
    env = {PARAMETER_ENV[k]: v for k, v in index["parameters"].items() if k in PARAMETER_ENV}
    env["OWN_ROLE_ARNS"] = ",".join(index["ownRoleArns"])
    return DetectionSettings.from_env(env)


@pytest.mark.parametrize("entry", INDEX["events"], ids=[e["file"] for e in INDEX["events"]])
def test_sample_yields_indexed_workflow_and_verdict(entry: dict[str, Any]) -> None:
    settings = sample_settings(INDEX)
    event = parse_cloudtrail(parse_envelope(load_event(entry["file"])))

    workflow = workflow_for_call(event.event_source, event.event_name)
    assert workflow is not None
    detection = workflow.detect(event, settings)

    assert workflow.id == entry["workflow"]
    assert str(effective_verdict(detection.outcome, settings.mode(workflow.id))) == entry["verdict"]


def test_every_sample_file_is_indexed() -> None:
    from tests.conftest import EVENTS

    on_disk = {
        str(p.relative_to(EVENTS))
        for p in EVENTS.rglob("*.json")
        if p.name != "index.json" and "states" not in p.parts
    }
    assert on_disk == {e["file"] for e in INDEX["events"]}
