"""Every file in events/ runs through its function's handler, as `sam local invoke -e` would.

EventBridge samples go to the first function of their workflow (Assess, or the alert
function of an alert-only workflow); state samples go to the function the index names.
The resources they name do not exist in the emulator, so a typed error (e.g.
ResourceGone, caught by the state machine) is an accepted outcome; a crash is not.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from moto import mock_aws

from tests.conftest import EVENTS, load_event, load_index
from trailwarden.models.errors import ERROR_NAMES
from trailwarden_local.engine import LocalApp
from trailwarden_local.samples import TEMPLATE

if TYPE_CHECKING:
    from collections.abc import Iterator

INDEX = load_index()
FIRST_FUNCTION_KINDS = ("assess", "alert")


@pytest.fixture(scope="module")
def app() -> Iterator[LocalApp]:
    with (
        mock_aws(config=dict(LocalApp.MOTO_CONFIG)),
        LocalApp(TEMPLATE, parameters=INDEX["parameters"], start_mock=False) as local,
    ):
        yield local


def first_function(app: LocalApp, entry: dict[str, Any]) -> str:
    """The index may name it (a sample no workflow claims, e.g. Athena's StartSession)."""
    if "function" in entry:
        return str(entry["function"])
    workflow = entry["workflow"]
    for logical_id, function in app.functions.items():
        kind = function.handler.split(".")[1]
        if function.environment.get("WORKFLOW") == workflow and kind in FIRST_FUNCTION_KINDS:
            return logical_id
    raise AssertionError(f"no first function for {workflow}")


def assert_handled(result: Any) -> None:
    if result.function_error:
        assert result.payload["errorType"] in ERROR_NAMES, result.payload
    else:
        assert isinstance(result.payload, dict)


@pytest.mark.parametrize("entry", INDEX["events"], ids=[e["file"] for e in INDEX["events"]])
def test_eventbridge_sample_runs_through_its_first_function(
    app: LocalApp, entry: dict[str, Any]
) -> None:
    event = load_event(entry["file"])

    result = app.invoke(first_function(app, entry), event)

    assert_handled(result)
    if not result.function_error and entry["workflow"]:
        assert result.payload["workflow"] == entry["workflow"]
    # An own-role sample names the example role ARN; its rule, not the handler, drops it.
    if not result.function_error and entry["verdict"] == "ignore" and not entry.get("ownRole"):
        assert result.payload["verdict"] == "ignore"


@pytest.mark.parametrize(
    "entry", INDEX.get("states", []), ids=[e["file"] for e in INDEX.get("states", [])]
)
def test_state_sample_runs_through_its_function(app: LocalApp, entry: dict[str, Any]) -> None:
    state = json.loads((EVENTS / entry["file"]).read_text(encoding="utf-8"))

    result = app.invoke(entry["function"], state)

    assert_handled(result)


def test_every_state_sample_is_indexed() -> None:
    on_disk = {str(p.relative_to(EVENTS)) for p in (EVENTS / "states").glob("*.json")}
    assert on_disk == {e["file"] for e in INDEX.get("states", [])}
