"""Demo driver for cloudtrail-tamper: a fresh trail (and bucket) per scenario, the call
the sample records made for real in moto, and the trail read back.

``setup`` keys: ``multiRegion`` (bool), ``logging`` (bool, default true) and
``stopWithoutEvent`` (the backstop scenario: the trail is stopped directly, no event is
put on the bus, and the scheduled backstop function is invoked instead).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import (
    BACKSTOP_SOURCE,
    Prepared,
    client,
    own_role_arn,
    rewrite_issuer,
)

if TYPE_CHECKING:
    from trailwarden_local.engine import Delivery, LocalApp
    from trailwarden_local.samples import Sample

BACKSTOP_FUNCTION = "TrailBackstopFunction"
OWN_ROLE_FUNCTION = "CloudTrailTamperRemediateFunction"

_UPDATE_TRAIL_KEYS = {
    "s3BucketName": "S3BucketName",
    "s3KeyPrefix": "S3KeyPrefix",
    "includeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "isMultiRegionTrail": "IsMultiRegionTrail",
    "enableLogFileValidation": "EnableLogFileValidation",
    "isOrganizationTrail": "IsOrganizationTrail",
    "kmsKeyId": "KmsKeyId",
}


def trail_name(sample: Sample) -> str:
    return f"demo-{sample.scenario}"[:128]


def create_trail(
    app: LocalApp, name: str, *, multi_region: bool = False, logging: bool = True
) -> str:
    """A trail writing to its own bucket; returns its ARN."""
    s3, cloudtrail = client(app, "s3"), client(app, "cloudtrail")
    bucket = f"trailwarden-{name}".lower()[:63].rstrip("-")
    if app.region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:  # outside us-east-1 S3 wants the region named
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": app.region}
        )
    arn = str(
        cloudtrail.create_trail(
            Name=name,
            S3BucketName=bucket,
            IsMultiRegionTrail=multi_region,
            IncludeGlobalServiceEvents=True,
            EnableLogFileValidation=True,
        )["TrailARN"]
    )
    if logging:
        cloudtrail.start_logging(Name=arn)
    return arn


def read_trail(cloudtrail: Any, name: str) -> dict[str, Any]:
    """What the demo shows and the index expects: does it exist, is it logging."""
    try:
        trail = cloudtrail.get_trail(Name=name)["Trail"]
    except cloudtrail.exceptions.TrailNotFoundException:
        return {"name": name, "exists": False}
    status = cloudtrail.get_trail_status(Name=name)
    return {
        "name": name,
        "exists": True,
        "isLogging": bool(status["IsLogging"]),
        "isMultiRegionTrail": bool(trail["IsMultiRegionTrail"]),
        "logFileValidationEnabled": bool(trail["LogFileValidationEnabled"]),
    }


def _pascal(value: Any) -> Any:
    """CloudTrail logs request fields in camelCase; boto3 wants the API's PascalCase."""
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _pascal(v) for k, v in value.items()}
    return value


def replay_call(cloudtrail: Any, detail: dict[str, Any], name: str, arn: str) -> None:
    """Make the recorded call against the emulator's trail (a failed call changed nothing)."""
    if detail.get("errorCode"):
        return
    request = detail.get("requestParameters") or {}
    call = detail["eventName"]
    if call == "StopLogging":
        cloudtrail.stop_logging(Name=arn)
    elif call == "StartLogging":
        cloudtrail.start_logging(Name=arn)
    elif call == "DeleteTrail":
        cloudtrail.delete_trail(Name=name)  # moto deletes by name only
    elif call == "UpdateTrail":
        changes = {api: request[key] for key, api in _UPDATE_TRAIL_KEYS.items() if key in request}
        cloudtrail.update_trail(Name=arn, **changes)
    elif call == "PutEventSelectors":
        selectors = {
            api: _pascal(request[key])
            for key, api in (
                ("eventSelectors", "EventSelectors"),
                ("advancedEventSelectors", "AdvancedEventSelectors"),
            )
            if key in request
        }
        cloudtrail.put_event_selectors(TrailName=arn, **selectors)


def _rewrite(event: dict[str, Any], name: str, arn: str) -> None:
    detail = event["detail"]
    if event.get("source") == BACKSTOP_SOURCE:
        detail.update({"trailName": name, "trailArn": arn})
        event["resources"] = [arn]
        return
    request = detail.get("requestParameters") or {}
    for key in ("name", "trailName"):
        if isinstance(request.get(key), str):
            request[key] = arn if request[key].startswith("arn:") else name
    response = detail.get("responseElements")
    if isinstance(response, dict):
        if "trailARN" in response:
            response["trailARN"] = arn
        if "name" in response:
            response["name"] = name


def backstop_trigger(app: LocalApp, scheduled: str | None = None) -> list[Delivery]:
    """Invoke the scheduled backstop as EventBridge Scheduler would (``scheduled`` is the
    schedule's time, default now); the executions it started and the alerts it raised
    are returned as deliveries (the demo and tests wait for them)."""
    from trailwarden_local.engine import Delivery

    function = app.functions[BACKSTOP_FUNCTION]
    scheduled = scheduled or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {"source": "trailwarden.schedule", "scheduledTime": scheduled}
    result = app.invoke(BACKSTOP_FUNCTION, payload)
    if result.function_error:
        raise RuntimeError(f"{BACKSTOP_FUNCTION} failed: {result.payload}")
    report = result.payload if isinstance(result.payload, dict) else {}
    deliveries: list[Delivery] = [
        Delivery(
            rule_logical_id=None,
            rule_name="TrailBackstopSchedule",
            target_id=BACKSTOP_FUNCTION,
            target_arn=function.arn,
            kind="stepfunctions",
            input=payload,
            execution_arn=started["executionArn"],
        )
        for started in report.get("executions", [])
        if started.get("executionArn")
    ]
    deliveries += [
        Delivery(
            rule_logical_id=None,
            rule_name="TrailBackstopSchedule",
            target_id=BACKSTOP_FUNCTION,
            target_arn=function.arn,
            kind="lambda",
            input=payload,
            lambda_result=alert,
        )
        for alert in report.get("alerts", [])
    ]
    return deliveries


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    cloudtrail = client(app, "cloudtrail")
    name = trail_name(sample)
    arn = create_trail(
        app,
        name,
        multi_region=bool(sample.setup.get("multiRegion")),
        logging=bool(sample.setup.get("logging", True)),
    )
    event = copy.deepcopy(sample.event)
    _rewrite(event, name, arn)
    if sample.own_role:
        rewrite_issuer(event, own_role_arn(app, OWN_ROLE_FUNCTION))

    def cleanup() -> None:
        # Later scenarios share the emulator; the backstop would find this trail again.
        if read_trail(cloudtrail, name)["exists"]:
            cloudtrail.delete_trail(Name=name)

    def read_state() -> dict[str, Any]:
        return read_trail(cloudtrail, name)

    if sample.setup.get("stopWithoutEvent"):
        cloudtrail.stop_logging(Name=arn)  # no event: only the backstop can notice
        return Prepared(
            event=event,
            read_state=read_state,
            trigger=lambda: backstop_trigger(app),
            cleanup=cleanup,
        )
    replay_call(cloudtrail, event["detail"], name, arn)
    return Prepared(event=event, read_state=read_state, cleanup=cleanup)
