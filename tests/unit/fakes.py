"""Small stand-ins and oracles shared by unit tests."""

from __future__ import annotations

from typing import Any

import boto3

from trailwarden.notify.email import EmailSink


class RecordingSns:
    """An SNS client that records every publish call's arguments."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.published.append(kwargs)
        return {"MessageId": "1"}


def member_client(account: str, service: str, region: str) -> Any:
    """A plain boto3 client with a member account's own credentials (the tests' oracle;
    moto gives every account a ``setup`` role to assume)."""
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="test-setup"
    )["Credentials"]
    return boto3.client(
        service,
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


class ImportingHub:
    """A Security Hub sink that imports every finding: it tells nobody."""

    name = "securityhub"
    limits = EmailSink.limits
    tells_people = False

    def render(self, notice: Any) -> Any:
        return notice

    def deliver(self, rendered: Any) -> str:
        return "imported"


# Host names an event may carry, and what a chat sink must show instead (defanged so the
# client cannot auto-link them), next to look-alikes it must leave alone.
HOST_NAME_CASES = [
    ("visit www.evil.example now", "visit www[.]evil[.]example now"),
    ("evil.example", "evil[.]example"),
    ("mail alice@corp.example", "mail alice@corp[.]example"),
    ("aws-cli/2.15.0 Python/3.11.4", "aws-cli/2.15.0 Python/3.11.4"),
    ("from 198.51.100.23", "from 198.51.100.23"),
    ("ami-0a1b2c3d4e5f60718", "ami-0a1b2c3d4e5f60718"),
]
