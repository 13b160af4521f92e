"""Small stand-ins and oracles shared by unit tests."""

from __future__ import annotations

from typing import Any

import boto3


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
