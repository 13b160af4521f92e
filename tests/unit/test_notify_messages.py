"""Email text and Discord payloads: readable, localised, inert, within limits; delivery order."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto import mock_aws

from trailwarden.models.errors import NotificationFailed
from trailwarden.models.findings import Finding, PlannedAction, Severity, Verdict
from trailwarden.notify import email, messages
from trailwarden.notify.discord import DiscordWebhook
from trailwarden.notify.embeds import DiscordSink as DiscordWebhookSink
from trailwarden.notify.embeds import discord_payload
from trailwarden.notify.service import webhook_url_from_secret
from trailwarden.notify.sinks import Notice, deliver_all
from trailwarden_local.discord_standin import DiscordStandIn

if TYPE_CHECKING:
    from collections.abc import Iterator

SEOUL = ZoneInfo("Asia/Seoul")


def raised(message: messages.Message) -> Notice:
    return Notice(message, finding(), "raised", "remediate")


def finding(**changes: Any) -> Finding:
    base: dict[str, Any] = {
        "workflow": "ami-exposure",
        "event_id": "b7d3c1e2-1111-4a2b-9c3d-000000000001",
        "event_name": "ModifyImageAttribute",
        "event_time": "2026-11-24T02:15:30Z",
        "region": "us-east-1",
        "account": "123456789012",
        "verdict": Verdict.REMEDIATE,
        "severity": Severity.CRITICAL,
        "reason": "AMI made public (group: all)",
        "resource_type": "AWS::EC2::Image",
        "resource_id": "ami-0a1b2c3d4e5f60718",
        "actor": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::123456789012:user/alice",
            "sourceIp": "198.51.100.23",
            "userAgent": "aws-cli/2",
            "mfaAuthenticated": True,
        },
        "plan": (
            PlannedAction("ec2:ModifyImageAttribute", "ami-1", "remove launch permission: public"),
        ),
    }
    base.update(changes)
    return Finding(**base)


def test_event_time_is_shown_in_the_configured_time_zone() -> None:
    assert messages.local_time("2026-11-24T02:15:30Z", SEOUL) == "2026-11-24 11:15:30 KST"


def test_email_is_plain_text_with_every_field_and_the_plan() -> None:
    body = email.body(messages.detected(finding(), "en", SEOUL))

    assert "<" not in body.replace("<@", "")  # plain text, not HTML
    for expected in (
        "ami-0a1b2c3d4e5f60718",
        "arn:aws:iam::123456789012:user/alice (MFA)",
        "2026-11-24 11:15:30 KST",
        "remove launch permission: public",
        "b7d3c1e2-1111-4a2b-9c3d-000000000001",
    ):
        assert expected in body


def test_korean_alert_uses_korean_labels_and_an_ascii_subject() -> None:
    message = messages.detected(finding(), "ko", SEOUL)

    assert "수행자" in email.body(message)
    assert email.subject(message).isascii()
    assert len(email.subject(message)) < 100


def test_discord_payload_pings_nobody_and_neutralises_event_strings() -> None:
    hostile = finding(
        actor={"type": "IAMUser", "arn": "@everyone <@&123> [x](https://evil)"},
        reason="@here " + "A" * 5000,
    )

    payload = discord_payload(messages.detected(hostile, "en", SEOUL))
    text = json.dumps(payload, ensure_ascii=False)

    assert payload["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in text and "@here" not in text
    assert "[x](https://evil)" not in text
    assert len(payload["embeds"][0]["description"]) <= 4096


def test_severity_sets_the_embed_colour() -> None:
    payload = discord_payload(messages.detected(finding(severity=Severity.INFO), "en", SEOUL))

    assert payload["embeds"][0]["color"] == messages.SEVERITY_COLOURS[Severity.INFO]


def test_webhook_secret_may_be_plain_or_json() -> None:
    assert webhook_url_from_secret(" https://discord.test/api/webhooks/1/x\n", "Discord") == (
        "https://discord.test/api/webhooks/1/x"
    )
    assert (
        webhook_url_from_secret('{"url": "https://d/api/webhooks/1/x"}', "Discord")
        == "https://d/api/webhooks/1/x"
    )
    with pytest.raises(NotificationFailed, match="the Slack webhook secret holds no URL"):
        webhook_url_from_secret('{"other": 1}', "Slack")


@pytest.fixture
def topic_and_queue() -> Iterator[tuple[Any, str, Any, str]]:
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
        yield sns, topic, sqs, queue


def test_discord_429_still_sends_email(topic_and_queue: tuple[Any, str, Any, str]) -> None:
    sns, topic, sqs, queue = topic_and_queue
    with DiscordStandIn() as sink:
        sink.respond_with(*[(429, {"retry_after": 60.0}, None)] * 3)
        webhook = DiscordWebhook(
            sink.url, max_attempts=2, backoff_seconds=0.0, sleep=lambda _s: None
        )

        delivery = deliver_all(
            raised(messages.detected(finding(), "en", SEOUL)),
            [email.EmailSink(sns, topic), DiscordWebhookSink(webhook)],
        )

    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert delivery["email"] == "sent"
    assert delivery["discord"].startswith("failed")
    assert "ami-0a1b2c3d4e5f60718" in received[0]["Body"]


def test_no_channel_delivering_is_a_notification_failure() -> None:
    class Broken:
        def publish(self, **_kw: Any) -> None:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="https://sns")

    with pytest.raises(NotificationFailed):
        deliver_all(
            raised(messages.detected(finding(), "en", SEOUL)), [email.EmailSink(Broken(), "arn:t")]
        )


def test_approval_link_survives_an_alert_with_more_fields_than_discord_allows() -> None:
    base = messages.detected(finding(), "en", SEOUL)
    crowded = messages.Message(
        severity=base.severity,
        colour=base.colour,
        title=base.title,
        summary=base.summary,
        fields=tuple((f"fact {n}", "x") for n in range(40)),
        footer=base.footer,
        links=(("Review and decide", "https://api.example/approvals/abc"),),
    )

    fields = discord_payload(crowded)["embeds"][0]["fields"]

    assert len(fields) == 25
    assert fields[-1]["value"] == "https://api.example/approvals/abc"
