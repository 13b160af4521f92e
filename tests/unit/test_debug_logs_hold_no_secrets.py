"""With every logger at DEBUG (Lambda ApplicationLogLevel=DEBUG), no log line holds the
Step Functions task token or the Discord webhook URL.

RequestApproval (stores the token, reads the webhook secret, posts to Discord, emails),
then the approval page's GET and the decision's POST (SendTaskSuccess) run through the
real handlers against moto and a local Discord stand-in. Every record reaching the root
logger or the Powertools logger is kept whole (message, arguments, extra fields), and
stdout/stderr too.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.test_approval_request import TOKEN, payload
from trailwarden_local.discord_sink import DiscordSink
from trailwarden_local.engine.lambda_runtime import LambdaContext

WEBHOOK_TOKEN = "wh-SECRET-token-0123456789abcdefghijklmnopqrstuvwxyz"
BASE_URL = "https://abc123.execute-api.us-east-1.amazonaws.com"


class Everything(logging.Handler):
    """Keeps each record whole: message, args and every extra attribute."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(
            f"{record.name} {record.getMessage()} {json.dumps(record.__dict__, default=str)}"
        )


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
    everything = Everything()
    with DiscordSink(token=WEBHOOK_TOKEN) as sink, mock_aws():
        webhook_url = sink.url
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="approvals",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="a")["TopicArn"]
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
        caplog.set_level(logging.DEBUG)  # the root logger, as ApplicationLogLevel=DEBUG sets
        service = logging.getLogger("trailwarden")  # Powertools' logger (does not propagate)
        monkeypatch.setattr(service, "level", logging.DEBUG)
        for logger in (logging.getLogger(), service):
            logger.addHandler(everything)
        try:
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
            for logger in (logging.getLogger(), service):
                logger.removeHandler(everything)
            approval._deps.cache_clear()
            approval_request._deps.cache_clear()

    assert requested["delivery"] == {"email": "sent", "discord": "sent"}
    assert shown["statusCode"] == 200
    assert decided["statusCode"] in (200, 410)  # moto knows no such token: "expired"
    captured = capsys.readouterr()
    lines = [*everything.lines, *caplog.text.splitlines(), *captured.out.splitlines()]
    lines += captured.err.splitlines()
    assert any("botocore" in line or "trailwarden" in line for line in lines)  # it did log
    secrets = (TOKEN, WEBHOOK_TOKEN, webhook_url)
    assert [line[:300] for line in lines if any(s in line for s in secrets)] == []
