"""Demo driver for ec2-keypair: AWS Config's part, simulated on the emulator's instances.

moto neither runs Config rules nor emits "Config Rules Compliance Change" events, so
for a sample with ``setup.instances`` this driver does what AWS Config would do:

1. launch the instances (some with a key pair, some without);
2. build each instance's configuration item from the emulator (DescribeInstances, in
   Config's camelCase shape) and invoke the template's ``KeyPairRuleFunction`` with it,
   exactly as Config invokes a custom rule (the real handler runs in-process);
3. capture what the function reports with PutEvaluations (moto implements it only in
   TestMode, so the call is answered by the emulator in that mode and recorded);
4. turn each result into the compliance-change event Config would put on the bus.

The NON_COMPLIANT event is the scenario's event; the others are routed before it
(``preceding_events``), so the demo shows that they match no rule. Samples without
``setup.instances`` (another rule, a COMPLIANT change) are routed as they are.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from unittest import mock

from trailwarden_local.drivers.base import Prepared, client
from trailwarden_local.drivers.ssm_session import launch

if TYPE_CHECKING:
    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample

RULE_FUNCTION = "KeyPairRuleFunction"
SIMULATED = (
    "AWS Config: moto runs no Config rules and emits no compliance-change events. The "
    "driver invoked KeyPairRuleFunction with a configuration item per instance built "
    "from the emulator, as Config would, captured its PutEvaluations (moto answers it "
    "only in TestMode) and routed the compliance-change event each result implies."
)


def _camel(value: Any) -> Any:
    """boto3's PascalCase EC2 shapes -> the camelCase AWS Config records."""
    if isinstance(value, Mapping):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def configuration_item(instance: Mapping[str, Any], account: str, region: str) -> dict[str, Any]:
    """An EC2 instance's configuration item, as Config sends it to a custom rule."""
    configuration = _camel(instance)
    configuration.setdefault("keyName", None)  # Config records the absent key as null
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    instance_id = str(instance["InstanceId"])
    return {
        "relatedEvents": [],
        "relationships": [],
        "configuration": configuration,
        "supplementaryConfiguration": {},
        "tags": tags,
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": _now(),
        "configurationStateId": int(datetime.now(UTC).timestamp() * 1000),
        "awsAccountId": account,
        "configurationItemStatus": "ResourceDiscovered",
        "resourceType": "AWS::EC2::Instance",
        "resourceId": instance_id,
        "resourceName": None,
        "ARN": f"arn:aws:ec2:{region}:{account}:instance/{instance_id}",
        "awsRegion": region,
        "availabilityZone": (instance.get("Placement") or {}).get("AvailabilityZone", ""),
        "configurationStateMd5Hash": "",
        "resourceCreationTime": configuration.get("launchTime"),
    }


def rule_invocation(item: Mapping[str, Any], rule_name: str, account: str) -> dict[str, Any]:
    """The event AWS Config invokes a custom rule's function with."""
    invoking = {
        "configurationItem": item,
        "notificationCreationTime": _now(),
        "messageType": "ConfigurationItemChangeNotification",
        "recordVersion": "1.3",
    }
    return {
        "version": "1.0",
        "invokingEvent": json.dumps(invoking),
        "ruleParameters": "{}",
        "resultToken": f"demo-result-token-{uuid.uuid4().hex}",
        "eventLeftScope": False,
        "executionRoleArn": (
            f"arn:aws:iam::{account}:role/aws-service-role/config.amazonaws.com/"
            "AWSServiceRoleForConfig"
        ),
        "configRuleArn": f"arn:aws:config:{item['awsRegion']}:{account}:config-rule/demo",
        "configRuleName": rule_name,
        "configRuleId": "config-rule-demo",
        "accountId": account,
        "evaluationMode": "DETECTIVE",
    }


def compliance_change_event(
    shape: Mapping[str, Any], rule_name: str, evaluation: Mapping[str, Any]
) -> dict[str, Any]:
    """The "Config Rules Compliance Change" event that follows a first evaluation."""
    event = copy.deepcopy(dict(shape))
    now = _now()
    resource_id = str(evaluation["ComplianceResourceId"])
    event["id"] = str(uuid.uuid4())
    event["time"] = now[:19] + "Z"
    detail = event["detail"]
    detail["resourceId"] = resource_id
    detail["configRuleName"] = rule_name
    detail.pop("oldEvaluationResult", None)  # first evaluation of a new instance
    detail["notificationCreationTime"] = now
    new = detail["newEvaluationResult"]
    new["complianceType"] = evaluation["ComplianceType"]
    new["annotation"] = evaluation.get("Annotation", "")
    new["resultRecordedTime"] = now
    new["configRuleInvokedTime"] = now
    qualifier = new["evaluationResultIdentifier"]["evaluationResultQualifier"]
    qualifier["configRuleName"] = rule_name
    qualifier["resourceId"] = resource_id
    return event


@contextmanager
def captured_evaluations() -> Iterator[list[dict[str, Any]]]:
    """Record every PutEvaluations the emulator receives (answered as in TestMode)."""
    from moto.config.models import ConfigBackend

    original = ConfigBackend.put_evaluations
    captured: list[dict[str, Any]] = []

    def put_evaluations(
        backend: Any, evaluations: Any = None, result_token: Any = None, _test_mode: Any = None
    ) -> Any:
        response = original(backend, evaluations, result_token, True)
        captured.extend(evaluations or [])
        return response

    with mock.patch.object(ConfigBackend, "put_evaluations", put_evaluations):
        yield captured


def evaluate_instances(app: LocalApp, instance_ids: list[str]) -> list[dict[str, Any]]:
    """Invoke the rule function for each instance as Config would; return its evaluations."""
    ec2 = client(app, "ec2")
    rule_name = app.parameters["KeyPairConfigRuleName"]
    instances = [
        instance
        for reservation in ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
        for instance in reservation["Instances"]
    ]
    with captured_evaluations() as captured:
        for instance in instances:
            item = configuration_item(instance, app.account_id, app.region)
            result = app.invoke(RULE_FUNCTION, rule_invocation(item, rule_name, app.account_id))
            if result.function_error:
                raise RuntimeError(f"{RULE_FUNCTION} failed: {result.payload}")
    return captured


def _read_state(app: LocalApp, names: Mapping[str, str], compliance: Mapping[str, str]) -> Any:
    ec2 = client(app, "ec2")
    by_id = {
        instance["InstanceId"]: instance
        for reservation in ec2.describe_instances(InstanceIds=list(names))["Reservations"]
        for instance in reservation["Instances"]
    }
    return {
        "instances": {
            name: {
                "keyName": by_id[iid].get("KeyName"),
                "state": by_id[iid]["State"]["Name"],
            }
            for iid, name in names.items()
        },
        "compliance": {names[iid]: value for iid, value in compliance.items()},
    }


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    specs = sample.setup.get("instances")
    if not isinstance(specs, list):
        return Prepared(event=copy.deepcopy(sample.event), read_state=dict)
    ec2 = client(app, "ec2")
    names = {launch(ec2, str(s["name"]), s.get("keyName")): str(s["name"]) for s in specs}
    evaluations = evaluate_instances(app, list(names))
    compliance = {str(e["ComplianceResourceId"]): str(e["ComplianceType"]) for e in evaluations}
    rule_name = app.parameters["KeyPairConfigRuleName"]
    # Non-compliant results last: the scenario's own event is the last one routed.
    ordered = sorted(evaluations, key=lambda e: e["ComplianceType"] == "NON_COMPLIANT")
    events = [compliance_change_event(sample.event, rule_name, e) for e in ordered]
    if not events:
        raise RuntimeError(f"{RULE_FUNCTION} reported no evaluation")
    return Prepared(
        event=events[-1],
        read_state=lambda: _read_state(app, names, compliance),
        preceding_events=events[:-1],
        simulated=SIMULATED,
    )
