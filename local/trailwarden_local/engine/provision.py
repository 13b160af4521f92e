"""Create resolved CloudFormation resources in moto with boto3.

Only the types the app's templates use have a creator; each returns what CloudFormation
would: the ``Ref`` value (physical id or ARN, per type) and the ``Fn::GetAtt``
attributes. A short table of types is deliberately not provisioned
(:data:`SKIPPED_RESOURCE_TYPES`, with the reason); they still get plausible
``Ref``/``GetAtt`` values so other resources can refer to them. Any other type raises
:class:`UnsupportedTemplateFeature`: adding one is one creator method and one line in
``_creators``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import TemplateError, UnsupportedTemplateFeature

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

# type -> why it is not provisioned locally.
SKIPPED_RESOURCE_TYPES: dict[str, str] = {
    "AWS::CloudWatch::Alarm": "no metrics are produced locally, so alarms never fire",
    "AWS::Lambda::Permission": (
        "resource policies are not enforced locally; the engine invokes targets itself"
    ),
    "AWS::SQS::QueuePolicy": "resource policies are not enforced by moto",
    "AWS::Logs::LogGroup": "function and state machine logs go to stderr locally",
    "AWS::Scheduler::Schedule": "no clock locally; the demo/tests invoke the target explicitly",
    "AWS::Scheduler::ScheduleGroup": "no clock locally; schedules are not provisioned",
    "AWS::ApiGatewayV2::Api": "no HTTP front door locally; invoke the function directly",
    "AWS::ApiGatewayV2::Stage": "no HTTP front door locally; invoke the function directly",
    "AWS::Config::ConfigRule": "AWS Config evaluations are not simulated locally",
    "AWS::CloudTrail::Trail": "CloudTrail events are injected with LocalApp.put_event",
    "AWS::S3::Bucket": "only CloudTrail/log storage; nothing in the workflows reads it",
    "AWS::S3::BucketPolicy": "resource policies are not enforced by moto",
    "AWS::Events::EventBusPolicy": (
        "resource policies are not enforced by moto; the engine forwards member events itself"
    ),
}


def _make_dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "trailwarden local engine: code runs in-process\n")
    return buffer.getvalue()


_DUMMY_ZIP = _make_dummy_zip()


@dataclass
class Provisioned:
    """One resource as CloudFormation would report it."""

    logical_id: str
    type: str
    ref: Any
    attributes: dict[str, Any]
    properties: dict[str, Any]
    skipped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _suffix(seed: str, length: int = 12) -> str:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=")[:length]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _int_fields(value: Any, names: tuple[str, ...]) -> Any:
    """CloudFormation accepts "5" where the API wants 5: convert the named fields, deep."""
    if isinstance(value, list):
        return [_int_fields(item, names) for item in value]
    if isinstance(value, dict):
        return {
            key: int(item) if key in names and isinstance(item, str) else _int_fields(item, names)
            for key, item in value.items()
        }
    return value


def _tags_dict(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): _text(v) for k, v in tags.items()}
    return {str(t["Key"]): _text(t["Value"]) for t in tags or []}


def _tags_list(tags: Any, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in _tags_dict(tags).items()]


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _policy_json(document: Any) -> str:
    """A policy document for moto. moto rejects a document without ``Version``; AWS
    defaults it to 2008-10-17, which only differs for policy variables: send 2012-10-17."""
    if isinstance(document, dict) and "Version" not in document:
        document = {"Version": "2012-10-17", **document}
    return json.dumps(document)


_UNRESOLVED_SUBSTITUTION = re.compile(r"\$\{[^}]*\}")


def apply_definition_substitutions(definition: str, substitutions: Mapping[str, Any]) -> str:
    """Replace each ``${Key}`` like CloudFormation's DefinitionSubstitutions does."""
    for key, value in substitutions.items():
        if isinstance(value, (dict, list)) or value is None:
            raise TemplateError(f"DefinitionSubstitutions.{key}: {value!r} is not a scalar")
        definition = definition.replace("${" + key + "}", _text(value))
    leftover = sorted(set(_UNRESOLVED_SUBSTITUTION.findall(definition)))
    if leftover:
        raise TemplateError(f"state machine definition has unresolved substitutions {leftover}")
    return definition


class Provisioner:
    """Creates resources in moto; returns :class:`Provisioned` records."""

    def __init__(
        self,
        *,
        session: Any,
        region: str,
        account_id: str,
        partition: str,
        stack_name: str,
        code_dirs: Mapping[str, Path],
        pattern_validator: Callable[[Mapping[str, Any]], object] | None = None,
    ) -> None:
        self._session = session
        self._clients: dict[str, Any] = {}
        self.region = region
        self.account_id = account_id
        self.partition = partition
        self.stack_name = stack_name
        self._code_dirs = dict(code_dirs)
        self._pattern_validator = pattern_validator
        self._creators: dict[str, Callable[[str, dict[str, Any]], Provisioned]] = {
            "AWS::IAM::Role": self._iam_role,
            "AWS::IAM::ManagedPolicy": self._iam_managed_policy,
            "AWS::Lambda::Function": self._lambda_function,
            "AWS::Lambda::LayerVersion": self._lambda_layer_version,
            "AWS::SNS::Topic": self._sns_topic,
            "AWS::SNS::Subscription": self._sns_subscription,
            "AWS::SQS::Queue": self._sqs_queue,
            "AWS::DynamoDB::Table": self._dynamodb_table,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Events::Rule": self._events_rule,
            "AWS::Events::EventBus": self._event_bus,
        }

    @staticmethod
    def supports(resource_type: str) -> bool:
        return resource_type in _SUPPORTED_TYPES or resource_type in SKIPPED_RESOURCE_TYPES

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    # ------------------------------------------------------------------ names

    def name(
        self, logical_id: str, max_len: int, *, stack: bool = True, lower: bool = False
    ) -> str:
        """A CloudFormation-style generated name: ``stack-LogicalId-SUFFIX`` (deterministic)."""
        suffix = _suffix(f"{self.stack_name}/{logical_id}")
        base = f"{self.stack_name}-{logical_id}" if stack else logical_id
        base = base[: max_len - len(suffix) - 1]
        name = f"{base}-{suffix}"
        return name.lower() if lower else name

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"

    # ------------------------------------------------------------------ dispatch

    def create(self, logical_id: str, resource_type: str, props: dict[str, Any]) -> Provisioned:
        reason = SKIPPED_RESOURCE_TYPES.get(resource_type)
        if reason is not None:
            ref, attrs = self._synthetic(logical_id, resource_type, props)
            return Provisioned(logical_id, resource_type, ref, attrs, props, skipped=reason)
        creator = self._creators.get(resource_type)
        if creator is None:
            raise UnsupportedTemplateFeature(
                f"Resources.{logical_id}: resource type {resource_type} is not supported locally"
            )
        from botocore.exceptions import ClientError

        try:
            return creator(logical_id, props)
        except ClientError as exc:
            message = str(exc).split(" in definition '", 1)[0]  # moto appends the whole ASL
            raise TemplateError(
                f"Resources.{logical_id} ({resource_type}) was rejected: {message}"
            ) from exc

    # ------------------------------------------------------------------ IAM

    def _iam_role(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        iam = self.client("iam")
        name = props.get("RoleName") or self.name(logical_id, 64)
        kwargs: dict[str, Any] = {
            "RoleName": name,
            "Path": props.get("Path", "/"),
            "AssumeRolePolicyDocument": _policy_json(props.get("AssumeRolePolicyDocument", {})),
        }
        if "Description" in props:
            kwargs["Description"] = props["Description"]
        if props.get("Tags"):
            kwargs["Tags"] = _tags_list(props["Tags"])
        role = iam.create_role(**kwargs)["Role"]
        for policy in props.get("Policies", []) or []:
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=_policy_json(policy["PolicyDocument"]),
            )
        for arn in props.get("ManagedPolicyArns", []) or []:
            if not isinstance(arn, str) or not arn.startswith("arn:"):
                raise TemplateError(
                    f"role {name}: managed policy {arn!r} is not an ARN (unknown managed "
                    "policy name? add it to engine.template.MANAGED_POLICY_ARNS)"
                )
            # moto does not load AWS managed policies by default: those stay unattached
            with contextlib.suppress(iam.exceptions.NoSuchEntityException):
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        attributes = {"Arn": role["Arn"], "RoleId": role["RoleId"]}
        return Provisioned(logical_id, "AWS::IAM::Role", name, attributes, props)

    def _iam_managed_policy(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        if props.get("Users") or props.get("Groups"):
            raise UnsupportedTemplateFeature(
                f"Resources.{logical_id}: AWS::IAM::ManagedPolicy on Users/Groups (only Roles)"
            )
        iam = self.client("iam")
        policy = iam.create_policy(
            PolicyName=props.get("ManagedPolicyName") or self.name(logical_id, 128),
            PolicyDocument=_policy_json(props["PolicyDocument"]),
            Path=props.get("Path", "/"),
        )["Policy"]
        for role in props.get("Roles", []) or []:
            iam.attach_role_policy(RoleName=role, PolicyArn=policy["Arn"])
        attrs = {"PolicyArn": policy["Arn"], "PolicyId": policy["PolicyId"]}
        return Provisioned(logical_id, "AWS::IAM::ManagedPolicy", policy["Arn"], attrs, props)

    # ------------------------------------------------------------------ Lambda

    def _lambda_function(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        if logical_id not in self._code_dirs:
            raise UnsupportedTemplateFeature(
                f"Resources.{logical_id}: AWS::Lambda::Function without a local CodeUri "
                "(only SAM functions with a local CodeUri run locally)"
            )
        name = props.get("FunctionName") or self.name(logical_id, 64)
        variables = {
            str(k): _text(v)
            for k, v in (props.get("Environment", {}).get("Variables") or {}).items()
        }
        kwargs: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": props.get("Runtime", "python3.12"),
            "Role": props["Role"],
            "Handler": props["Handler"],
            "Code": {"ZipFile": _DUMMY_ZIP},
            "Timeout": int(props.get("Timeout", 3)),
            "MemorySize": int(props.get("MemorySize", 128)),
            "Environment": {"Variables": variables},
        }
        for key in ("Description", "Architectures", "TracingConfig", "Layers"):
            if key in props:
                kwargs[key] = props[key]
        if props.get("Tags"):
            kwargs["Tags"] = _tags_dict(props["Tags"])
        created = self.client("lambda").create_function(**kwargs)
        return Provisioned(
            logical_id,
            "AWS::Lambda::Function",
            ref=name,
            attributes={"Arn": created["FunctionArn"]},
            properties=props,
            extra={"environment": variables, "code_dir": self._code_dirs[logical_id]},
        )

    def _lambda_layer_version(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        """Published with a placeholder zip: handlers run in-process, so the layer's
        packages come from the host environment (the same pins, requirements-dev.txt)."""
        kwargs: dict[str, Any] = {
            "LayerName": props.get("LayerName") or self.name(logical_id, 64),
            "Content": {"ZipFile": _DUMMY_ZIP},
        }
        for key in ("Description", "CompatibleRuntimes", "CompatibleArchitectures"):
            if key in props:
                kwargs[key] = props[key]
        arn = self.client("lambda").publish_layer_version(**kwargs)["LayerVersionArn"]
        return Provisioned(logical_id, "AWS::Lambda::LayerVersion", arn, {}, props)

    # ------------------------------------------------------------------ messaging

    def _sns_topic(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name = props.get("TopicName") or self.name(logical_id, 256)
        attributes = {"DisplayName": _text(props["DisplayName"])} if "DisplayName" in props else {}
        arn = self.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        attrs = {"TopicArn": arn, "TopicName": name}
        return Provisioned(logical_id, "AWS::SNS::Topic", arn, attrs, props)

    def _sns_subscription(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props.get("Endpoint", ""),
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Provisioned(logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn}, props)

    def _sqs_queue(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name = props.get("QueueName") or self.name(logical_id, 80)
        attributes = {
            key: _text(value) for key, value in props.items() if key not in ("QueueName", "Tags")
        }
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attrs = {"Arn": arn, "QueueName": name, "QueueUrl": url}
        return Provisioned(logical_id, "AWS::SQS::Queue", url, attrs, props)

    # ------------------------------------------------------------------ DynamoDB

    def _dynamodb_table(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        ddb = self.client("dynamodb")
        name = props.get("TableName") or self.name(logical_id, 255)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if "ProvisionedThroughput" in props:
            kwargs["ProvisionedThroughput"] = _int_fields(
                props["ProvisionedThroughput"], ("ReadCapacityUnits", "WriteCapacityUnits")
            )
        if "SSESpecification" in props:
            sse = props["SSESpecification"]
            kwargs["SSESpecification"] = {"Enabled": _bool(sse.get("SSEEnabled", False))}
        table = ddb.create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"],
                    "Enabled": _bool(ttl.get("Enabled", False)),
                },
            )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr:
            enabled = _bool(pitr.get("PointInTimeRecoveryEnabled", False))
            ddb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled},
            )
        return Provisioned(
            logical_id, "AWS::DynamoDB::Table", name, {"Arn": table["TableArn"]}, props
        )

    # ------------------------------------------------------------------ Step Functions

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        where = f"Resources.{logical_id}"
        definition = props.get("DefinitionString")
        if not isinstance(definition, str):
            raise UnsupportedTemplateFeature(f"{where}: only DefinitionString (a string)")
        substitutions = props.get("DefinitionSubstitutions", {}) or {}
        try:
            definition = apply_definition_substitutions(definition, substitutions)
        except TemplateError as exc:
            raise TemplateError(f"{where}: {exc}") from exc
        try:
            parsed = json.loads(definition)
        except ValueError as exc:
            raise TemplateError(
                f"{where}: definition is not JSON after substitution: {exc}"
            ) from exc
        name = props.get("StateMachineName") or self.name(logical_id, 80, stack=False)
        kwargs: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": props["RoleArn"],
            "type": props.get("StateMachineType", "STANDARD"),
        }
        tracing = props.get("TracingConfiguration")
        if tracing:
            kwargs["tracingConfiguration"] = {"enabled": _bool(tracing.get("Enabled", False))}
        if props.get("Tags"):
            kwargs["tags"] = _tags_list(props["Tags"], "key", "value")
        # LoggingConfiguration is not passed: its log groups are not provisioned (see
        # SKIPPED_RESOURCE_TYPES) and the executor would try to write to them.
        arn = self.client("stepfunctions").create_state_machine(**kwargs)["stateMachineArn"]
        return Provisioned(
            logical_id,
            "AWS::StepFunctions::StateMachine",
            ref=arn,
            attributes={"Arn": arn, "Name": name},
            properties=props,
            extra={"definition": parsed, "substitutions": dict(substitutions)},
        )

    # ------------------------------------------------------------------ EventBridge

    def _event_bus(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name = str(props["Name"])
        arn = self.client("events").create_event_bus(Name=name)["EventBusArn"]
        return Provisioned(
            logical_id, "AWS::Events::EventBus", name, {"Arn": arn, "Name": name}, props
        )

    def _events_rule(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        events = self.client("events")
        where = f"Resources.{logical_id}"
        name = props.get("Name") or self.name(logical_id, 64)
        kwargs: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        pattern: dict[str, Any] | None = None
        if "EventPattern" in props:
            raw = props["EventPattern"]
            pattern = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(pattern, dict):
                raise TemplateError(f"{where}: EventPattern is not a JSON object")
            if self._pattern_validator is not None:
                self._pattern_validator(pattern)
            kwargs["EventPattern"] = json.dumps(pattern)
        for key in ("ScheduleExpression", "Description", "EventBusName", "RoleArn"):
            if key in props:
                kwargs[key] = props[key]
        arn = events.put_rule(**kwargs)["RuleArn"]
        targets = _int_fields(
            props.get("Targets", []) or [],
            ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"),
        )
        for target in targets:
            transforms = {"Input", "InputPath", "InputTransformer"} & set(target)
            if transforms:
                raise UnsupportedTemplateFeature(f"{where}: target {sorted(transforms)}")
        if targets:
            target_kwargs: dict[str, Any] = {"Rule": name, "Targets": targets}
            if "EventBusName" in props:
                target_kwargs["EventBusName"] = props["EventBusName"]
            failed = events.put_targets(**target_kwargs).get("FailedEntries", [])
            if failed:
                raise TemplateError(f"{where}: put_targets failed: {failed}")
        bus = str(props.get("EventBusName", "default")).rsplit("/", 1)[-1]
        ref = name if bus == "default" else f"{bus}|{name}"
        return Provisioned(
            logical_id,
            "AWS::Events::Rule",
            ref=ref,
            attributes={"Arn": arn},
            properties=props,
            extra={"name": name, "pattern": pattern, "targets": targets, "event_bus": bus},
        )

    # ------------------------------------------------------------------ skipped types

    def _synthetic(
        self, logical_id: str, resource_type: str, props: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """Ref/GetAtt values for a type that is not provisioned, so references resolve: the
        ones the templates use; any other attribute fails loudly (see _Registry.get_att)."""
        token = _suffix(f"{self.stack_name}/{logical_id}/id", 10).lower()
        if resource_type == "AWS::ApiGatewayV2::Api":
            return token, {}
        if resource_type == "AWS::S3::Bucket":
            name = props.get("BucketName") or self.name(logical_id, 63, lower=True)
            return name, {"Arn": f"arn:{self.partition}:s3:::{name}"}
        name = props.get(_NAME_PROPERTIES.get(resource_type, "Name")) or self.name(logical_id, 64)
        arns = {
            "AWS::Logs::LogGroup": f"log-group:{name}:*",
            "AWS::CloudTrail::Trail": f"trail/{name}",
            "AWS::Config::ConfigRule": f"config-rule/config-rule-{token[:6]}",
        }
        if resource_type in arns:
            service = resource_type.split("::")[1].lower()
            return name, {"Arn": self.arn(service, arns[resource_type])}
        return name, {}


_NAME_PROPERTIES = {
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudTrail::Trail": "TrailName",
    "AWS::Config::ConfigRule": "ConfigRuleName",
    "AWS::CloudWatch::Alarm": "AlarmName",
}

_SUPPORTED_TYPES = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::ManagedPolicy",
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::StepFunctions::StateMachine",
        "AWS::Events::Rule",
        "AWS::Events::EventBus",
    }
)
