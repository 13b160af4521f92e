"""One offline resolver for the engine and replay: parameters, pseudo parameters,
Conditions and the intrinsic functions of a SAM-expanded template.

:func:`prepare` loads a template, validates the parameters like CloudFormation, expands
the SAM transform and returns a :class:`PreparedTemplate`; its :meth:`~PreparedTemplate.resolver`
resolves intrinsics against whatever names the resources have: the provisioned ones
(the engine) or the names CloudFormation would generate (replay, tests).

Intrinsics supported: what the app's templates use after the SAM transform: ``Ref``
(parameters, pseudo parameters, resources), ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``,
``Fn::If``, ``Fn::Equals`` / ``Fn::Not`` / ``Fn::And`` / ``Fn::Or`` / ``Condition`` and
``AWS::NoValue``. Anything else raises :class:`UnsupportedTemplateFeature`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ParameterError, TemplateError, UnsupportedTemplateFeature
from .template import expand_template, load_template_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:[^}]*\}\}")

CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or")


class ResourceLookup(Protocol):
    """What the resolver needs to know about resources (the engine's registry)."""

    def has_resource(self, logical_id: str) -> bool: ...

    def ref(self, logical_id: str) -> Any: ...

    def get_att(self, logical_id: str, attribute: str) -> Any: ...


def is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key == "Ref" or (isinstance(key, str) and key.startswith("Fn::"))


def referenced_resources(value: Any, resource_ids: set[str]) -> set[str]:
    """Logical ids that ``value`` refers to via Ref / GetAtt / Sub (for dependency order)."""
    found: set[str] = set()

    def sub_names(text: str) -> Iterator[str]:
        for match in _SUB_VAR.finditer(text):
            name = match.group(1).strip()
            if not name.startswith("!"):
                yield name.split(".", 1)[0]

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if is_intrinsic(node):
            key, arg = next(iter(node.items()))
            if key == "Ref" and isinstance(arg, str) and arg in resource_ids:
                found.add(arg)
            elif key == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) and arg else arg
                if isinstance(target, str):
                    target = target.split(".", 1)[0]
                    if target in resource_ids:
                        found.add(target)
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) and arg else arg
                local_vars = arg[1] if isinstance(arg, list) and len(arg) > 1 else {}
                if isinstance(text, str):
                    found.update(
                        name
                        for name in sub_names(text)
                        if name in resource_ids
                        and not (isinstance(local_vars, dict) and name in local_vars)
                    )
        for child in node.values():
            walk(child)

    walk(value)
    return found


class Resolver:
    """Resolves intrinsics in template fragments.

    ``parameters`` maps parameter names to the value ``Ref`` returns; ``pseudo`` maps pseudo
    parameter names (``AWS::Region``...). Conditions are evaluated lazily and memoised.
    """

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, Any],
        conditions: Mapping[str, Any],
        resources: ResourceLookup,
    ) -> None:
        self._parameters = dict(parameters)
        self._pseudo = dict(pseudo)
        self._condition_defs = dict(conditions)
        self._resources = resources
        self._condition_values: dict[str, bool] = {}
        self._evaluating: list[str] = []
        self._handlers: dict[str, Callable[[Any, str], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::Not": self._not,
            "Fn::And": self._and,
            "Fn::Or": self._or,
        }

    # ------------------------------------------------------------------ public

    def resolve(self, value: Any, where: str) -> Any:
        """Resolve every intrinsic in ``value``; ``AWS::NoValue`` removes keys/items."""
        if isinstance(value, dict):
            if is_intrinsic(value):
                key, arg = next(iter(value.items()))
                handler = self._handlers.get(key)
                if handler is None:
                    raise UnsupportedTemplateFeature(f"{where}: intrinsic function {key}")
                return handler(arg, where)
            resolved_dict: dict[str, Any] = {}
            for key, item in value.items():
                result = self.resolve(item, f"{where}.{key}")
                if result is not NO_VALUE:
                    resolved_dict[key] = result
            return resolved_dict
        if isinstance(value, list):
            resolved_list = []
            for index, item in enumerate(value):
                result = self.resolve(item, f"{where}[{index}]")
                if result is not NO_VALUE:
                    resolved_list.append(result)
            return resolved_list
        if isinstance(value, str) and _DYNAMIC_REFERENCE.search(value):
            raise UnsupportedTemplateFeature(f"{where}: dynamic reference {value!r}")
        return value

    def condition(self, name: str, where: str = "Conditions") -> bool:
        """The value of the named Condition (evaluated once)."""
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self._condition_defs:
            raise TemplateError(f"{where}: unknown Condition {name!r}")
        if name in self._evaluating:
            raise TemplateError(f"Conditions: circular reference {[*self._evaluating, name]}")
        self._evaluating.append(name)
        try:
            value = self._condition_expr(self._condition_defs[name], f"Conditions.{name}")
        finally:
            self._evaluating.pop()
        self._condition_values[name] = value
        return value

    def all_conditions(self) -> dict[str, bool]:
        return {name: self.condition(name) for name in self._condition_defs}

    # ------------------------------------------------------------------ helpers

    def _condition_expr(self, expr: Any, where: str) -> bool:
        if isinstance(expr, dict) and len(expr) == 1 and "Condition" in expr:
            name = expr["Condition"]
            if not isinstance(name, str):
                raise TemplateError(f"{where}: Condition needs a name, not {name!r}")
            return self.condition(name, where)
        if isinstance(expr, dict) and len(expr) == 1 and next(iter(expr)) in CONDITION_FUNCTIONS:
            result = self.resolve(expr, where)
        elif isinstance(expr, bool):
            result = expr
        elif isinstance(expr, str) and expr.lower() in ("true", "false"):
            result = expr.lower() == "true"
        else:
            raise TemplateError(f"{where}: {expr!r} is not a condition")
        if not isinstance(result, bool):
            raise TemplateError(f"{where}: {expr!r} did not evaluate to a boolean")
        return result

    def _args(self, fn: str, arg: Any, count: int | tuple[int, ...], where: str) -> list[Any]:
        counts = (count,) if isinstance(count, int) else count
        if not isinstance(arg, list) or len(arg) not in counts:
            raise TemplateError(f"{where}: {fn} takes a list of {counts} items, got {arg!r}")
        return arg

    def _text(self, value: Any, fn: str, where: str) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        raise TemplateError(f"{where}: {fn} needs a string, got {value!r}")

    def _name(self, value: Any, fn: str, where: str) -> str:
        resolved = self.resolve(value, where)
        if not isinstance(resolved, str):
            raise TemplateError(f"{where}: {fn} needs a name, got {resolved!r}")
        return resolved

    # ------------------------------------------------------------------ intrinsics

    def _ref(self, arg: Any, where: str) -> Any:
        if not isinstance(arg, str):
            raise TemplateError(f"{where}: Ref needs a name, got {arg!r}")
        if arg == "AWS::NoValue":
            return NO_VALUE
        if arg in self._pseudo:
            return self._pseudo[arg]
        if arg.startswith("AWS::"):
            raise UnsupportedTemplateFeature(f"{where}: pseudo parameter {arg}")
        if arg in self._parameters:
            return self._parameters[arg]
        if self._resources.has_resource(arg):
            return self._resources.ref(arg)
        raise TemplateError(f"{where}: Ref to unknown parameter or resource {arg!r}")

    def _get_att(self, arg: Any, where: str) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        parts = self._args("Fn::GetAtt", arg, 2, where)
        logical_id = parts[0]
        attribute = self._name(parts[1], "Fn::GetAtt", where)
        if not isinstance(logical_id, str) or not self._resources.has_resource(logical_id):
            raise TemplateError(f"{where}: Fn::GetAtt on unknown resource {logical_id!r}")
        return self._resources.get_att(logical_id, attribute)

    def _sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, str):
            text, local_vars = arg, {}
        else:
            text, local_vars = self._args("Fn::Sub", arg, 2, where)
            if not isinstance(text, str) or not isinstance(local_vars, dict):
                raise TemplateError(f"{where}: Fn::Sub takes [string, mapping], got {arg!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in local_vars:
                value = self.resolve(local_vars[name], f"{where}.{name}")
            elif name in self._pseudo or name in self._parameters:
                value = self._ref(name, where)
            elif "." in name and self._resources.has_resource(name.split(".", 1)[0]):
                logical_id, attribute = name.split(".", 1)
                value = self._resources.get_att(logical_id, attribute)
            elif self._resources.has_resource(name):
                value = self._resources.ref(name)
            elif name.startswith("AWS::"):
                raise UnsupportedTemplateFeature(f"{where}: pseudo parameter {name}")
            else:
                raise TemplateError(f"{where}: Fn::Sub variable ${{{name}}} is not defined")
            return self._text(value, f"Fn::Sub ${{{name}}}", where)

        return _SUB_VAR.sub(replace, text)

    def _join(self, arg: Any, where: str) -> str:
        delimiter, items = self._args("Fn::Join", arg, 2, where)
        delimiter = self.resolve(delimiter, where)
        items = self.resolve(items, where)
        if not isinstance(delimiter, str) or not isinstance(items, list):
            raise TemplateError(f"{where}: Fn::Join takes [delimiter, list], got {arg!r}")
        return delimiter.join(self._text(item, "Fn::Join", where) for item in items)

    def _if(self, arg: Any, where: str) -> Any:
        name, if_true, if_false = self._args("Fn::If", arg, 3, where)
        if not isinstance(name, str):
            raise TemplateError(f"{where}: Fn::If needs a condition name, got {name!r}")
        chosen = if_true if self.condition(name, where) else if_false
        return self.resolve(chosen, where)

    def _comparable(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return [self._comparable(item, where) for item in value]
        return self._text(value, "Fn::Equals", where)

    def _equals(self, arg: Any, where: str) -> bool:
        left, right = self._args("Fn::Equals", arg, 2, where)
        left = self._comparable(self.resolve(left, where), where)
        right = self._comparable(self.resolve(right, where), where)
        return bool(left == right)

    def _not(self, arg: Any, where: str) -> bool:
        (inner,) = self._args("Fn::Not", arg, 1, where)
        return not self._condition_expr(inner, where)

    def _and(self, arg: Any, where: str) -> bool:
        items = self._args("Fn::And", arg, tuple(range(2, 11)), where)
        return all([self._condition_expr(item, where) for item in items])  # noqa: C419 - evaluate all

    def _or(self, arg: Any, where: str) -> bool:
        items = self._args("Fn::Or", arg, tuple(range(2, 11)), where)
        return any([self._condition_expr(item, where) for item in items])  # noqa: C419 - evaluate all


# --------------------------------------------------------------------------- parameters


def _as_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ParameterError(f"Parameter {name}: value {value!r} is not a string")


def _validate(name: str, spec: Mapping[str, Any], value: str) -> None:
    ptype = str(spec.get("Type", "String"))
    if ptype not in ("String", "Number"):
        raise UnsupportedTemplateFeature(f"Parameter {name}: type {ptype}")
    allowed = [_as_text(name, a) for a in spec.get("AllowedValues", [])]
    if allowed and value not in allowed:
        raise ParameterError(f"Parameter {name}: {value!r} is not one of AllowedValues {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        raise ParameterError(
            f"Parameter {name}: {value!r} does not match AllowedPattern {pattern!r}"
        )
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise ParameterError(f"Parameter {name}: shorter than MinLength {spec['MinLength']}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise ParameterError(f"Parameter {name}: longer than MaxLength {spec['MaxLength']}")
    if ptype == "Number":
        try:
            number = float(value)
        except ValueError:
            raise ParameterError(f"Parameter {name}: {value!r} is not a Number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise ParameterError(f"Parameter {name}: {value} is below MinValue")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise ParameterError(f"Parameter {name}: {value} is above MaxValue")


def resolve_parameters(
    declared: Mapping[str, Any] | None, overrides: Mapping[str, str]
) -> dict[str, str]:
    """Final parameter values (as text, like CloudFormation receives them).

    Raises :class:`ParameterError` for an unknown name, a missing value (no Default)
    or a value outside AllowedValues / AllowedPattern / length / range constraints.
    """
    declared = declared or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ParameterError(
            f"unknown template parameter(s) {unknown}; the template declares {sorted(declared)}"
        )
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if not isinstance(spec, Mapping):
            raise ParameterError(f"Parameter {name}: declaration is not a mapping")
        if name in overrides:
            value = _as_text(name, overrides[name])
        elif "Default" in spec:
            value = _as_text(name, spec["Default"])
        else:
            raise ParameterError(f"Parameter {name}: no value given and no Default")
        _validate(name, spec, value)
        values[name] = value
    return values


# --------------------------------------------------------------------------- pseudo parameters


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def pseudo_parameters(region: str, account_id: str, stack_name: str) -> dict[str, Any]:
    """What ``Ref AWS::*`` returns in a stack named ``stack_name`` (a stable StackId)."""
    part = partition(region)
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": part,
        "AWS::StackName": stack_name,
        "AWS::StackId": (
            f"arn:{part}:cloudformation:{region}:{account_id}:stack/{stack_name}/"
            f"{uuid.uuid5(uuid.NAMESPACE_URL, stack_name)}"
        ),
        "AWS::URLSuffix": "amazonaws.com.cn" if part == "aws-cn" else "amazonaws.com",
        "AWS::NotificationARNs": [],
    }


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class PreparedTemplate:
    """A template with its parameter values, expanded, ready to be resolved."""

    parameters: dict[str, str]  # effective values, as text
    pseudo: dict[str, Any]
    translated: dict[str, Any]  # plain CloudFormation (SAM expanded), intrinsics unresolved
    code_dirs: dict[str, Path] = field(default_factory=dict)

    def resolver(self, resources: ResourceLookup) -> Resolver:
        """A resolver of this template's intrinsics; ``resources`` names the resources."""
        return Resolver(
            parameters=self.parameters,
            pseudo=self.pseudo,
            conditions=self.translated.get("Conditions") or {},
            resources=resources,
        )


def prepare(
    path: Path,
    overrides: Mapping[str, str],
    *,
    region: str = "us-east-1",
    account_id: str = "123456789012",
    stack_name: str,
) -> PreparedTemplate:
    """Load ``path``, validate ``overrides`` against its Parameters and expand SAM.

    Raises :class:`ParameterError` and :class:`TemplateError` (or its subclass
    :class:`UnsupportedTemplateFeature`) naming the culprit.
    """
    source = load_template_file(path)
    parameters = resolve_parameters(source.get("Parameters"), overrides)
    pseudo = pseudo_parameters(region, account_id, stack_name)
    sam_values = {**parameters, **{k: v for k, v in pseudo.items() if isinstance(v, str)}}
    loaded = expand_template(path, source, parameter_values=sam_values, region=region)
    return PreparedTemplate(parameters, pseudo, loaded.translated, loaded.code_dirs)
