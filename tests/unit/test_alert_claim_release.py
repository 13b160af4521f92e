"""An alert nobody received gives its dedupe claim back, so the retry alerts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import load_event
from tests.unit.fakes import ImportingHub
from trailwarden.dal.incidents import IncidentStore
from trailwarden.logic.alert import alert
from trailwarden.models.errors import NotificationFailed
from trailwarden.models.settings import DetectionSettings, NotifySettings
from trailwarden.notify.email import EmailSink
from trailwarden.workflows.registry import BY_ID


class FailingSns:
    calls = 0

    def publish(self, **_kwargs: Any) -> None:
        from botocore.exceptions import EndpointConnectionError

        self.calls += 1
        raise EndpointConnectionError(endpoint_url="https://sns.example")


class Sns:
    calls = 0

    def publish(self, **_kwargs: Any) -> dict[str, str]:
        self.calls += 1
        return {"MessageId": "1"}


@pytest.fixture
def store() -> Iterator[IncidentStore]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="incidents",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield IncidentStore(ddb, "incidents", dedupe_ttl_seconds=48 * 3600)


def run(store: IncidentStore, sns: Any, *also: Any) -> dict[str, Any]:
    return alert(
        load_event("iam-user-change/create-user.json"),
        BY_ID["iam-user-change"],
        DetectionSettings(),
        lambda *_a: None,
        store,
        NotifySettings(topic_arn="arn:aws:sns:us-east-1:123456789012:alerts"),
        [EmailSink(sns, "arn:aws:sns:us-east-1:123456789012:alerts"), *also],
    )


def test_failed_delivery_releases_the_claim_so_the_retry_alerts(store: IncidentStore) -> None:
    with pytest.raises(NotificationFailed):
        run(store, FailingSns())

    retried = run(store, sns := Sns())

    assert retried["verdict"] == "alert"
    assert sns.calls == 1


def test_delivered_alert_keeps_its_claim(store: IncidentStore) -> None:
    run(store, Sns())

    again = run(store, sns := Sns())

    assert again["reason"] == "duplicate delivery"
    assert sns.calls == 0


def test_security_hub_alone_is_not_a_delivery_so_the_claim_is_released(
    store: IncidentStore,
) -> None:
    with pytest.raises(NotificationFailed):
        run(store, FailingSns(), ImportingHub())

    retried = run(store, sns := Sns(), ImportingHub())

    assert retried["verdict"] == "alert"
    assert sns.calls == 1
