"""The alert function's path for iam-user-change, ssm-session and ec2-keypair.

Dedupe table and topic are moto; Discord is a recording fake. The instance lookup
(``enrich``) runs against moto, or a client factory that fails.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto import mock_aws

from tests.conftest import load_event
from trailwarden.dal.incidents import IncidentStore
from trailwarden.logic.alert import alert
from trailwarden.models.findings import Mode
from trailwarden.models.settings import DetectionSettings, NotifySettings
from trailwarden.notify import email, messages
from trailwarden.notify.email import EmailSink
from trailwarden.notify.embeds import DiscordSink, discord_payload
from trailwarden.workflows.registry import BY_ID

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-east-1"
SETTINGS = DetectionSettings(key_pair_config_rule_name="trailwarden-ec2-without-key-pair")


@dataclass
class FakeDiscord:
    payloads: list[dict[str, Any]] = field(default_factory=list)

    def post(self, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)


@dataclass
class Env:
    store: IncidentStore
    sns: Any
    topic: str
    sqs: Any
    inbox: str
    discord: FakeDiscord

    def emails(self) -> list[dict[str, str]]:
        """What was published since the last call (read and removed from the inbox)."""
        got = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]

    def run(
        self,
        event: dict[str, Any],
        workflow: str,
        *,
        clients: Any = None,
        settings: DetectionSettings = SETTINGS,
        language: str = "en",
    ) -> dict[str, Any]:
        notify = NotifySettings(language=language, time_zone="Asia/Seoul", topic_arn=self.topic)
        factory = clients or (
            lambda service, region=None: boto3.client(service, region_name=region or REGION)
        )
        return alert(
            event,
            BY_ID[workflow],
            settings,
            factory,
            self.store,
            notify,
            [EmailSink(self.sns, self.topic), DiscordSink(self.discord)],
        )


@pytest.fixture(scope="module")
def aws() -> Iterator[tuple[Any, Any, str, Any, str]]:
    """One emulator for the module (creating clients and backends is the slow part)."""
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
        yield ddb, sns, topic, sqs, inbox


@pytest.fixture
def env(aws: tuple[Any, Any, str, Any, str]) -> Env:
    """A fresh incidents table, an empty inbox and a new Discord fake for each test."""
    ddb, sns, topic, sqs, inbox = aws
    table = f"incidents-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    store = IncidentStore(ddb, table, dedupe_ttl_seconds=48 * 3600)
    fresh = Env(store, sns, topic, sqs, inbox, FakeDiscord())
    fresh.emails()  # an empty inbox
    return fresh


def instance(name: str) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.register_image(Name="base", RootDeviceName="/dev/xvda")["ImageId"]
    return str(
        ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}
            ],
        )["Instances"][0]["InstanceId"]
    )


def session_on(target: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("ssm-session/shell-session.json"))
    event["detail"]["requestParameters"]["target"] = target
    return event


def test_session_alert_carries_the_instance_name_tag_from_a_live_lookup(env: Env) -> None:
    target = instance("bastion-prod-1")

    result = env.run(session_on(target), "ssm-session")

    assert result["verdict"] == "alert"
    assert result["facts"]["instanceName"] == "bastion-prod-1"
    fields = {f["name"]: f["value"] for f in env.discord.payloads[0]["embeds"][0]["fields"]}
    assert fields["Name tag"] == "bastion-prod-1"
    assert "bastion-prod-1" in env.emails()[0]["Message"]


def test_session_alert_still_goes_out_when_the_instance_is_gone(env: Env) -> None:
    result = env.run(session_on("i-0123456789abcdef0"), "ssm-session")

    assert result["verdict"] == "alert"
    assert result["facts"]["lookupError"] == "ResourceGone"
    assert result["notification"] == {
        "email": "sent",
        "discord": "sent",
        "slack": "not configured",
        "teams": "not configured",
        "securityhub": "not configured",
    }
    assert "Live lookup failed" in env.emails()[0]["Message"]


def test_session_alert_still_goes_out_when_the_lookup_is_denied(env: Env) -> None:
    def no_ec2(service: str, region: str | None = None) -> Any:
        raise PermissionError("AccessDenied")  # whatever the lookup hits

    result = env.run(session_on("i-0123456789abcdef0"), "ssm-session", clients=no_ec2)

    assert result["verdict"] == "alert"
    assert result["facts"]["lookupError"] == "PermissionError"
    assert len(env.discord.payloads) == 1


def test_keypair_alert_names_the_instance_found_without_a_key_pair(env: Env) -> None:
    target = instance("batch-1")
    event = copy.deepcopy(load_event("ec2-keypair/instance-without-key-pair.json"))
    event["detail"]["resourceId"] = target

    result = env.run(event, "ec2-keypair", language="ko")

    assert result["verdict"] == "alert"
    assert result["facts"]["instanceName"] == "batch-1"
    body = env.emails()[0]["Message"]
    assert "키 페어 없는 EC2 인스턴스" in body
    assert "Name 태그" in body


@pytest.mark.parametrize(
    ("sample", "workflow"),
    [
        ("iam-user-change/failed-access-denied.json", "iam-user-change"),
        ("ssm-session/failed-target-not-connected.json", "ssm-session"),
        ("ssm-session/athena-start-session.json", "ssm-session"),
        ("ec2-keypair/compliant.json", "ec2-keypair"),
        ("ec2-keypair/other-config-rule.json", "ec2-keypair"),
    ],
)
def test_events_that_reach_the_function_anyway_send_nothing(
    env: Env, sample: str, workflow: str
) -> None:
    result = env.run(load_event(sample), workflow)

    assert result["verdict"] == "ignore"
    assert env.discord.payloads == []
    assert env.emails() == []


def test_a_redelivered_event_alerts_once(env: Env) -> None:
    event = load_event("iam-user-change/create-user.json")

    first, second = env.run(event, "iam-user-change"), env.run(event, "iam-user-change")

    assert (first["verdict"], second["verdict"]) == ("alert", "ignore")
    assert len(env.discord.payloads) == 1


def test_mode_off_sends_nothing(env: Env) -> None:
    settings = DetectionSettings(modes={"iam-user-change": Mode.OFF})

    result = env.run(
        load_event("iam-user-change/create-user.json"), "iam-user-change", settings=settings
    )

    assert result["verdict"] == "ignore"
    assert env.discord.payloads == []


@pytest.mark.parametrize(
    "user_name",
    ["@everyone", "x@here", "<@123456789012345678>", "<@&112233445566778899>", "ops@example.com"],
)
def test_user_names_with_at_signs_never_ping_anyone(env: Env, user_name: str) -> None:
    event = copy.deepcopy(load_event("iam-user-change/create-user-mention-name.json"))
    event["detail"]["requestParameters"]["userName"] = user_name
    event["detail"]["responseElements"]["user"]["userName"] = user_name

    env.run(event, "iam-user-change")

    (payload,) = env.discord.payloads
    text = json.dumps(payload, ensure_ascii=False)
    assert payload["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in text and "@here" not in text
    assert "<@" not in text
    assert "<@&" not in text  # the tag value "@here <@&...>" is defused too


def test_korean_alert_labels_every_fact_and_shows_times_in_the_time_zone(env: Env) -> None:
    env.run(load_event("iam-user-change/create-user.json"), "iam-user-change", language="ko")

    body = env.emails()[0]["Message"]
    for expected in (
        "IAM 사용자 생성",
        "IAM 사용자",
        "경로",
        "/service-accounts/",
        "owner=data-platform, ticket=SEC-4711",
        "AWS 콘솔",
        "2026-11-24 12:10:05 KST",
    ):
        assert expected in body


def test_same_layout_and_severity_colours_as_every_other_alert(env: Env) -> None:
    env.run(load_event("ssm-session/port-forwarding-remote-host.json"), "ssm-session")

    embed = env.discord.payloads[0]["embeds"][0]
    assert embed["color"] == messages.SEVERITY_COLOURS[messages.Severity.HIGH]
    names = [f["name"] for f in embed["fields"]]
    assert names[:9] == [
        "Workflow",
        "Severity",
        "Resource",
        "Account / region",
        "Who",
        "Source IP / user agent",
        "When",
        "CloudTrail event",
        "Why",
    ]
    assert {"Remote host", "Port", "Local port", "Session id"} <= set(names)


def test_email_subject_stays_ascii_for_a_korean_alert() -> None:
    from trailwarden.logic.decide import decide

    finding = decide(
        load_event("ssm-session/shell-session.json"), BY_ID["ssm-session"], SETTINGS
    ).finding()

    message = messages.detected(finding, "ko", ZoneInfo("Asia/Seoul"))

    assert email.subject(message).isascii()
    assert discord_payload(message)["embeds"][0]["title"].endswith("Session Manager 세션 시작")
