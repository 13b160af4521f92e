"""Shared fixtures: fake AWS credentials, the sample index, settings the samples assume."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

# moto otherwise loads (and serialises) hundreds of public AMIs into every EC2 backend.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
# Handler modules build Powertools Metrics when first imported, which may happen in a
# module- or session-scoped fixture before the per-test environment below is set.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "trailwarden-tests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "trailwarden")

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "events"


def load_index() -> dict[str, Any]:
    return json.loads((EVENTS / "index.json").read_text(encoding="utf-8"))


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "trailwarden-tests",
        "POWERTOOLS_SERVICE_NAME": "trailwarden",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield


@pytest.fixture(scope="session")
def index() -> dict[str, Any]:
    return load_index()
