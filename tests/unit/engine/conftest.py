"""Fixtures for the local engine's tests: the fixture template, an app inside moto."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import moto
import pytest

from trailwarden_local.engine import LocalApp

if TYPE_CHECKING:
    from collections.abc import Iterator

FIXTURE_DIR = Path(__file__).resolve().parent / "fixture"
FIXTURE_TEMPLATE = FIXTURE_DIR / "template.yaml"

API_CALL: dict[str, Any] = {
    "source": "aws.ec2",
    "detail-type": "AWS API Call via CloudTrail",
    "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances"},
}


def api_call(event_name: str) -> dict[str, Any]:
    return {**API_CALL, "detail": {**API_CALL["detail"], "eventName": event_name}}


@pytest.fixture
def app() -> Iterator[LocalApp]:
    """The fixture template provisioned inside a moto mock the test started."""
    config: Any = LocalApp.MOTO_CONFIG
    with (
        moto.mock_aws(config=config),
        LocalApp(FIXTURE_TEMPLATE, start_mock=False, shutdown_timeout=2.0) as local,
    ):
        yield local
