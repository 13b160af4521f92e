"""Create resolved CloudFormation resources in moto with boto3.

Each supported type returns what CloudFormation would: the ``Ref`` value (physical id or
ARN, per type) and the ``Fn::GetAtt`` attributes. A short table of types is deliberately
not provisioned (:data:`SKIPPED_RESOURCE_TYPES`, with the reason); they still get
plausible ``Ref``/``GetAtt`` values so other resources can refer to them. Any other type
raises :class:`UnsupportedTemplateFeature`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import TemplateError, UnsupportedTemplateFeature

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

# type -> why it is not provisioned locally. ``AWS::ApiGatewayV2::`` covers the whole family.
SKIPPED_RESOURCE_TYPES: dict[str, str] = {
    "AWS::CloudWatch::Alarm": "no metrics are produced locally, so alarms never fire",
    "AWS::CloudWatch::Dashboard": "dashboards have no behaviour",
    "AWS::Lambda::Permission": (
        "resource policies are not enforced locally; the engine invokes targets itself"
    ),
    "AWS::Lambda::EventInvokeConfig": (
        "async retry/destination settings are not simulated; the engine invokes synchronously"
    ),
    "AWS::Lambda::Url": "no HTTP front door locally; invoke the function directly",
    "AWS::SQS::QueuePolicy": "resource policies are not enforced by moto",
    "AWS::SNS::TopicPolicy": "resource policies are not enforced by moto",
    "AWS::Logs::LogGroup": "function and state machine logs go to stderr locally",
    "AWS::Logs::MetricFilter": "no log ingestion locally",
    "AWS::Logs::SubscriptionFilter": "no log ingestion locally",
    "AWS::Scheduler::Schedule": "no clock locally; the demo/tests invoke the target explicitly",
    "AWS::Scheduler::ScheduleGroup": "no clock locally; schedules are not provisioned",
    "AWS::ApiGatewayV2::": "no HTTP front door locally; invoke the function directly",
    "AWS::Config::ConfigRule": "AWS Config evaluations are not simulated locally",
    "AWS::CloudTrail::Trail": "CloudTrail events are injected with LocalApp.put_event",
    "AWS::S3::Bucket": "only CloudTrail/log storage; nothing in the workflows reads it",
    "AWS::S3::BucketPolicy": "resource policies are not enforced by moto",
    "AWS::KMS::Key": "encryption at rest is not simulated",
    "AWS::KMS::Alias": "encryption at rest is not simulated",
}

_DUMMY_ZIP: bytes


def _make_dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "trailwarden local engine: code runs in-process\n")
    return buffer.getvalue()


_DUMMY_ZIP = _make_dummy_zip()


def skip_reason(resource_type: str) -> str | None:
    if resource_type in SKIPPED_RESOURCE_TYPES:
        return SKIPPED_RESOURCE_TYPES[resource_type]
    for prefix, reason in SKIPPED_RESOURCE_TYPES.items():
        if prefix.endswith("::") and resource_type.startswith(prefix):
            return reason
    return None


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


def _event_pattern(value: Any, where: str) -> dict[str, Any]:
    pattern = json.loads(value) if isinstance(value, str) else value
    if not isinstance(pattern, dict):
        raise TemplateError(f"{where}: EventPattern is not a JSON object")
    return pattern


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
            "AWS::IAM::Policy": self._iam_policy,
            "AWS::IAM::ManagedPolicy": self._iam_managed_policy,
            "AWS::Lambda::Function": self._lambda_function,
            "AWS::Lambda::Version": self._lambda_version,
            "AWS::Lambda::Alias": self._lambda_alias,
            "AWS::Lambda::LayerVersion": self._lambda_layer_version,
            "AWS::SNS::Topic": self._sns_topic,
            "AWS::SNS::Subscription": self._sns_subscription,
            "AWS::SQS::Queue": self._sqs_queue,
            "AWS::DynamoDB::Table": self._dynamodb_table,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Events::Rule": self._events_rule,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::SSM::Parameter": self._ssm_parameter,
        }

    @staticmethod
    def supports(resource_type: str) -> bool:
        return resource_type in _SUPPORTED_TYPES or skip_reason(resource_type) is not None

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

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )

    # ------------------------------------------------------------------ dispatch

    def create(self, logical_id: str, resource_type: str, props: dict[str, Any]) -> Provisioned:
        reason = skip_reason(resource_type)
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
        if "MaxSessionDuration" in props:
            kwargs["MaxSessionDuration"] = int(props["MaxSessionDuration"])
        if props.get("Tags"):
            kwargs["Tags"] = _tags_list(props["Tags"])
        role = iam.create_role(**kwargs)["Role"]
        for policy in props.get("Policies", []) or []:
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=_policy_json(policy["PolicyDocument"]),
            )
        unattached = self._attach_managed(name, props.get("ManagedPolicyArns", []) or [])
        return Provisioned(
            logical_id,
            "AWS::IAM::Role",
            ref=name,
            attributes={"Arn": role["Arn"], "RoleId": role["RoleId"]},
            properties=props,
            extra={"unattached_managed_policies": unattached},
        )

    def _attach_managed(self, role_name: str, arns: list[str]) -> list[str]:
        """Attach managed policies moto knows; AWS-managed ones are only recorded."""
        iam = self.client("iam")
        unattached = []
        for arn in arns:
            if not isinstance(arn, str) or not arn.startswith("arn:"):
                raise TemplateError(
                    f"role {role_name}: managed policy {arn!r} is not an ARN (unknown managed "
                    "policy name? add it to engine.template.MANAGED_POLICY_ARNS)"
                )
            try:
                iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
            except iam.exceptions.NoSuchEntityException:
                unattached.append(arn)  # moto does not load AWS managed policies by default
        return unattached

    def _iam_policy(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        iam = self.client("iam")
        if props.get("Users") or props.get("Groups"):
            raise UnsupportedTemplateFeature(
                f"Resources.{logical_id}: AWS::IAM::Policy on Users/Groups (only Roles)"
            )
        for role in props.get("Roles", []) or []:
            iam.put_role_policy(
                RoleName=role,
                PolicyName=props["PolicyName"],
                PolicyDocument=_policy_json(props["PolicyDocument"]),
            )
        ref = self.name(logical_id, 128)
        return Provisioned(logical_id, "AWS::IAM::Policy", ref, {"Id": ref}, props)

    def _iam_managed_policy(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        iam = self.client("iam")
        kwargs: dict[str, Any] = {
            "PolicyName": props.get("ManagedPolicyName") or self.name(logical_id, 128),
            "PolicyDocument": _policy_json(props["PolicyDocument"]),
            "Path": props.get("Path", "/"),
        }
        if "Description" in props:
            kwargs["Description"] = props["Description"]
        policy = iam.create_policy(**kwargs)["Policy"]
        for role in props.get("Roles", []) or []:
            iam.attach_role_policy(RoleName=role, PolicyArn=policy["Arn"])
        if props.get("Users") or props.get("Groups"):
            raise UnsupportedTemplateFeature(
                f"Resources.{logical_id}: AWS::IAM::ManagedPolicy on Users/Groups (only Roles)"
            )
        attrs = {
            "PolicyArn": policy["Arn"],
            "PolicyId": policy["PolicyId"],
            "DefaultVersionId": policy.get("DefaultVersionId", "v1"),
        }
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
        for key in ("Description", "Architectures", "TracingConfig", "EphemeralStorage", "Layers"):
            if key in props:
                kwargs[key] = _int_fields(props[key], ("Size",))
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

    def _lambda_version(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        version = self.client("lambda").publish_version(FunctionName=props["FunctionName"])
        arn = version["FunctionArn"]
        attrs = {"Version": version["Version"], "FunctionArn": arn}
        return Provisioned(logical_id, "AWS::Lambda::Version", arn, attrs, props)

    def _lambda_alias(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        alias = self.client("lambda").create_alias(
            FunctionName=props["FunctionName"],
            Name=props["Name"],
            FunctionVersion=str(props["FunctionVersion"]),
        )
        arn = alias["AliasArn"]
        return Provisioned(logical_id, "AWS::Lambda::Alias", arn, {"AliasArn": arn}, props)

    # ------------------------------------------------------------------ messaging

    def _sns_topic(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        sns = self.client("sns")
        fifo = _bool(props.get("FifoTopic", False))
        name = props.get("TopicName") or (
            self.name(logical_id, 256 - 5) + ".fifo" if fifo else self.name(logical_id, 256)
        )
        attributes = {
            key: _text(props[key])
            for key in (
                "DisplayName",
                "KmsMasterKeyId",
                "FifoTopic",
                "ContentBasedDeduplication",
                "TracingConfig",
                "SignatureVersion",
            )
            if key in props
        }
        kwargs: dict[str, Any] = {"Name": name, "Attributes": attributes}
        if props.get("Tags"):
            kwargs["Tags"] = _tags_list(props["Tags"])
        arn = sns.create_topic(**kwargs)["TopicArn"]
        for subscription in props.get("Subscription", []) or []:
            sns.subscribe(
                TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"]
            )
        attrs = {"TopicArn": arn, "TopicName": name}
        return Provisioned(logical_id, "AWS::SNS::Topic", arn, attrs, props)

    def _sns_subscription(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        attributes = {
            key: _text(props[key])
            for key in (
                "FilterPolicy",
                "FilterPolicyScope",
                "RawMessageDelivery",
                "RedrivePolicy",
                "DeliveryPolicy",
            )
            if key in props
        }
        kwargs: dict[str, Any] = {
            "TopicArn": props["TopicArn"],
            "Protocol": props["Protocol"],
            "Endpoint": props.get("Endpoint", ""),
            "ReturnSubscriptionArn": True,
        }
        if attributes:
            kwargs["Attributes"] = attributes
        arn = self.client("sns").subscribe(**kwargs)["SubscriptionArn"]
        return Provisioned(logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn}, props)

    def _sqs_queue(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        fifo = _bool(props.get("FifoQueue", False))
        name = props.get("QueueName") or (
            self.name(logical_id, 80 - 5) + ".fifo" if fifo else self.name(logical_id, 80)
        )
        attributes = {
            key: _text(value) for key, value in props.items() if key not in ("QueueName", "Tags")
        }
        kwargs: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if props.get("Tags"):
            kwargs["tags"] = _tags_dict(props["Tags"])
        sqs = self.client("sqs")
        url = sqs.create_queue(**kwargs)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attrs = {"Arn": arn, "QueueName": name, "QueueUrl": url}
        return Provisioned(logical_id, "AWS::SQS::Queue", url, attrs, props)

    # ------------------------------------------------------------------ DynamoDB

    def _dynamodb_table(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        ddb = self.client("dynamodb")
        name = props.get("TableName") or self.name(logical_id, 255)
        capacity = ("ReadCapacityUnits", "WriteCapacityUnits")
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("ProvisionedThroughput", "GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                kwargs[key] = _int_fields(props[key], capacity)
        if "StreamSpecification" in props:
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": props["StreamSpecification"]["StreamViewType"],
            }
        if "SSESpecification" in props:
            sse = props["SSESpecification"]
            spec: dict[str, Any] = {"Enabled": _bool(sse.get("SSEEnabled", False))}
            if "SSEType" in sse:
                spec["SSEType"] = sse["SSEType"]
            if "KMSMasterKeyId" in sse:
                spec["KMSMasterKeyId"] = sse["KMSMasterKeyId"]
            kwargs["SSESpecification"] = spec
        if "TableClass" in props:
            kwargs["TableClass"] = props["TableClass"]
        if "DeletionProtectionEnabled" in props:
            kwargs["DeletionProtectionEnabled"] = _bool(props["DeletionProtectionEnabled"])
        if props.get("Tags"):
            kwargs["Tags"] = _tags_list(props["Tags"])
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
            ddb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={
                    "PointInTimeRecoveryEnabled": _bool(
                        pitr.get("PointInTimeRecoveryEnabled", False)
                    )
                },
            )
        attrs = {"Arn": table["TableArn"]}
        if "LatestStreamArn" in table:
            attrs["StreamArn"] = table["LatestStreamArn"]
        return Provisioned(logical_id, "AWS::DynamoDB::Table", name, attrs, props)

    # ------------------------------------------------------------------ Step Functions

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        where = f"Resources.{logical_id}"
        if "DefinitionS3Location" in props:
            raise UnsupportedTemplateFeature(f"{where}: DefinitionS3Location")
        if "DefinitionString" in props:
            definition = props["DefinitionString"]
        elif "Definition" in props:
            definition = json.dumps(props["Definition"])
        else:
            raise TemplateError(f"{where}: no Definition/DefinitionString")
        if not isinstance(definition, str):
            raise TemplateError(f"{where}: DefinitionString is not a string")
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

    def _events_rule(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        events = self.client("events")
        where = f"Resources.{logical_id}"
        name = props.get("Name") or self.name(logical_id, 64)
        kwargs: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        pattern: dict[str, Any] | None = None
        if "EventPattern" in props:
            pattern = _event_pattern(props["EventPattern"], where)
            if self._pattern_validator is not None:
                self._pattern_validator(pattern)
            kwargs["EventPattern"] = json.dumps(pattern)
        if "ScheduleExpression" in props:
            kwargs["ScheduleExpression"] = props["ScheduleExpression"]
        for key in ("Description", "EventBusName", "RoleArn"):
            if key in props:
                kwargs[key] = props[key]
        arn = events.put_rule(**kwargs)["RuleArn"]
        targets = _int_fields(
            props.get("Targets", []) or [],
            ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"),
        )
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

    def _event_bus(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name = props["Name"]
        arn = self.client("events").create_event_bus(Name=name)["EventBusArn"]
        return Provisioned(
            logical_id, "AWS::Events::EventBus", name, {"Arn": arn, "Name": name}, props
        )

    # ------------------------------------------------------------------ secrets / params

    def _secret(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        sm = self.client("secretsmanager")
        name = props.get("Name") or self.name(logical_id, 512, stack=False)
        kwargs: dict[str, Any] = {"Name": name}
        for key in ("Description", "KmsKeyId"):
            if key in props:
                kwargs[key] = props[key]
        if props.get("Tags"):
            kwargs["Tags"] = _tags_list(props["Tags"])
        generate = props.get("GenerateSecretString")
        if "SecretString" in props:
            kwargs["SecretString"] = props["SecretString"]
        elif generate is not None:
            options: dict[str, Any] = {}
            for key, value in generate.items():
                if key in ("SecretStringTemplate", "GenerateStringKey"):
                    continue
                if key == "PasswordLength":
                    options[key] = int(value)
                elif key == "ExcludeCharacters":
                    options[key] = str(value)
                else:
                    options[key] = _bool(value)
            password = sm.get_random_password(**options)["RandomPassword"]
            if "SecretStringTemplate" in generate:
                document = json.loads(generate["SecretStringTemplate"])
                document[generate["GenerateStringKey"]] = password
                kwargs["SecretString"] = json.dumps(document)
            else:
                kwargs["SecretString"] = password
        arn = sm.create_secret(**kwargs)["ARN"]
        return Provisioned(logical_id, "AWS::SecretsManager::Secret", arn, {"Id": arn}, props)

    def _ssm_parameter(self, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name = props.get("Name") or f"CFN-{self.name(logical_id, 1000, stack=False)}"
        kwargs: dict[str, Any] = {
            "Name": name,
            "Value": _text(props["Value"]),
            "Type": props["Type"],
        }
        for key in ("Description", "AllowedPattern", "Tier", "DataType"):
            if key in props:
                kwargs[key] = props[key]
        self.client("ssm").put_parameter(**kwargs)
        attrs = {"Type": props["Type"], "Value": _text(props["Value"])}
        return Provisioned(logical_id, "AWS::SSM::Parameter", name, attrs, props)

    # ------------------------------------------------------------------ skipped types

    def _synthetic(
        self, logical_id: str, resource_type: str, props: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """Ref/GetAtt values for a type that is not provisioned (so references resolve)."""
        generated = self.name(logical_id, 64)
        token = _suffix(f"{self.stack_name}/{logical_id}/id", 10).lower()
        if resource_type == "AWS::CloudWatch::Alarm":
            name = props.get("AlarmName") or generated
            return name, {"Arn": self.arn("cloudwatch", f"alarm:{name}")}
        if resource_type == "AWS::Logs::LogGroup":
            name = props.get("LogGroupName") or generated
            return name, {"Arn": self.arn("logs", f"log-group:{name}:*")}
        if resource_type == "AWS::Scheduler::Schedule":
            name = props.get("Name") or generated
            group = props.get("GroupName", "default")
            return name, {"Arn": self.arn("scheduler", f"schedule/{group}/{name}")}
        if resource_type == "AWS::Scheduler::ScheduleGroup":
            name = props.get("Name") or generated
            return name, {"Arn": self.arn("scheduler", f"schedule-group/{name}")}
        if resource_type == "AWS::ApiGatewayV2::Api":
            endpoint = f"https://{token}.execute-api.{self.region}.amazonaws.com"
            return token, {"ApiId": token, "ApiEndpoint": endpoint}
        if resource_type == "AWS::ApiGatewayV2::Stage":
            return props.get("StageName") or generated, {}
        if resource_type == "AWS::Lambda::Url":
            url = f"https://{token}.lambda-url.{self.region}.on.aws/"
            target = props.get("TargetFunctionArn")
            return target, {"FunctionArn": target, "FunctionUrl": url}
        if resource_type == "AWS::Config::ConfigRule":
            name = props.get("ConfigRuleName") or generated
            rule_id = f"config-rule-{token[:6]}"
            attrs = {"Arn": self.arn("config", f"config-rule/{rule_id}"), "ConfigRuleId": rule_id}
            return name, attrs
        if resource_type == "AWS::CloudTrail::Trail":
            name = props.get("TrailName") or generated
            return name, {"Arn": self.arn("cloudtrail", f"trail/{name}")}
        if resource_type == "AWS::S3::Bucket":
            name = props.get("BucketName") or self.name(logical_id, 63, lower=True)
            return name, {
                "Arn": f"arn:{self.partition}:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            }
        if resource_type == "AWS::KMS::Key":
            key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack_name}/{logical_id}"))
            return key_id, {"Arn": self.arn("kms", f"key/{key_id}"), "KeyId": key_id}
        if resource_type == "AWS::KMS::Alias":
            return props.get("AliasName") or f"alias/{generated}", {}
        return generated, {}


_SUPPORTED_TYPES = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::Lambda::Function",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        "AWS::Lambda::LayerVersion",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::StepFunctions::StateMachine",
        "AWS::Events::Rule",
        "AWS::Events::EventBus",
        "AWS::SecretsManager::Secret",
        "AWS::SSM::Parameter",
    }
)
