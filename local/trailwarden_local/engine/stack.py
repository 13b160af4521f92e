"""The stack: template.yaml expanded, resolved and provisioned into moto, in dependency order.

:class:`LocalStack` is what CloudFormation does for the app: it expands the SAM transform,
validates the parameters, evaluates the Conditions, refuses any resource type the engine
cannot create, then creates each resource (intrinsics resolved against those created
before it) and records what the runtime, the bus and the tests need: functions, state
machines, rules, outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import TemplateError, UnsupportedTemplateFeature
from .lambda_runtime import LocalFunction
from .provision import Provisioned, Provisioner
from .resolver import prepare, referenced_resources

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path


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


class LocalStack:
    """The template, checked at construction (no AWS needed) and provisioned on demand."""

    def __init__(
        self,
        template_path: Path,
        parameters: Mapping[str, str],
        *,
        region: str,
        account_id: str,
        stack_name: str,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        prepared = prepare(
            template_path, parameters, region=region, account_id=account_id, stack_name=stack_name
        )
        self.partition: str = prepared.pseudo["AWS::Partition"]
        self.parameters = prepared.parameters
        self.code_dirs = prepared.code_dirs
        self.translated_template: dict[str, Any] = prepared.translated
        resources: dict[str, Any] = self.translated_template.get("Resources", {})
        self._registry = _Registry(resources, set())
        self._resolver = prepared.resolver(self._registry)
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

    def provision(
        self, session: Any, pattern_validator: Callable[[Mapping[str, Any]], object]
    ) -> None:
        """Create every active resource in moto (through ``session``), in dependency order."""
        resources = self.translated_template.get("Resources", {})
        provisioner = Provisioner(
            session=session,
            region=self.region,
            account_id=self.account_id,
            partition=self.partition,
            stack_name=self.stack_name,
            code_dirs=self.code_dirs,
            pattern_validator=pattern_validator,
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
