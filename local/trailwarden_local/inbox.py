"""What was published to the alert topic, read through an SQS queue subscribed to it.

moto sends no email: in the demo, "email" means what SNS would have mailed.
"""

from __future__ import annotations

import json
from typing import Any

import boto3


class TopicInbox:
    def __init__(self, topic_arn: str, region: str) -> None:
        self._sqs = boto3.client("sqs", region_name=region)
        sns = boto3.client("sns", region_name=region)
        self._url = self._sqs.create_queue(QueueName="trailwarden-demo-email-inbox")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])

    def drain(self) -> list[dict[str, str]]:
        """Every message published since the last drain, as {subject, body}."""
        out: list[dict[str, str]] = []
        while True:
            batch = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10)
            messages: list[Any] = list(batch.get("Messages", []))
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                out.append({"subject": envelope.get("Subject", ""), "body": envelope["Message"]})
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
