"""``LocalApp``: the real SAM template, provisioned into moto, with handlers run in-process.

Typical use::

    with LocalApp("template.yaml", parameters={"Language": "ko"}) as app:
        (delivery,) = app.put_event(cloudtrail_event)
        result = app.wait_for_execution(delivery.execution_arn)

or, inside a ``moto.mock_aws(config=LocalApp.MOTO_CONFIG)`` the caller started,
``LocalApp(..., start_mock=False)``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    EngineStateError,
    TemplateError,
    UnsupportedTemplateFeature,
)
from .intrinsics import Resolver, referenced_resources
from .lambda_runtime import (
    InvocationRecord,
    LambdaRuntime,
    LocalFunction,
    base_environment,
)
from .parameters import parameter_ref_value, resolve_parameters
from .provision import Provisioned, Provisioner
from .recorder import OperationRecorder
from .template import expand_template, load_template_file

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

LOG = logging.getLogger("trailwarden_local.engine")

_DEFAULT_MOTO_ACCOUNT = "123456789012"
_POLL_SECONDS = 0.01
_EXECUTION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class LocalStateMachine:
    logical_id: str
    name: str
    arn: str
    definition: dict[str, Any]
    substitutions: dict[str, Any]
    role_arn: str


@dataclass(frozen=True)
class LocalRule:
    logical_id: str
    name: str
    arn: str
    pattern: dict[str, Any] | None
    targets: list[dict[str, Any]]
    state: str
    event_bus: str


@dataclass(frozen=True)
class SkippedResource:
    logical_id: str
    type: str
    reason: str


@dataclass(frozen=True)
class Delivery:
    """One rule target an event was delivered to by :meth:`LocalApp.put_event`."""

    rule_logical_id: str | None  # None for a rule not from the template
    rule_name: str
    target_id: str
    target_arn: str
    kind: str  # "stepfunctions" | "lambda" | "sqs" | "sns"
    input: Any
    execution_arn: str | None = None
    lambda_result: Any = None
    function_error: str | None = None
    error: str | None = None
    dead_lettered: bool = False


@dataclass(frozen=True)
class InvokeResult:
    payload: Any
    function_error: str | None


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class _Registry:
    """Provisioned resources, as the intrinsic resolver sees them."""

    def __init__(self, resources: Mapping[str, Any], active: set[str]) -> None:
        self.resources = resources
        self.active = active
        self.provisioned: dict[str, Provisioned] = {}

    def has_resource(self, logical_id: str) -> bool:
        return logical_id in self.resources

    def _get(self, logical_id: str, what: str) -> Provisioned:
        if logical_id not in self.active:
            raise TemplateError(f"{what} to {logical_id}, whose Condition is false")
        if logical_id not in self.provisioned:
            raise TemplateError(f"{what} to {logical_id} before it exists")
        return self.provisioned[logical_id]

    def ref(self, logical_id: str) -> Any:
        return self._get(logical_id, "Ref").ref

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self._get(logical_id, "Fn::GetAtt")
        if attribute not in resource.attributes:
            raise UnsupportedTemplateFeature(
                f"Fn::GetAtt {logical_id}.{attribute} ({resource.type}): attribute not supported"
                f" locally (have {sorted(resource.attributes)})"
            )
        return resource.attributes[attribute]


def _dependency_order(resources: Mapping[str, Any], active: set[str]) -> list[str]:
    ids = set(resources)
    deps: dict[str, set[str]] = {}
    for logical_id in resources:
        if logical_id not in active:
            continue
        body = resources[logical_id]
        found = referenced_resources(body.get("Properties", {}), ids)
        depends_on = body.get("DependsOn", [])
        found.update([depends_on] if isinstance(depends_on, str) else depends_on)
        unknown = found - ids
        if unknown:
            raise TemplateError(f"Resources.{logical_id}: depends on unknown {sorted(unknown)}")
        deps[logical_id] = (found & active) - {logical_id}
    order: list[str] = []
    done: set[str] = set()
    visiting: list[str] = []

    def visit(logical_id: str) -> None:
        if logical_id in done:
            return
        if logical_id in visiting:
            cycle = [*visiting[visiting.index(logical_id) :], logical_id]
            raise TemplateError(f"circular dependency between resources: {' -> '.join(cycle)}")
        visiting.append(logical_id)
        for dep in sorted(deps[logical_id], key=list(resources).index):
            visit(dep)
        visiting.pop()
        done.add(logical_id)
        order.append(logical_id)

    for logical_id in deps:
        visit(logical_id)
    return order


def _memoise_asl_validation() -> None:
    """Validate each distinct state-machine definition once per process.

    moto parses every definition with its ANTLR grammar on create (about a quarter of a
    second each); the validation is a pure function of the text, and every app the tests
    and the demo provision creates the same few definitions again. Only successes are
    remembered, so an invalid definition still fails every time.
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    validate = StepFunctionsParserBackend._validate_definition
    if getattr(validate, "_trailwarden_memoised", False):
        return
    valid: set[str] = set()

    def memoised(definition: str) -> None:
        if definition not in valid:
            validate(definition=definition)
            valid.add(definition)

    memoised._trailwarden_memoised = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend._validate_definition = staticmethod(memoised)  # type: ignore[method-assign]


class LocalApp:
    """The app of ``template_path`` provisioned in moto; see the module docstring."""

    MOTO_CONFIG: Mapping[str, Any] = {
        "stepfunctions": {"execute_state_machine": True},
        "lambda": {"use_docker": False},
    }

    def __init__(
        self,
        template_path: str | os.PathLike[str],
        parameters: Mapping[str, str] | None = None,
        region: str = "us-east-1",
        account_id: str = _DEFAULT_MOTO_ACCOUNT,
        function_env_overrides: Mapping[str, str] | None = None,
        start_mock: bool = True,
        *,
        stack_name: str = "trailwarden-local",
        shutdown_timeout: float = 10.0,
        code_root: str | os.PathLike[str] | None = None,
    ) -> None:
        """``code_root``: run the built code (``sam build``'s ``.aws-sam/build``: one folder
        per function logical id) instead of the CodeUri folders; see LambdaRuntime."""
        self.template_path = Path(template_path).resolve()
        self.code_root = Path(code_root).resolve() if code_root is not None else None
        self.region = region
        self.account_id = account_id
        self.partition = _partition(region)
        self.stack_name = stack_name
        self.function_env_overrides = dict(function_env_overrides or {})
        self.start_mock = start_mock
        self.shutdown_timeout = shutdown_timeout

        source = load_template_file(self.template_path)
        declared = source.get("Parameters") or {}
        self.parameters: dict[str, str] = resolve_parameters(declared, parameters or {})
        self._pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": self.partition,
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/"
                f"{uuid.uuid5(uuid.NAMESPACE_URL, stack_name)}"
            ),
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        sam_values = {
            **self.parameters,
            **{k: v for k, v in self._pseudo.items() if k != "AWS::NotificationARNs"},
        }
        self._loaded = expand_template(
            self.template_path, source, parameter_values=sam_values, region=region
        )
        self.translated_template: dict[str, Any] = self._loaded.translated
        resources: dict[str, Any] = self.translated_template.get("Resources", {})
        self._registry = _Registry(resources, set())
        self._resolver = Resolver(
            parameters={
                name: parameter_ref_value(declared[name], value)
                for name, value in self.parameters.items()
            },
            pseudo=self._pseudo,
            conditions=self.translated_template.get("Conditions", {}) or {},
            resources=self._registry,
        )
        self.conditions: dict[str, bool] = self._resolver.all_conditions()
        self.inactive_resources: set[str] = set()
        for logical_id, body in resources.items():
            condition = body.get("Condition")
            if condition is not None and not self._resolver.condition(
                condition, f"Resources.{logical_id}.Condition"
            ):
                self.inactive_resources.add(logical_id)
            elif not Provisioner.supports(str(body.get("Type"))):
                raise UnsupportedTemplateFeature(
                    f"Resources.{logical_id}: resource type {body.get('Type')} is not supported "
                    "locally"
                )
        self._registry.active = set(resources) - self.inactive_resources
        self._order = _dependency_order(resources, self._registry.active)

        self.functions: dict[str, LocalFunction] = {}
        self.state_machines: dict[str, LocalStateMachine] = {}
        self.rules: dict[str, LocalRule] = {}
        self.skipped_resources: dict[str, SkippedResource] = {}
        self.outputs: dict[str, Any] = {}
        self.expanded_template: dict[str, Any] = {}
        self._recorder = OperationRecorder()
        self._runtime: LambdaRuntime | None = None
        self._mock: Any = None
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._executions: list[str] = []
        self._matchers: dict[str, Callable[[Mapping[str, Any]], bool]] = {}
        self._previous_moto_account: str | None = None
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LocalApp:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalApp:
        """Start (or join) the moto mock, install the runtime and provision everything."""
        if self._started:
            raise EngineStateError("LocalApp already started")
        if self.start_mock:
            import moto

            config: Any = {key: dict(value) for key, value in self.MOTO_CONFIG.items()}
            self._mock = moto.mock_aws(config=config)
            self._mock.start()
        try:
            self._check_mock()
            self._started = True
            if self.account_id != _DEFAULT_MOTO_ACCOUNT:
                self._previous_moto_account = os.environ.get("MOTO_ACCOUNT_ID")
                os.environ["MOTO_ACCOUNT_ID"] = self.account_id
            import boto3

            self._session = boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
                region_name=self.region,
            )
            self._recorder.install()
            self._runtime = LambdaRuntime(
                functions=self.functions,
                base_env=base_environment(os.environ, self.region),
                overrides=self.function_env_overrides,
                recorder=self._recorder,
                code_root=self.code_root,
            )
            self._runtime.install(self._loaded.code_dirs)
            _memoise_asl_validation()
            self._provision()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_mock(self) -> None:
        from moto.core.config import default_user_config
        from moto.core.models import botocore_stubber

        if not botocore_stubber.enabled:
            raise EngineStateError(
                "no moto mock is active: use LocalApp(start_mock=True) or start "
                "moto.mock_aws(config=LocalApp.MOTO_CONFIG) first"
            )
        sfn = default_user_config.get("stepfunctions", {}).get("execute_state_machine", False)
        docker = default_user_config.get("lambda", {}).get("use_docker", True)
        if not sfn or docker:
            raise EngineStateError(
                "the active moto mock must use config=LocalApp.MOTO_CONFIG "
                '({"stepfunctions": {"execute_state_machine": True}, '
                '"lambda": {"use_docker": False}})'
            )

    def stop(self) -> None:
        """Let executions finish (bounded), restore everything patched, stop our mock."""
        try:
            if self._started and self._session is not None:
                self._drain_executions()
        finally:
            if self._runtime is not None:
                self._runtime.uninstall()
                self._runtime = None
            self._recorder.uninstall()
            if self.account_id != _DEFAULT_MOTO_ACCOUNT and self._started:
                if self._previous_moto_account is None:
                    os.environ.pop("MOTO_ACCOUNT_ID", None)
                else:
                    os.environ["MOTO_ACCOUNT_ID"] = self._previous_moto_account
            self._clients.clear()
            self._session = None
            self._started = False
            if self._mock is not None:
                self._mock.stop()
                self._mock = None

    def _drain_executions(self) -> None:
        from moto.core.models import botocore_stubber

        if not botocore_stubber.enabled:
            LOG.warning("moto mock already stopped: cannot wait for running executions")
            return
        sfn = self.client("stepfunctions")
        running: set[str] = set(self._executions)
        for machine in self.state_machines.values():
            paginator = sfn.get_paginator("list_executions")
            for page in paginator.paginate(stateMachineArn=machine.arn, statusFilter="RUNNING"):
                running.update(e["executionArn"] for e in page["executions"])
        deadline = time.monotonic() + self.shutdown_timeout
        for arn in sorted(running):
            while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                if time.monotonic() > deadline:
                    LOG.warning("stopping execution %s: still RUNNING at shutdown", arn)
                    sfn.stop_execution(executionArn=arn, cause="LocalApp shutting down")
                    break
                time.sleep(_POLL_SECONDS)

    # ------------------------------------------------------------------ provisioning

    def _provision(self) -> None:
        resources = self.translated_template.get("Resources", {})
        provisioner = Provisioner(
            session=self._session,
            region=self.region,
            account_id=self.account_id,
            partition=self.partition,
            stack_name=self.stack_name,
            code_dirs=self._loaded.code_dirs,
            pattern_validator=self._matcher,
        )
        expanded: dict[str, Any] = {}
        for logical_id in self._order:
            body = resources[logical_id]
            where = f"Resources.{logical_id}.Properties"
            props = self._resolver.resolve(body.get("Properties", {}) or {}, where)
            provisioned = provisioner.create(logical_id, str(body["Type"]), props)
            self._registry.provisioned[logical_id] = provisioned
            expanded[logical_id] = {"Type": body["Type"], "Properties": props}
            self._register(provisioned, body)
        self.outputs = {}
        for name, output in (self.translated_template.get("Outputs") or {}).items():
            condition = output.get("Condition")
            if condition is not None and not self._resolver.condition(condition):
                continue
            self.outputs[name] = self._resolver.resolve(output.get("Value"), f"Outputs.{name}")
        self.expanded_template = {
            "Parameters": dict(self.parameters),
            "Conditions": dict(self.conditions),
            "Resources": {lid: expanded[lid] for lid in resources if lid in expanded},
            "Outputs": dict(self.outputs),
        }

    def _register(self, provisioned: Provisioned, body: Mapping[str, Any]) -> None:
        lid, props = provisioned.logical_id, provisioned.properties
        if provisioned.skipped is not None:
            self.skipped_resources[lid] = SkippedResource(
                lid, provisioned.type, provisioned.skipped
            )
        elif provisioned.type == "AWS::Lambda::Function":
            role = (body.get("Properties") or {}).get("Role")
            role_lid = None
            if isinstance(role, dict) and "Fn::GetAtt" in role:
                target = role["Fn::GetAtt"]
                role_lid = target[0] if isinstance(target, list) else str(target).split(".")[0]
            self.functions[lid] = LocalFunction(
                logical_id=lid,
                physical_name=provisioned.ref,
                arn=provisioned.attributes["Arn"],
                handler=props["Handler"],
                environment=provisioned.extra["environment"],
                role_logical_id=role_lid,
                role_arn=props["Role"],
                code_dir=provisioned.extra["code_dir"],
                timeout=int(props.get("Timeout", 3)),
                memory_size=int(props.get("MemorySize", 128)),
                runtime=str(props.get("Runtime", "python3.12")),
            )
        elif provisioned.type == "AWS::StepFunctions::StateMachine":
            self.state_machines[lid] = LocalStateMachine(
                logical_id=lid,
                name=provisioned.attributes["Name"],
                arn=provisioned.ref,
                definition=provisioned.extra["definition"],
                substitutions=provisioned.extra["substitutions"],
                role_arn=props["RoleArn"],
            )
        elif provisioned.type == "AWS::Events::Rule":
            self.rules[lid] = LocalRule(
                logical_id=lid,
                name=provisioned.extra["name"],
                arn=provisioned.attributes["Arn"],
                pattern=provisioned.extra["pattern"],
                targets=provisioned.extra["targets"],
                state=str(props.get("State", "ENABLED")),
                event_bus=provisioned.extra["event_bus"],
            )

    # ------------------------------------------------------------------ introspection

    def _require_started(self) -> None:
        if not self._started:
            raise EngineStateError("LocalApp is not started (use it as a context manager)")

    def client(self, service: str) -> Any:
        """A boto3 client for the mocked account/region (cached)."""
        self._require_started()
        if service not in self._clients:
            assert self._runtime is not None  # started
            with self._runtime.environment_lock:  # approval-server threads build clients too
                self._clients[service] = self._session.client(service)
        return self._clients[service]

    def resource(self, logical_id: str) -> Any:
        """What ``Ref`` returns for the resource (physical id or ARN, per type)."""
        if logical_id in self.inactive_resources:
            raise KeyError(f"{logical_id} is not created (its Condition is false)")
        if logical_id not in self._registry.provisioned:
            raise KeyError(f"no resource {logical_id!r}")
        return self._registry.provisioned[logical_id].ref

    def attribute(self, logical_id: str, attribute: str) -> Any:
        """What ``Fn::GetAtt`` returns."""
        return self._registry.get_att(logical_id, attribute)

    @property
    def resources(self) -> dict[str, Provisioned]:
        return dict(self._registry.provisioned)

    def operations_by_function(self) -> dict[str, set[str]]:
        """IAM actions each function called so far (every function, empty if none)."""
        recorded = self._recorder.operations_by_function()
        return {lid: recorded.get(lid, set()) for lid in self.functions} | recorded

    def operation_calls(self) -> list[tuple[str, str]]:
        """Every recorded call in order, as (function logical id, action)."""
        return self._recorder.calls()

    def reset_operations(self) -> None:
        self._recorder.clear()

    @property
    def invocations(self) -> list[InvocationRecord]:
        return list(self._runtime.invocations) if self._runtime else []

    def _role_statements(self, role_lid: str) -> list[Mapping[str, Any]]:
        resources = self.expanded_template.get("Resources", {})
        role = resources.get(role_lid, {})
        documents = [p["PolicyDocument"] for p in role.get("Properties", {}).get("Policies", [])]
        role_name = self._registry.provisioned[role_lid].ref
        for body in resources.values():
            if body["Type"] == "AWS::IAM::Policy" and role_name in body["Properties"].get(
                "Roles", []
            ):
                documents.append(body["Properties"]["PolicyDocument"])
        statements: list[Mapping[str, Any]] = []
        for document in documents:
            found = document.get("Statement", [])
            statements.extend([found] if isinstance(found, dict) else found)
        return statements

    def granted_actions(self, function_logical_id: str) -> list[tuple[str, Any]]:
        """(action, Resource) for every Allow statement of the function role's policies."""
        function = self.functions[function_logical_id]
        if function.role_logical_id is None:
            raise TemplateError(f"{function_logical_id}: role is not a resource of the template")
        granted: list[tuple[str, Any]] = []
        for statement in self._role_statements(function.role_logical_id):
            if statement.get("Effect") != "Allow" or "Action" not in statement:
                continue
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                granted.append((action, statement.get("Resource")))
        return granted

    def managed_policy_arns(self, function_logical_id: str) -> list[str]:
        function = self.functions[function_logical_id]
        if function.role_logical_id is None:
            return []
        role = self.expanded_template["Resources"][function.role_logical_id]
        return list(role["Properties"].get("ManagedPolicyArns", []))

    # ------------------------------------------------------------------ events

    def _matcher(self, pattern: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
        key = json.dumps(pattern, sort_keys=True)
        if key not in self._matchers:
            from ..patterns import compile_pattern

            self._matchers[key] = compile_pattern(pattern)
        return self._matchers[key]

    def _envelope(self, event: Mapping[str, Any]) -> dict[str, Any]:
        full = dict(event)
        full.setdefault("version", "0")
        full.setdefault("id", str(uuid.uuid4()))
        full.setdefault("time", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        full.setdefault("region", self.region)
        full.setdefault("account", self.account_id)
        full.setdefault("resources", [])
        return full

    def put_event(
        self, event: Mapping[str, Any], *, event_bus_name: str = "default"
    ) -> list[Delivery]:
        """Route ``event`` like EventBridge: every ENABLED rule (read from moto) that matches.

        Missing envelope fields (id, time, region, account, version, resources) are filled
        in as EventBridge does. State machine targets start an execution (returned, not
        awaited); Lambda targets are invoked through moto (so the handler runs now).
        """
        self._require_started()
        full = self._envelope(event)
        events = self.client("events")
        by_name = {rule.name: rule.logical_id for rule in self.rules.values()}
        deliveries: list[Delivery] = []
        for page in events.get_paginator("list_rules").paginate(EventBusName=event_bus_name):
            for rule in page["Rules"]:
                if not str(rule.get("State", "")).startswith("ENABLED"):
                    continue
                if not rule.get("EventPattern"):
                    continue  # scheduled rule
                if not self._matcher(json.loads(rule["EventPattern"]))(full):
                    continue
                targets = events.list_targets_by_rule(
                    Rule=rule["Name"], EventBusName=event_bus_name
                )["Targets"]
                for target in targets:
                    deliveries.append(self._deliver(rule, by_name.get(rule["Name"]), target, full))
        return deliveries

    def _execution_name(self, rule_name: str) -> str:
        prefix = _EXECUTION_NAME_UNSAFE.sub("-", rule_name)[:47]
        return f"{prefix}-{uuid.uuid4().hex}"

    def _deliver(
        self,
        rule: Mapping[str, Any],
        rule_lid: str | None,
        target: Mapping[str, Any],
        event: Mapping[str, Any],
    ) -> Delivery:
        from botocore.exceptions import ClientError

        arn = str(target["Arn"])
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        kinds = {"states": "stepfunctions", "lambda": "lambda", "sqs": "sqs", "sns": "sns"}
        if service not in kinds:
            raise UnsupportedTemplateFeature(
                f"rule {rule['Name']}: target {arn} (only Step Functions, Lambda, SQS and SNS "
                "targets are delivered locally)"
            )
        transforms = {"Input", "InputPath", "InputTransformer"} & set(target)
        if transforms:
            raise UnsupportedTemplateFeature(f"rule {rule['Name']}: target {sorted(transforms)}")
        payload = event
        base = {
            "rule_logical_id": rule_lid,
            "rule_name": rule["Name"],
            "target_id": target["Id"],
            "target_arn": arn,
            "kind": kinds[service],
            "input": payload,
        }
        try:
            if service == "states":
                execution_arn = self.client("stepfunctions").start_execution(
                    stateMachineArn=arn,
                    name=self._execution_name(rule["Name"]),
                    input=json.dumps(payload),
                )["executionArn"]
                self._executions.append(execution_arn)
                return Delivery(**base, execution_arn=execution_arn)
            if service == "lambda":
                result = self.invoke(arn, payload)
                return Delivery(
                    **base, lambda_result=result.payload, function_error=result.function_error
                )
            if service == "sqs":
                self.client("sqs").send_message(
                    QueueUrl=self._queue_url(arn), MessageBody=json.dumps(payload)
                )
            else:
                self.client("sns").publish(TopicArn=arn, Message=json.dumps(payload))
            return Delivery(**base)
        except ClientError as exc:
            dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
            if dlq:
                self.client("sqs").send_message(
                    QueueUrl=self._queue_url(dlq),
                    MessageBody=json.dumps(event),
                    MessageAttributes={
                        "RULE_ARN": {"DataType": "String", "StringValue": rule["Arn"]},
                        "TARGET_ARN": {"DataType": "String", "StringValue": arn},
                        "ERROR_CODE": {
                            "DataType": "String",
                            "StringValue": exc.response["Error"].get("Code", "Error"),
                        },
                    },
                )
            LOG.warning("delivery of %s to %s failed: %s", rule["Name"], arn, exc)
            return Delivery(**base, error=str(exc), dead_lettered=bool(dlq))

    def _queue_url(self, queue_arn: str) -> str:
        _, _, _, _, account, name = queue_arn.split(":", 5)
        url: str = self.client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
            "QueueUrl"
        ]
        return url

    # ------------------------------------------------------------------ functions

    def invoke(self, function: str, event: Any) -> InvokeResult:
        """Invoke a function (logical id, name or ARN) through moto's Lambda API."""
        self._require_started()
        name = self.functions[function].arn if function in self.functions else function
        response = self.client("lambda").invoke(
            FunctionName=name, Payload=json.dumps(event).encode("utf-8")
        )
        raw = response["Payload"].read()
        payload = json.loads(raw) if raw else None
        return InvokeResult(payload, response.get("FunctionError"))

    # ------------------------------------------------------------------ executions

    @property
    def executions(self) -> list[str]:
        """ARNs of the executions :meth:`put_event` started, in order."""
        return list(self._executions)

    def wait_for_execution(self, execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll until the execution leaves RUNNING; return ``describe_execution``."""
        self._require_started()
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            description: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if description["status"] not in ("RUNNING", "PENDING_REDRIVE"):
                return description
            if time.monotonic() > deadline:
                entered = [
                    e["stateEnteredEventDetails"]["name"]
                    for e in self.execution_history(execution_arn)
                    if "stateEnteredEventDetails" in e
                ]
                raise TimeoutError(
                    f"execution {execution_arn} still RUNNING after {timeout}s; "
                    f"states entered: {entered}"
                )
            time.sleep(_POLL_SECONDS)

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        self._require_started()
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def state_transitions(self, execution_arn: str) -> int:
        """How many states the execution entered (billing's state transitions)."""
        return sum(
            1 for e in self.execution_history(execution_arn) if e["type"].endswith("StateEntered")
        )

    def first_task_output(self, execution_arn: str) -> dict[str, Any]:
        """The first task's result (for this app's workflows: Assess's Finding)."""
        for event in self.execution_history(execution_arn):
            for key in ("lambdaFunctionSucceededEventDetails", "taskSucceededEventDetails"):
                details = event.get(key)
                if details and "output" in details:
                    output = json.loads(details["output"])
                    return output if isinstance(output, dict) else {}
        return {}

    def entered_states(self, execution_arn: str) -> list[str]:
        """Names of the states the execution entered, in order."""
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.execution_history(execution_arn)
            if "stateEnteredEventDetails" in e
        ]


__all__ = [
    "Delivery",
    "InvokeResult",
    "LocalApp",
    "LocalRule",
    "LocalStateMachine",
    "SkippedResource",
]
