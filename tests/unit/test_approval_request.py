"""RequestApproval, the HTTP adapter and the approval branch of the shared state machine."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import REPO
from tests.unit.fakes import ImportingHub
from trailwarden.approvals import tokens
from trailwarden.approvals.request import request_approval
from trailwarden.approvals.store import ApprovalStore
from trailwarden.logic.remediate import remediate
from trailwarden.models.errors import InvalidEvent, RemediationRefused
from trailwarden.models.findings import Finding, Severity, Verdict
from trailwarden.models.settings import ApprovalSettings, DetectionSettings, NotifySettings
from trailwarden.notify.email import EmailSink
from trailwarden.notify.embeds import DiscordSink
from trailwarden.workflows.registry import BY_ID

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "AAAAKgAAAAIAAAAAAAAAAUnw+TASK+TOKEN/" + "Z" * 300
APPROVAL_ID = tokens.new_secret()
BASE_URL = "https://abc123.execute-api.us-east-1.amazonaws.com"
ENTERED = "2026-11-24T14:35:12.345Z"
ENTERED_EPOCH = 1795530912  # 2026-11-24T14:35:12Z


def finding(**changes: Any) -> Finding:
    base = Finding(
        workflow="waf-protected-ip",
        event_id="e4f7a2b1-6666-4c2d-9e3f-000000000601",
        event_name="UpdateIPSet",
        event_time="2026-11-24T14:35:10Z",
        region="us-east-1",
        account="123456789012",
        verdict=Verdict.APPROVAL,
        severity=Severity.CRITICAL,
        reason="minsu.kim changed WAF IP set blocklist: it now holds protected IP 203.0.113.10/32",
        resource_type="AWS::WAFv2::IPSet",
        resource_id="arn:aws:wafv2:us-east-1:123456789012:regional/ipset/blocklist/abc",
        actor={"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/x/minsu"},
    )
    return Finding(**{**base.__dict__, **changes})


def payload(**changes: Any) -> dict[str, Any]:
    state = {**finding().to_dict(), "approvalTimeoutSeconds": 3600}
    return {
        "taskToken": TOKEN,
        "enteredTime": ENTERED,
        "executionId": "arn:aws:states:us-east-1:123456789012:execution:sm:run-1",
        "finding": state,
        **changes,
    }


@dataclass
class FakeWebhook:
    payloads: list[dict[str, Any]] = field(default_factory=list)

    def post(self, body: dict[str, Any]) -> None:
        self.payloads.append(body)


@dataclass
class World:
    store: ApprovalStore
    ddb: Any
    sns: Any
    queue_url: str
    discord: FakeWebhook

    def emails(self) -> list[str]:
        sqs = boto3.client("sqs", region_name="us-east-1")
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"])["Message"] for m in messages.get("Messages", [])]

    def items(self) -> list[dict[str, Any]]:
        """The approval requests (not the per-execution "newest request" pointers)."""
        return [i for i in self.ddb.scan(TableName="approvals")["Items"] if "status" in i]


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="approvals",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        sns = boto3.client("sns", region_name="us-east-1")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        world = World(ApprovalStore(ddb, "approvals"), ddb, sns, queue_url, FakeWebhook())
        world.topic = topic  # type: ignore[attr-defined]
        yield world


def request(
    world: World, event: Any, now: float = ENTERED_EPOCH + 2, approval_id: str = APPROVAL_ID
) -> dict[str, Any]:
    return request_approval(
        event,
        store=world.store,
        settings=ApprovalSettings(table="approvals", base_url=BASE_URL, timeout_seconds=3600),
        notify=NotifySettings(topic_arn=world.topic),  # type: ignore[attr-defined]
        sinks=[EmailSink(world.sns, world.topic), DiscordSink(world.discord)],  # type: ignore[attr-defined]
        clock=lambda: now,
        new_id=lambda: approval_id,
    )


def test_link_carries_only_the_opaque_id_and_the_token_stays_in_dynamodb(
    world: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # Everything our code logs, at any level; third-party records at the levels Lambda
    # ships (botocore's DEBUG wire dumps would print any request body, secrets included).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="trailwarden")

    result = request(world, payload())

    link = f"{BASE_URL}/approvals/{APPROVAL_ID}"
    discord_text = json.dumps(world.discord.payloads)
    emails = world.emails()
    assert link in discord_text
    assert all(link in body for body in emails)
    captured = capsys.readouterr()
    outputs = [
        discord_text,
        *emails,
        json.dumps(result),
        caplog.text,
        captured.out,
        captured.err,
    ]
    assert not [text for text in outputs if TOKEN in text]
    assert APPROVAL_ID not in json.dumps(result)
    (item,) = world.items()
    assert item["taskToken"] == {"S": TOKEN}
    assert item["pk"] == {"S": tokens.digest(APPROVAL_ID)}
    assert APPROVAL_ID not in json.dumps(item)


def test_a_retried_request_supersedes_the_older_link_of_its_execution(world: World) -> None:
    retry_id = tokens.new_secret()
    other_id = tokens.new_secret()
    other_execution = "arn:aws:states:us-east-1:123456789012:execution:sm:run-2"

    request(world, payload())
    request(world, payload(), now=ENTERED_EPOCH + 9, approval_id=retry_id)  # the retry
    request(world, payload(executionId=other_execution), approval_id=other_id)

    older, newer, other = (
        world.store.get(tokens.digest(i)) for i in (APPROVAL_ID, retry_id, other_id)
    )
    assert older is not None and newer is not None and other is not None
    assert world.store.superseded(older)
    assert not world.store.superseded(newer)
    assert not world.store.superseded(other)


def test_each_request_gets_its_own_secret_nonce_key_that_no_message_carries(
    world: World,
) -> None:
    request(world, payload())
    request(world, payload(), approval_id=tokens.new_secret())

    keys = [item["nonceKey"]["S"] for item in world.items()]
    assert len(set(keys)) == 2
    assert all(tokens.well_formed(k) for k in keys)
    sent = json.dumps(world.discord.payloads) + json.dumps(world.emails())
    assert not [k for k in keys if k in sent]


def test_message_says_what_happened_and_when_the_link_expires(world: World) -> None:
    request(world, payload())

    (email,) = world.emails()
    assert "minsu.kim changed WAF IP set blocklist" in email
    assert "Approval needed" in email
    assert "Link expires" in email
    (body,) = world.discord.payloads
    assert body["allowed_mentions"] == {"parse": []}
    assert sum("/approvals/" in f["value"] for f in body["embeds"][0]["fields"]) == 1


def test_link_expires_with_the_wait_counted_from_when_the_state_was_entered(
    world: World,
) -> None:
    result = request(world, payload(), now=ENTERED_EPOCH + 30)

    (item,) = world.items()
    assert result["expiresAt"] == ENTERED_EPOCH + 3600
    assert item["expiresAt"] == {"N": str(ENTERED_EPOCH + 3600)}
    assert int(item["purgeAt"]["N"]) > ENTERED_EPOCH + 3600  # TTL cleanup comes later
    assert item["status"] == {"S": "pending"}


def test_timeout_comes_from_the_state_assess_wrote(world: World) -> None:
    event = payload()
    event["finding"]["approvalTimeoutSeconds"] = 120

    assert request(world, event)["expiresAt"] == ENTERED_EPOCH + 120


@pytest.mark.parametrize(
    "broken",
    [
        {"taskToken": ""},
        {"taskToken": "x" * 2049},
        {"taskToken": None},
        {"finding": "nope"},
        {"finding": {"workflow": "waf-protected-ip"}},
    ],
    ids=["empty-token", "oversized-token", "no-token", "finding-not-object", "finding-unreadable"],
)
def test_unusable_payload_is_refused_before_anything_is_stored(
    world: World, broken: dict[str, Any]
) -> None:
    with pytest.raises(InvalidEvent):
        request(world, payload(**broken))

    assert world.items() == []
    assert world.discord.payloads == []


# ------------------------------------------------------------------ the HTTP adapter


def test_http_api_v2_form_post_is_parsed_from_base64() -> None:
    from handlers.approval import parse_request

    body = base64.b64encode(b"decision=approve&nonce=abc%2Bdef").decode()
    event = {
        "version": "2.0",
        "requestContext": {
            "http": {"method": "POST", "sourceIp": "198.51.100.7", "userAgent": "Firefox"}
        },
        "pathParameters": {"id": APPROVAL_ID},
        "body": body,
        "isBase64Encoded": True,
    }

    request_ = parse_request(event)

    assert (request_.method, request_.approval_id) == ("POST", APPROVAL_ID)
    assert (request_.source_ip, request_.user_agent) == ("198.51.100.7", "Firefox")
    assert request_.form == {"decision": "approve", "nonce": "abc+def"}


def test_http_api_v2_origin_headers_and_own_domain_are_parsed() -> None:
    from handlers.approval import parse_request

    event = {
        "requestContext": {
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {"method": "POST", "sourceIp": "198.51.100.7"},
        },
        "headers": {"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    }

    request_ = parse_request(event)

    assert request_.origin == "https://evil.example"
    assert request_.fetch_site == "cross-site"
    assert request_.host == "abc123.execute-api.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    "body",
    ["decision=approve&decision=reject&nonce=a", "x" * 5000, "%%%", None],
    ids=["repeated-field", "oversized", "garbage", "none"],
)
def test_odd_form_bodies_parse_to_nothing_usable(body: str | None) -> None:
    from handlers.approval import parse_request

    event = {"requestContext": {"http": {"method": "POST"}}, "body": body}

    assert parse_request(event).form.get("decision") in (None, "approve")


# ------------------------------------------------------------------ the shared ASL


ASL = json.loads((REPO / "statemachines/remediation.asl.json").read_text(encoding="utf-8"))


def test_approval_verdict_waits_for_a_task_token_with_a_timeout_from_the_state() -> None:
    states = ASL["States"]
    route = {c["StringEquals"]: c["Next"] for c in states["Route"]["Choices"]}

    request_state = states[route["approval"]]

    assert request_state["Resource"].endswith(":lambda:invoke.waitForTaskToken")
    assert request_state["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert request_state["TimeoutSecondsPath"] == "$.approvalTimeoutSeconds"
    catches = {c["ErrorEquals"][0]: c["Next"] for c in request_state["Catch"]}
    assert states[catches["States.Timeout"]]["Result"] == {"status": "expired"}


def test_only_an_explicit_approval_reaches_remediate() -> None:
    states = ASL["States"]
    decided = states[states["RequestApproval"]["Next"]]

    (choice,) = decided["Choices"]
    assert choice["Next"] == "Remediate"
    assert {"Variable": "$.decision.status", "StringEquals": "approved"} in choice["And"]
    assert decided["Default"] != "Remediate"


def test_remediate_refuses_an_approval_finding_nobody_approved() -> None:
    approval = finding()

    for decision in (None, {"status": "rejected"}, {"status": "expired"}, "approved"):
        with pytest.raises(RemediationRefused):
            remediate(
                approval,
                BY_ID["waf-protected-ip"],
                DetectionSettings(),
                lambda s, r: None,
                decision=decision,
            )


def test_a_request_only_security_hub_took_is_not_requested_nobody_has_the_link(
    world: World,
) -> None:
    from trailwarden.models.errors import NotificationFailed

    with pytest.raises(NotificationFailed, match="tells a person"):
        request_approval(
            payload(),
            store=world.store,
            settings=ApprovalSettings(table="approvals", base_url=BASE_URL, timeout_seconds=3600),
            notify=NotifySettings(),
            sinks=[ImportingHub()],  # SecurityHubFindings on, no topic, no webhook
            clock=lambda: ENTERED_EPOCH + 2,
            new_id=lambda: APPROVAL_ID,
        )
