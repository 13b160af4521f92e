"""With every logger at DEBUG (Lambda ApplicationLogLevel=DEBUG), no log line holds the
Step Functions task token, the Discord webhook URL, the bot token or an interaction token.

The link flow: RequestApproval (stores the token, reads the webhook secret, posts to
Discord, emails), then the approval page's GET and the decision's POST (SendTaskSuccess).
Approve in Discord: RequestApproval posts the bot message with buttons (reads the
application secret), a signed click reaches the interactions function, and the event it
hands over is run by the resume function (SendTaskSuccess, message edit). All through the
real handlers against moto and a local Discord stand-in. Every record reaching the root
logger or the Powertools logger is kept whole (message, arguments, extra fields), and
stdout/stderr too.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import re
import time
import urllib.parse
import zipfile
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.test_approval_request import TOKEN, payload
from trailwarden.dal.clients import make_client as real_make_client
from trailwarden_local.discord_app_standin import APPROVER_ID, DiscordApplicationStandIn
from trailwarden_local.discord_standin import DiscordStandIn
from trailwarden_local.engine.lambda_runtime import LambdaContext

if TYPE_CHECKING:
    from collections.abc import Iterator

WEBHOOK_TOKEN = "wh-SECRET-token-0123456789abcdefghijklmnopqrstuvwxyz"
BOT_TOKEN = "bot-SECRET-token-0123456789abcdefghijklmnopqrstuvwxyz"
BASE_URL = "https://abc123.execute-api.us-east-1.amazonaws.com"
NOT_CONFIGURED = {
    "slack": "not configured",
    "teams": "not configured",
    "securityhub": "not configured",
}


class Everything(logging.Handler):
    """Keeps each record whole: message, args and every extra attribute."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(
            f"{record.name} {record.getMessage()} {json.dumps(record.__dict__, default=str)}"
        )


@contextlib.contextmanager
def every_logger_at_debug(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Everything]:
    """The root logger (as ApplicationLogLevel=DEBUG sets it) and Powertools' logger (it
    does not propagate) at DEBUG, each record kept whole while the block runs."""
    everything = Everything()
    caplog.set_level(logging.DEBUG)
    service = logging.getLogger("trailwarden")
    monkeypatch.setattr(service, "level", logging.DEBUG)
    loggers = (logging.getLogger(), service)
    for logger in loggers:
        logger.addHandler(everything)
    try:
        yield everything
    finally:
        for logger in loggers:
            logger.removeHandler(everything)


def approvals_table_and_topic() -> str:
    """The approvals table in moto, and an alert topic (its ARN)."""
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="approvals",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    topic: str = boto3.client("sns", region_name="us-east-1").create_topic(Name="a")["TopicArn"]
    return topic


def lines_holding(
    secrets: tuple[str, ...],
    everything: Everything,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> list[str]:
    """Every captured line (records, caplog, stdout, stderr) that holds one of secrets."""
    captured = capsys.readouterr()
    lines = [*everything.lines, *caplog.text.splitlines(), *captured.out.splitlines()]
    lines += captured.err.splitlines()
    assert any("botocore" in line or "trailwarden" in line for line in lines)  # it did log
    return [line[:300] for line in lines if any(secret in line for secret in secrets)]


def context(name: str) -> LambdaContext:
    return LambdaContext(
        function_name=name,
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        memory_limit_in_mb=256,
        aws_request_id="req-1",
        log_group_name=f"/aws/lambda/{name}",
        log_stream_name="stream",
        deadline_monotonic=time.monotonic() + 60,
    )


def http_event(method: str, approval_id: str, form: dict[str, str] | None = None) -> Any:
    event: dict[str, Any] = {
        "version": "2.0",
        "headers": {"origin": BASE_URL, "sec-fetch-site": "same-origin"},
        "requestContext": {
            "domainName": urllib.parse.urlsplit(BASE_URL).hostname,
            "http": {"method": method, "sourceIp": "198.51.100.7", "userAgent": "Firefox"},
        },
        "pathParameters": {"id": approval_id},
        "isBase64Encoded": False,
    }
    if form is not None:
        event["body"] = base64.b64encode(urllib.parse.urlencode(form).encode()).decode()
        event["isBase64Encoded"] = True
    return event


def test_with_every_logger_at_debug_no_line_holds_the_task_token_or_webhook_url(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with DiscordStandIn(token=WEBHOOK_TOKEN) as sink, mock_aws():
        webhook_url = sink.url
        topic = approvals_table_and_topic()
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="tw/discord", SecretString=sink.url
        )
        for key, value in {
            "APPROVALS_TABLE": "approvals",
            "APPROVAL_BASE_URL": BASE_URL,
            "TOPIC_ARN": topic,
            "DISCORD_WEBHOOK_SECRET_NAME": "tw/discord",
            "POWERTOOLS_LOG_LEVEL": "DEBUG",
        }.items():
            monkeypatch.setenv(key, value)
        from handlers import approval, approval_request

        approval._deps.cache_clear()
        approval_request._deps.cache_clear()
        try:
            with every_logger_at_debug(caplog, monkeypatch) as everything:
                now = datetime.now(UTC).isoformat()
                requested = approval_request.handler(
                    payload(enteredTime=now), context("ApprovalRequestFunction")
                )
                (link,) = re.findall(
                    rf"{BASE_URL}/approvals/([A-Za-z0-9_-]+)", sink.requests[0].body.decode()
                )
                shown = approval.handler(http_event("GET", link), context("ApprovalFunction"))
                nonce = re.search(r'name="nonce" value="([^"]+)"', shown["body"])
                assert nonce is not None
                decided = approval.handler(
                    http_event("POST", link, {"decision": "approve", "nonce": nonce.group(1)}),
                    context("ApprovalFunction"),
                )
        finally:
            approval._deps.cache_clear()
            approval_request._deps.cache_clear()

    assert requested["delivery"] == {**NOT_CONFIGURED, "email": "sent", "discord": "sent"}
    assert shown["statusCode"] == 200
    assert decided["statusCode"] in (200, 410)  # moto knows no such token: "expired"
    assert lines_holding((TOKEN, WEBHOOK_TOKEN, webhook_url), everything, caplog, capsys) == []


class HandedOver:
    """Keeps the event each asynchronous invoke hands over (moto's Lambda without Docker
    runs nothing): the resume function is then run with it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, request: Any, **_: Any) -> None:
        self.events.append(json.loads(request.body))


def resume_function_in_moto() -> None:
    """The resume function as moto's Lambda knows it (the invoke needs it to exist)."""
    role = boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="resume", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    boto3.client("lambda", region_name="us-east-1").create_function(
        FunctionName="DiscordResumeFunction",
        Runtime="python3.13",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )


def test_approving_in_discord_at_debug_no_line_holds_a_token_or_the_webhook_url(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handed_over = HandedOver()
    no_docker = mock_aws(config={"lambda": {"use_docker": False}})
    with DiscordStandIn(token=WEBHOOK_TOKEN, bot_token=BOT_TOKEN) as sink, no_docker:
        resume_function_in_moto()
        discord, webhook_url = DiscordApplicationStandIn(sink), sink.url
        topic = approvals_table_and_topic()
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(Name="tw/discord", SecretString=webhook_url)
        secrets.create_secret(Name="tw/discord-app", SecretString=discord.secret())
        for key, value in {
            "APPROVALS_TABLE": "approvals",
            "APPROVAL_BASE_URL": BASE_URL,
            "TOPIC_ARN": topic,
            "DISCORD_WEBHOOK_SECRET_NAME": "tw/discord",
            "DISCORD_APPLICATION_SECRET_NAME": "tw/discord-app",
            "APPROVER_DISCORD_USER_IDS": APPROVER_ID,
            "DISCORD_RESUME_FUNCTION": "DiscordResumeFunction",
            "POWERTOOLS_LOG_LEVEL": "DEBUG",
        }.items():
            monkeypatch.setenv(key, value)
        from handlers import approval_request, discord_interactions, discord_resume

        def make_client(service: str, *args: Any, **kwargs: Any) -> Any:
            client = real_make_client(service, *args, **kwargs)
            if service == "lambda":  # the real client (its DEBUG lines), moto answers
                client.meta.events.register("before-send.lambda.Invoke", handed_over)
            return client

        monkeypatch.setattr(discord_interactions, "make_client", make_client)
        functions = (approval_request, discord_interactions, discord_resume)
        for function in functions:
            function._deps.cache_clear()
        try:
            with every_logger_at_debug(caplog, monkeypatch) as everything:
                now = datetime.now(UTC).isoformat()
                requested = approval_request.handler(
                    payload(enteredTime=now), context("ApprovalRequestFunction")
                )
                message = discord.wait_for_buttons(0)
                body = discord.interaction(
                    discord.custom_id(message, "approve"), APPROVER_ID, "Alice Kim"
                )
                interaction_token = json.loads(body)["token"]
                clicked = discord_interactions.handler(
                    {
                        "headers": discord.signed_headers(body),
                        "body": body.decode(),
                        "isBase64Encoded": False,
                    },
                    context("DiscordInteractionsFunction"),
                )
                (handed,) = handed_over.events
                resumed = discord_resume.handler(handed, context("DiscordResumeFunction"))
        finally:
            for function in functions:
                function._deps.cache_clear()
        edits = discord.edits()

    assert requested["delivery"] == {
        **NOT_CONFIGURED,
        "email": "sent",
        "discord": "sent with buttons",
    }
    assert (clicked["statusCode"], json.loads(clicked["body"])) == (200, {"type": 6})
    assert handed["interactionToken"] == interaction_token
    assert resumed == {"outcome": "delivered", "message": "edited"}
    assert len(edits) == 1 and interaction_token in edits[0].path
    secrets_seen = (TOKEN, BOT_TOKEN, interaction_token, WEBHOOK_TOKEN, webhook_url)
    assert lines_holding(secrets_seen, everything, caplog, capsys) == []
