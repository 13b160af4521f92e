"""Clients are built once per container: a handler's cached dependencies keep a
client_cache, so a warm invocation reuses its clients."""

from __future__ import annotations

import pytest

from trailwarden.dal.clients import client_cache


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_the_same_service_and_region_get_the_same_client() -> None:
    clients = client_cache()

    assert clients("ec2", "eu-west-1") is clients("ec2", "eu-west-1")


def test_another_region_or_service_gets_its_own_client() -> None:
    clients = client_cache()

    assert clients("ec2", "eu-west-1") is not clients("ec2", "us-east-1")
    assert clients("ec2", "us-east-1") is not clients("sns", "us-east-1")
    assert clients("ec2", "us-east-1").meta.region_name == "us-east-1"


def test_each_container_has_its_own_cache() -> None:
    assert client_cache()("ec2", "us-east-1") is not client_cache()("ec2", "us-east-1")
