"""`trailwarden replay` vs `jq` on the same gzipped CloudTrail logs: records per second.

Generates (deterministically from --seed; cached in benchmarks/.data/, gitignored) a month
of CloudTrail log files laid out as CloudTrail writes them to S3
(AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<time>_<id>.json.gz),
by default 100 files x 1,000 records, each record independently:

* watched (10%): a call some rule takes, one of the events/ CloudTrail samples of a
  workflow whatever its verdict (risky ones, AMIs shared with a trusted account, 443 open
  to the world, failed calls, the app's own calls ...), with a fresh eventID and time;
* near miss (2%): a sample turned into what must not act: the same eventName from another
  service (WAF Classic UpdateIPSet, Transfer CreateUser, Athena StartSession ...), the
  call failed (errorCode), made by the app's own role, or flagged read-only;
* background (the rest): reads and routine writes across ~25 services (S3 data events,
  STS, KMS, EC2/ECS/ELB describes, SSM, console sign-ins, Lambda deploys, failed calls ...).

Then it times the whole ``trailwarden replay`` process as a user runs it (one process,
start-up, patterns, detections, dry-run plans and every output line included) against
``gzip -dc FILES | jq -c '.Records[] | select(.eventName == "A" or ...)'`` (the event
names the template's rules target) in the same run, and prints records/second of both,
the ratio (RATIO line), replay's start-up on an empty folder, its peak memory and how
many benign records would have started a remediation workflow. Timings are printed,
never asserted; the script fails only when an answer is wrong:

* replay's output is byte-identical to ``replay --no-shortcuts`` (every record parsed
  and matched in full, no pre-filter, no field scanning);
* one line per record; jq's selection has as many records as replay printed with
  those event names;
* every watched call gets the workflow and verdict events/index.json gives its sample;
  every near miss gets a verdict that does not act (another service's call: no workflow).

    python benchmarks/replay_vs_jq.py                      # 100k records, 100 files
    python benchmarks/replay_vs_jq.py --records N --files M [--repeat K]
    python benchmarks/replay_vs_jq.py --quick              # small, for CI sanity
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "events"
DATA = REPO / "benchmarks" / ".data"
GENERATOR_VERSION = "4"
ACCOUNT = "123456789012"
CLOUDTRAIL = "AWS API Call via CloudTrail"
START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 30
REGIONS = (("us-east-1", 7), ("ap-northeast-2", 3))


# --------------------------------------------------------------------------- identities


def _assumed(role: str, session: str, *, source_ip: str, agent: str) -> dict[str, Any]:
    return {
        "identity": {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE{zlib.crc32(role.encode()) % 10**8:08d}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEY0000001",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROAEXAMPLE{zlib.crc32(role.encode()) % 10**8:08d}",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                    "accountId": ACCOUNT,
                    "userName": role,
                },
                "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "sourceIPAddress": source_ip,
        "userAgent": agent,
    }


def _user(name: str, *, console: bool) -> dict[str, Any]:
    return {
        "identity": {
            "type": "IAMUser",
            "principalId": f"AIDAEXAMPLE{name.upper()}",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEY0000002" if console else "AKIAEXAMPLEKEY000003",
            "userName": name,
            "sessionContext": {
                "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "true"}
            }
            if console
            else {},
        },
        "sourceIPAddress": "198.51.100.23" if console else "203.0.113.77",
        "userAgent": "AWS Internal"
        if console
        else "aws-cli/2.22.0 Python/3.12.6 Linux/6.1 exe/x86_64.amzn.2023",
    }


def _service(host: str) -> dict[str, Any]:
    return {
        "identity": {"type": "AWSService", "invokedBy": host},
        "sourceIPAddress": host,
        "userAgent": host,
    }


ACTORS = {
    "web": _assumed(
        "web-app-role",
        "i-0a1b2c3d4e5f60001",
        source_ip="10.0.12.34",
        agent="aws-sdk-java/2.25.10 Linux/6.1 OpenJDK_64-Bit_Server_VM/21.0.2 md/io#sync",
    ),
    "lambda": _assumed(
        "orders-api-role",
        "orders-api-handler",
        source_ip="34.201.10.20",
        agent="Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#5.10 lang/python#3.12.1 "
        "exec-env/AWS_Lambda_python3.12",
    ),
    "ci": _assumed(
        "github-actions-deploy",
        "GitHubActions",
        source_ip="140.82.112.3",
        agent="aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22",
    ),
    "sso": _assumed(
        "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        "alice@example.com",
        source_ip="198.51.100.23",
        agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15",
    ),
    "alice": _user("alice", console=True),
    "bob": _user("bob", console=False),
    "ecs": _assumed(
        "ecs-task-role",
        "5f3c0a1b2c3d4e5f",
        source_ip="10.0.40.9",
        agent="aws-sdk-go-v2/1.25.0 os/linux lang/go#1.22.0 md/GOOS#linux api/ecs#1.41.0",
    ),
    "ssm-agent": _assumed(
        "ssm-managed-instance",
        "i-0a1b2c3d4e5f60002",
        source_ip="10.0.12.35",
        agent="aws-sdk-go/1.44.260 (go1.20.4; linux; amd64) amazon-ssm-agent/3.2.1241.0",
    ),
    "s3svc": _service("s3.amazonaws.com"),
    "cloudtrailsvc": _service("cloudtrail.amazonaws.com"),
}


# --------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class Call:
    source: str
    name: str
    weight: float
    actors: tuple[str, ...]
    read_only: bool = True
    data_event: bool = False
    error: str | None = None


def _id(rng: random.Random, prefix: str, digits: int = 17) -> str:
    return prefix + "".join(rng.choice("0123456789abcdef") for _ in range(digits))


def _request(call: Call, rng: random.Random, region: str) -> tuple[Any, Any, list[Any] | None]:
    """requestParameters, responseElements, resources for one call."""
    name = call.name
    if call.source == "s3.amazonaws.com":
        bucket = rng.choice(("orders-data-prod", "web-assets-prod", "app-logs-archive"))
        folder = rng.choice(("2026/10", "tmp", "exports", "uploads"))
        key = f"{folder}/obj-{rng.randrange(10**6)}.json"
        request = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com"}
        if name != "ListObjects":
            request["key"] = key
        resources = [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ]
        return request, None, resources
    if name == "AssumeRole":
        role = rng.choice(("web-app-role", "orders-api-role", "reporting-reader"))
        session = _id(rng, "session-", 8)
        return (
            {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "roleSessionName": session},
            {
                "credentials": {
                    "accessKeyId": _id(rng, "ASIA", 16).upper(),
                    "sessionToken": _id(rng, "IQoJb3JpZ2luX2VjE", 120),
                    "expiration": "Oct 1, 2026, 1:00:00 PM",
                },
                "assumedRoleUser": {
                    "assumedRoleId": f"AROAEXAMPLE:{session}",
                    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
                },
            },
            [
                {
                    "accountId": ACCOUNT,
                    "type": "AWS::IAM::Role",
                    "ARN": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                }
            ],
        )
    if call.source == "kms.amazonaws.com":
        key_arn = f"arn:aws:kms:{region}:{ACCOUNT}:key/{uuid.UUID(int=rng.getrandbits(128))}"
        return (
            {
                "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::orders-data-prod"},
            },
            None,
            [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn}],
        )
    if name == "DescribeInstances":
        ids = [{"instanceId": _id(rng, "i-")} for _ in range(rng.randint(1, 3))]
        return {"instancesSet": {"items": ids}, "filterSet": {}}, None, None
    if name.startswith("Describe") and call.source == "ec2.amazonaws.com":
        return (
            {
                "filterSet": {
                    "items": [
                        {"name": "vpc-id", "valueSet": {"items": [{"value": _id(rng, "vpc-")}]}}
                    ]
                }
            },
            None,
            None,
        )
    if name == "CreateTags":
        return (
            {
                "resourcesSet": {"items": [{"resourceId": _id(rng, "i-")}]},
                "tagSet": {"items": [{"key": "Name", "value": f"web-{rng.randrange(100)}"}]},
            },
            {"requestId": str(uuid.UUID(int=rng.getrandbits(128))), "_return": True},
            None,
        )
    if call.source == "ssm.amazonaws.com" and name.startswith("GetParameter"):
        return (
            {
                "name": f"/orders/prod/{rng.choice(('db-host', 'feature-flags', 'api-url'))}",
                "withDecryption": True,
            },
            None,
            None,
        )
    if name == "UpdateInstanceInformation":
        return (
            {
                "instanceId": _id(rng, "i-"),
                "agentVersion": "3.2.1241.0",
                "platformType": "Linux",
                "agentName": "amazon-ssm-agent",
            },
            None,
            None,
        )
    if name == "GetSecretValue":
        return (
            {"secretId": f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:orders/db-AbCdEf"},
            None,
            None,
        )
    if name == "CreateLogStream":
        return (
            {
                "logGroupName": "/aws/lambda/orders-api-handler",
                "logStreamName": f"2026/10/01/[$LATEST]{_id(rng, '', 32)}",
            },
            None,
            None,
        )
    if name == "ConsoleLogin":
        return None, {"ConsoleLogin": "Success"}, None
    if call.source == "lambda.amazonaws.com" and name.startswith("UpdateFunctionCode"):
        function = rng.choice(("orders-api-handler", "thumbnailer", "reports-nightly"))
        return (
            {
                "functionName": function,
                "s3Bucket": "ci-artifacts",
                "s3Key": f"{function}/{_id(rng, '', 12)}.zip",
                "publish": True,
            },
            {
                "functionName": function,
                "codeSha256": _id(rng, "", 44),
                "version": str(rng.randrange(1, 300)),
            },
            None,
        )
    if name == "StartExecution":
        return (
            {
                "stateMachineArn": f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:orders",
                "name": str(uuid.UUID(int=rng.getrandbits(128))),
            },
            {
                "executionArn": f"arn:aws:states:{region}:{ACCOUNT}:execution:orders-fulfilment:x",
                "startDate": "Oct 1, 2026, 1:00:00 PM",
            },
            None,
        )
    if name == "PutRule":
        return (
            {
                "name": f"orders-stack-NightlyRule-{_id(rng, '', 12).upper()}",
                "scheduleExpression": "rate(1 hour)",
                "state": "ENABLED",
            },
            {"ruleArn": "arn:aws:events:x"},
            None,
        )
    if call.source == "ecs.amazonaws.com":
        return {"cluster": "orders", "services": ["orders-api"]}, None, None
    if call.source == "elasticloadbalancing.amazonaws.com":
        return (
            {
                "targetGroupArn": f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:"
                f"targetgroup/orders-api/{_id(rng, '', 16)}"
            },
            None,
            None,
        )
    return None, None, None


CALLS: tuple[Call, ...] = (
    Call("s3.amazonaws.com", "GetObject", 14, ("web", "lambda", "ecs"), data_event=True),
    Call("s3.amazonaws.com", "PutObject", 6, ("lambda", "ecs"), read_only=False, data_event=True),
    Call("s3.amazonaws.com", "HeadObject", 4, ("web", "lambda"), data_event=True),
    Call("s3.amazonaws.com", "ListObjects", 2, ("ci", "bob"), data_event=True),
    Call("sts.amazonaws.com", "AssumeRole", 8, ("web", "ci", "lambda", "ecs")),
    Call("sts.amazonaws.com", "GetCallerIdentity", 2, ("ci", "bob")),
    Call("kms.amazonaws.com", "Decrypt", 8, ("s3svc", "lambda", "web")),
    Call("kms.amazonaws.com", "GenerateDataKey", 4, ("s3svc", "lambda")),
    Call("ec2.amazonaws.com", "DescribeInstances", 6, ("ci", "sso", "bob", "ssm-agent")),
    Call("ec2.amazonaws.com", "DescribeVolumes", 2, ("ci", "sso")),
    Call("ec2.amazonaws.com", "DescribeSecurityGroups", 2, ("ci", "sso", "bob")),
    Call("ec2.amazonaws.com", "DescribeNetworkInterfaces", 2, ("lambda", "ecs")),
    Call("ec2.amazonaws.com", "DescribeSubnets", 1, ("ci",)),
    Call("ec2.amazonaws.com", "DescribeImages", 1, ("ci",)),
    Call("ec2.amazonaws.com", "DescribeInstanceStatus", 1, ("ci",)),
    Call("ec2.amazonaws.com", "CreateTags", 0.5, ("ci",), read_only=False),
    Call("ec2.amazonaws.com", "CreateNetworkInterface", 0.3, ("lambda",), read_only=False),
    Call("ec2.amazonaws.com", "DeleteNetworkInterface", 0.3, ("lambda",), read_only=False),
    Call(
        "ec2.amazonaws.com",
        "RunInstances",
        0.1,
        ("ci",),
        read_only=False,
        error="Client.UnauthorizedOperation",
    ),
    Call("ssm.amazonaws.com", "GetParameter", 4, ("web", "lambda", "ecs")),
    Call("ssm.amazonaws.com", "GetParameters", 1, ("ecs",)),
    Call("ssm.amazonaws.com", "UpdateInstanceInformation", 3, ("ssm-agent",), read_only=False),
    Call("ssm.amazonaws.com", "ListInstanceAssociations", 2, ("ssm-agent",)),
    Call("secretsmanager.amazonaws.com", "GetSecretValue", 2, ("web", "lambda")),
    Call("logs.amazonaws.com", "CreateLogStream", 2, ("lambda",), read_only=False),
    Call("logs.amazonaws.com", "DescribeLogStreams", 1, ("sso",)),
    Call("monitoring.amazonaws.com", "DescribeAlarms", 1, ("sso", "ci")),
    Call("ecr.amazonaws.com", "GetAuthorizationToken", 1, ("ecs", "ci")),
    Call("ecs.amazonaws.com", "DescribeServices", 1, ("ci", "sso")),
    Call("ecs.amazonaws.com", "DescribeTasks", 1, ("ci",)),
    Call("elasticloadbalancing.amazonaws.com", "DescribeTargetHealth", 2, ("ecs", "ci")),
    Call("autoscaling.amazonaws.com", "DescribeAutoScalingGroups", 1, ("ci",)),
    Call("dynamodb.amazonaws.com", "DescribeTable", 1, ("lambda",)),
    Call("lambda.amazonaws.com", "GetFunction20150331v2", 0.5, ("ci",)),
    Call("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", 0.05, ("ci",), read_only=False),
    Call("iam.amazonaws.com", "GetRole", 0.5, ("ci", "sso")),
    Call("iam.amazonaws.com", "ListRoles", 0.2, ("sso",)),
    Call("cloudformation.amazonaws.com", "DescribeStacks", 0.5, ("ci",)),
    Call("rds.amazonaws.com", "DescribeDBInstances", 0.5, ("sso", "ci")),
    Call("signin.amazonaws.com", "ConsoleLogin", 0.2, ("alice",), read_only=False),
    Call("cloudtrail.amazonaws.com", "GetTrailStatus", 0.1, ("sso",)),
    Call("cloudtrail.amazonaws.com", "LookupEvents", 0.1, ("sso",)),
    Call("wafv2.amazonaws.com", "GetWebACL", 0.1, ("ci",)),
    Call("states.amazonaws.com", "StartExecution", 0.2, ("lambda",), read_only=False),
    Call("events.amazonaws.com", "PutRule", 0.01, ("ci",), read_only=False),
    Call("s3.amazonaws.com", "GetObject", 0.5, ("bob",), data_event=True, error="AccessDenied"),
)


def _record(call: Call, rng: random.Random, region: str, when: str) -> dict[str, Any]:
    actor = ACTORS[rng.choice(call.actors)]
    request, response, resources = _request(call, rng, region)
    record: dict[str, Any] = {
        "eventVersion": "1.10" if call.data_event else "1.09",
        "userIdentity": actor["identity"],
        "eventTime": when,
        "eventSource": call.source,
        "eventName": call.name,
        "awsRegion": region,
        "sourceIPAddress": actor["sourceIPAddress"],
        "userAgent": actor["userAgent"],
    }
    if call.error:
        record["errorCode"] = call.error
        record["errorMessage"] = "You are not authorized to perform this operation."
    record["requestParameters"] = request
    record["responseElements"] = response
    if call.data_event:
        record["additionalEventData"] = {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "bytesTransferredOut": rng.randrange(100, 10**6),
        }
    record["requestID"] = _id(rng, "", 16).upper()
    record["eventID"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    record["readOnly"] = call.read_only
    if resources:
        record["resources"] = resources
    record["eventType"] = "AwsConsoleSignIn" if call.name == "ConsoleLogin" else "AwsApiCall"
    record["managementEvent"] = not call.data_event
    record["recipientAccountId"] = ACCOUNT
    record["eventCategory"] = "Data" if call.data_event else "Management"
    if call.source != "signin.amazonaws.com":
        record["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{call.source.split('.')[0]}.{region}.amazonaws.com",
        }
    return record


# --------------------------------------------------------------------------- samples


def _samples() -> tuple[dict[str, Any], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """events/index.json and its CloudTrail samples: (index entry, CloudTrail record)."""
    index = json.loads((EVENTS / "index.json").read_text(encoding="utf-8"))
    samples = []
    for entry in index["events"]:
        if entry.get("parameters"):
            continue  # assumes other parameters than the run's
        event = json.loads((EVENTS / entry["file"]).read_text(encoding="utf-8"))
        if event.get("detail-type") != CLOUDTRAIL:
            continue  # Config / backstop events never appear in CloudTrail logs
        detail = event["detail"]
        samples.append((entry, {"eventVersion": detail.get("eventVersion", "1.09"), **detail}))
    return index, samples


def _dataset_key(records: int, files: int, seed: int, shares: tuple[float, float]) -> str:
    digest = hashlib.sha256(f"{GENERATOR_VERSION}/{records}/{files}/{seed}/{shares}".encode())
    for path in sorted(EVENTS.rglob("*.json")):
        digest.update(path.read_bytes())
    return f"r{records}-f{files}-s{seed}-{digest.hexdigest()[:10]}"


# Same eventName, another service: calls no rule takes although a rule names the name.
OTHER_SOURCE: dict[str, str] = {
    "CreateUser": "transfer.amazonaws.com",
    "DeleteUser": "mq.amazonaws.com",
    "UpdateIPSet": "waf-regional.amazonaws.com",
    "CreateWebACL": "waf.amazonaws.com",
    "DeleteWebACL": "waf-regional.amazonaws.com",
    "StartSession": "athena.amazonaws.com",
    "CreateSecurityGroup": "redshift.amazonaws.com",
    "StopLogging": "elasticache.amazonaws.com",
}
ACTING = ("remediate", "approval")
NOT_ACTING = ("ignore", "alert")


def _own_role_identity(arn: str) -> dict[str, Any]:
    role = arn.rsplit("/", 1)[1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEOWNROLE:{role[:32]}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{role[:32]}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLEKEY0000009",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEOWNROLE",
                "arn": arn,
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def _near_miss(
    rng: random.Random,
    watched: list[tuple[dict[str, Any], dict[str, Any]]],
    own_roles: list[str],
) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(kind, index entry, record, expectation) of one near miss built from a sample.

    The expectation is what DESIGN §2 promises whatever the sample: another service's
    call of the same name belongs to no workflow; a failed call, the app's own call and
    a read-only call never start an action (and a read-only call reaches no ENABLED rule).
    """
    kind = rng.choice(("other-source", "failed", "own-role", "read-only"))
    if kind == "other-source":
        pool = [(e, r) for e, r in watched if r["eventName"] in OTHER_SOURCE]
        entry, sample = pool[rng.randrange(len(pool))]
        record = {**sample, "eventSource": OTHER_SOURCE[sample["eventName"]]}
        return kind, entry, record, {"workflow": None, "verdicts": ["ignore"]}
    entry, sample = watched[rng.randrange(len(watched))]
    if kind == "failed":
        record = {**sample, "errorCode": "AccessDenied", "errorMessage": "not authorized"}
        record.pop("responseElements", None)
        return kind, entry, record, {"verdicts": list(NOT_ACTING)}
    if kind == "own-role":
        identity = _own_role_identity(own_roles[rng.randrange(len(own_roles))])
        return kind, entry, {**sample, "userIdentity": identity}, {"verdicts": ["ignore"]}
    return kind, entry, {**sample, "readOnly": True}, {"verdicts": ["ignore"]}


def generate(
    folder: Path, records: int, files: int, seed: int, *, watched_share: float, near_share: float
) -> dict[str, Any]:
    """Write the log files and a manifest of every injected record's expected answer.

    Each record is, independently, a watched call (one of the events/ CloudTrail samples
    of a workflow, whatever its verdict: risky ones, failed ones, the app's own ...) with
    probability ``watched_share``, a near miss with ``near_share``, else background.
    """
    rng = random.Random(seed)
    index, samples = _samples()
    watched = [(e, r) for e, r in samples if e.get("workflow")]
    own_roles = list(index.get("ownRoleArns") or ())
    weights = [call.weight for call in CALLS]
    region_names = [r for r, _ in REGIONS]
    region_weights = [w for _, w in REGIONS]
    expected: dict[str, dict[str, Any]] = {}
    kinds: Counter[str] = Counter()
    per_file = [records // files + (1 if i < records % files else 0) for i in range(files)]
    logs = folder / "logs"
    json_bytes = 0
    for number, count in enumerate(per_file):
        region = rng.choices(region_names, region_weights)[0]
        stamp = START + timedelta(seconds=int(number * DAYS * 86400 / files) + rng.randrange(300))
        day = logs / "AWSLogs" / ACCOUNT / "CloudTrail" / region / stamp.strftime("%Y/%m/%d")
        day.mkdir(parents=True, exist_ok=True)
        name = (
            f"{ACCOUNT}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{_id(rng, '', 16).upper()}.json.gz"
        )
        batch = []
        for call in rng.choices(CALLS, weights, k=count):
            when = (stamp - timedelta(seconds=rng.randrange(900))).strftime("%Y-%m-%dT%H:%M:%SZ")
            draw = rng.random()
            if draw < watched_share + near_share:
                if draw < watched_share:
                    entry, record = watched[rng.randrange(len(watched))]
                    kind = "watched"
                    want = {"workflow": entry.get("workflow"), "verdicts": [entry["verdict"]]}
                else:
                    kind, entry, record, want = _near_miss(rng, watched, own_roles)
                record = {
                    **record,
                    "eventTime": when,
                    "eventID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                }
                expected[record["eventID"]] = {"kind": kind, "file": entry["file"], **want}
                kinds[kind] += 1
            else:
                record = _record(call, rng, region, when)
                kinds["background"] += 1
            batch.append(record)
        text = json.dumps({"Records": batch}, separators=(",", ":")).encode()
        json_bytes += len(text)
        (day / name).write_bytes(gzip.compress(text, compresslevel=6, mtime=0))
    manifest = {
        "records": records,
        "files": files,
        "seed": seed,
        "jsonBytes": json_bytes,
        "kinds": dict(kinds),
        "expected": expected,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def dataset(
    records: int, files: int, seed: int, shares: tuple[float, float], regenerate: bool
) -> tuple[Path, dict[str, Any]]:
    folder = DATA / _dataset_key(records, files, seed, shares)
    manifest_file = folder / "manifest.json"
    if regenerate or not manifest_file.exists():
        for stale in DATA.glob(f"r{records}-f{files}-s{seed}-*"):  # older samples' data sets
            shutil.rmtree(stale, ignore_errors=True)
        folder.mkdir(parents=True)
        started = time.perf_counter()
        print(f"generating {records:,} records in {files} files under {folder} ...", flush=True)
        manifest = generate(
            folder, records, files, seed, watched_share=shares[0], near_share=shares[1]
        )
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
        return folder, manifest
    return folder, json.loads(manifest_file.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    max_rss_kb: int
    status: int


def _wait(proc: subprocess.Popen[bytes]) -> tuple[int, Any]:
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage


def run_replay(arguments: list[str], out: Path, err: Path, cache: Path) -> Run:
    """``trailwarden replay`` as a user runs it, its rules cached under ``cache``.

    As installed code runs: with its bytecode cached (kept under ``cache`` so the work
    tree stays clean; the first, untimed run writes it), even when the environment says
    PYTHONDONTWRITEBYTECODE (compiling ~40 modules on every run is ~0.1 s of start-up).
    """
    command = [sys.executable, "-m", "trailwarden_local.cli", "replay", *arguments]
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPYCACHEPREFIX": str(cache / "pyc")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=REPO, env=env)
        status, usage = _wait(proc)
        wall = time.perf_counter() - started
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, status)


def run_jq(jq: str, files: list[Path], names: list[str], out: Path) -> Run:
    condition = " or ".join(f".eventName == {json.dumps(n)}" for n in names)
    with out.open("wb") as stdout:
        started = time.perf_counter()
        gunzip = subprocess.Popen(["gzip", "-dc", *map(str, files)], stdout=subprocess.PIPE)
        query = subprocess.Popen(
            [jq, "-c", f".Records[] | select({condition})"], stdin=gunzip.stdout, stdout=stdout
        )
        assert gunzip.stdout is not None
        gunzip.stdout.close()
        status_q, usage_q = _wait(query)
        status_g, usage_g = _wait(gunzip)
        wall = time.perf_counter() - started
    cpu = usage_q.ru_utime + usage_q.ru_stime + usage_g.ru_utime + usage_g.ru_stime
    return Run(wall, cpu, max(usage_q.ru_maxrss, usage_g.ru_maxrss), status_q or status_g)


def _best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.wall)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument(
        "--watched", type=float, default=0.10, help="share of watched calls (events/ samples)"
    )
    parser.add_argument("--near-misses", type=float, default=0.02, help="share of near misses")
    parser.add_argument("--quick", action="store_true", help="20,000 records in 8 files")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs each; best wall kept")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2, help="also time replay --jobs N (1: do not)")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--jq", default=shutil.which("jq") or "/usr/bin/jq")
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.files = 20_000, 8
    if not (Path(args.jq).is_file() and os.access(args.jq, os.X_OK)) or not shutil.which("gzip"):
        print(f"SKIP: jq ({args.jq}) or gzip not found; install them (apt-get install jq).")
        return 0
    jq_version = subprocess.run(
        [args.jq, "--version"], check=False, capture_output=True, text=True
    ).stdout.strip()

    sys.path[:0] = [str(REPO / "functions"), str(REPO / "local")]
    from trailwarden.workflows.registry import BY_ID
    from trailwarden_local.replay_rules import load_rules
    from trailwarden_local.samples import TEMPLATE

    folder, manifest = dataset(
        args.records, args.files, args.seed, (args.watched, args.near_misses), args.regenerate
    )
    logs = folder / "logs"
    files = sorted(logs.rglob("*.json.gz"))
    index, _ = _samples()
    replay_args = [str(logs)]
    if index.get("parameters"):
        replay_args += [
            "--parameter-overrides",
            *(f"{k}={v}" for k, v in index["parameters"].items()),
        ]
    for arn in index.get("ownRoleArns", []):
        replay_args += ["--own-role-arn", arn]
    rules = load_rules(TEMPLATE, index.get("parameters", {}), index.get("ownRoleArns", []))
    names = sorted(
        {name for _source, name in rules.call_filter.pairs}
        | set(rules.call_filter.names_any_source)
    )

    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        work = Path(tmp)
        cache = work / "cache"
        (work / "empty").mkdir()
        empty_args = [str(work / "empty"), *replay_args[1:]]
        # The first run expands template.yaml and caches its rules; later runs read them.
        first = run_replay(empty_args, work / "empty.jsonl", work / "empty.err", cache)
        # Untimed: one file, so that every module the detections use has its bytecode.
        run_replay([str(files[0]), *replay_args[1:]], work / "warm.jsonl", work / "warm.err", cache)
        replay_runs, jq_runs, startups, jobs_runs = [], [], [], []
        for _ in range(max(1, args.repeat)):
            startups.append(run_replay(empty_args, work / "empty.jsonl", work / "empty.err", cache))
            replay_runs.append(
                run_replay(replay_args, work / "replay.jsonl", work / "replay.err", cache)
            )
            jq_runs.append(run_jq(args.jq, files, names, work / "jq.jsonl"))
            if args.jobs > 1:
                jobs_runs.append(
                    run_replay(
                        [*replay_args, "--jobs", str(args.jobs)],
                        work / "jobs.jsonl",
                        work / "jobs.err",
                        cache,
                    )
                )
        replay, jq, startup = _best(replay_runs), _best(jq_runs), _best(startups)
        full = run_replay(
            [*replay_args, "--no-shortcuts"], work / "full.jsonl", work / "full.err", cache
        )
        subset = files[: max(1, len(files) // 10)]
        small = run_replay(
            [str(f) for f in subset] + replay_args[1:],
            work / "small.jsonl",
            work / "small.err",
            cache,
        )
        if replay.status or full.status or jq.status:
            problems.append(
                f"exit status replay={replay.status} full={full.status} jq={jq.status}: "
                + (work / "replay.err").read_text(errors="replace")[-2000:]
            )

        # --- answers -------------------------------------------------------------
        if _sha256(work / "replay.jsonl") != _sha256(work / "full.jsonl"):
            problems.append("replay's output differs from the full parse (--no-shortcuts)")
        if jobs_runs and _sha256(work / "jobs.jsonl") != _sha256(work / "full.jsonl"):
            problems.append(f"replay --jobs {args.jobs} prints other lines than the full parse")
        expected: dict[str, dict[str, Any]] = manifest["expected"]
        lines = benign = benign_remediation = benign_any = selected = 0
        seen: set[str] = set()
        started_by: Counter[str] = Counter()
        wanted = set(names)
        with (work / "replay.jsonl").open(encoding="utf-8") as handle:
            for raw in handle:
                line = json.loads(raw)
                lines += 1
                selected += line["eventName"] in wanted
                want = expected.get(line["eventID"])
                if want is not None:
                    seen.add(line["eventID"])
                    if line["verdict"] not in want["verdicts"] or (
                        "workflow" in want and line["workflow"] != want["workflow"]
                    ):
                        problems.append(
                            f"{want['kind']} {want['file']}: got "
                            f"{(line['workflow'], line['verdict'])}, expected "
                            f"{(want.get('workflow', 'any'), want['verdicts'])}"
                        )
                    if want["kind"] == "watched":
                        continue
                benign += 1
                if line["rule"] is not None:
                    benign_any += 1
                    workflow = BY_ID.get(line["workflow"])
                    if workflow is not None and workflow.remediation is not None:
                        benign_remediation += 1
                        started_by[workflow.id] += 1
        jq_selected = sum(1 for _ in (work / "jq.jsonl").open(encoding="utf-8"))
        if lines != manifest["records"]:
            problems.append(f"replay printed {lines:,} lines for {manifest['records']:,} records")
        if jq_selected != selected:
            problems.append(
                f"jq selected {jq_selected:,} records, replay printed {selected:,} with those names"
            )
        if missing := set(expected) - seen:
            problems.append(f"{len(missing)} injected samples missing from the output")

    records = manifest["records"]

    def rate(seconds: float) -> float:
        return records / seconds if seconds > 0 else 0.0

    print()
    print(
        f"trailwarden replay vs {jq_version}: {records:,} records in {len(files)} gzipped files "
        f"({manifest['jsonBytes'] / 1e6:,.0f} MB of JSON, "
        f"{sum(f.stat().st_size for f in files) / 1e6:,.1f} MB gzipped)"
    )
    kinds = Counter(manifest["kinds"])
    near = {k: n for k, n in kinds.items() if k not in ("background", "watched")}
    print(
        f"  mix: {kinds['background']:,} background calls ({len({c.source for c in CALLS})}"
        f" services), {kinds['watched']:,} watched calls (events/ samples), "
        f"{sum(near.values()):,} near misses ("
        + ", ".join(f"{k} {n:,}" for k, n in sorted(near.items()))
        + f"); jq selects {len(names)} event names ({jq_selected:,} records)"
    )
    print(
        f"  {'':34}{'wall s':>8}{'records/s':>12}{'cpu s':>8}{'records/cpu-s':>15}{'peak RSS':>10}"
    )
    for label, run in (
        ("replay (full: patterns, detections)", replay),
        ("gzip -dc | jq -c select(...)", jq),
        ("replay --no-shortcuts (reference)", full),
    ):
        print(
            f"  {label:34}{run.wall:8.2f}{rate(run.wall):12,.0f}{run.cpu:8.2f}"
            f"{rate(run.cpu):15,.0f}{run.max_rss_kb / 1024:8.0f} MB"
        )
    print(
        f"  RATIO replay/jq: {jq.wall / replay.wall:.2f}x (wall, whole process, start-up included)"
        f", {jq.cpu / replay.cpu:.1f}x (cpu)"
        f"; without shortcuts {jq.wall / full.wall:.1f}x (wall)"
    )
    if jobs_runs:
        parallel = _best(jobs_runs)
        print(
            f"  replay --jobs {args.jobs} (worker processes, not the single-process target):"
            f" {parallel.wall:.2f} s wall, {rate(parallel.wall):,.0f} records/s ="
            f" {jq.wall / parallel.wall:.2f}x jq"
        )
    steady = max(replay.wall - startup.wall, 1e-9)
    print(
        f"  replay start-up on an empty folder: {startup.wall:.2f} s ({startup.cpu:.2f} cpu s)"
        f" with the rules cached (every run after the first); after it {rate(steady):,.0f}"
        f" records/s = {jq.wall / steady:.1f}x jq"
    )
    first_wall = replay.wall + max(first.wall - startup.wall, 0.0)
    print(
        f"  first run ever (SAM expansion of template.yaml, then cached): start-up"
        f" {first.wall:.2f} s, so about {jq.wall / first_wall:.2f}x jq for that run"
    )
    print(
        f"  peak memory: {replay.max_rss_kb / 1024:.0f} MB for {len(files)} files, "
        f"{small.max_rss_kb / 1024:.0f} MB for {len(subset)} (flat in the number of files)"
    )
    print(
        f"  benign records that would start a remediation workflow: {benign_remediation:,} of "
        f"{benign:,} = {benign_remediation / benign * 1e6:,.1f} per million "
        f"(any rule: {benign_any:,} = {benign_any / benign * 1e6:,.1f} per million)"
    )
    if started_by:
        print("    by workflow: " + ", ".join(f"{w} {n}" for w, n in started_by.most_common()))
    if problems:
        print("FAILED checks:")
        for problem in problems[:20]:
            print(f"  - {problem}")
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20:,} more")
        return 1
    print(
        "  checks: output identical to the full parse; one line per record; jq and replay agree "
        f"on the selection; {len(expected):,} watched calls and near misses give the expected"
        " verdicts"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
