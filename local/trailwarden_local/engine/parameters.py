"""Template Parameters: defaults + overrides, validated like CloudFormation does."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import ParameterError, UnsupportedTemplateFeature

_LIST_TYPES = ("CommaDelimitedList", "List<")
_STRING_LIKE_PREFIXES = ("AWS::EC2::", "AWS::Route53::", "List<AWS::")


def _check_type(name: str, ptype: str) -> None:
    if ptype in ("String", "Number", "CommaDelimitedList", "List<Number>"):
        return
    if ptype.startswith("AWS::SSM::Parameter::"):
        raise UnsupportedTemplateFeature(f"Parameter {name}: type {ptype} (SSM-backed parameters)")
    if ptype.startswith(_STRING_LIKE_PREFIXES):
        return
    raise UnsupportedTemplateFeature(f"Parameter {name}: type {ptype}")


def _as_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ",".join(str(v) for v in value)
    raise ParameterError(f"Parameter {name}: value {value!r} is not a string")


def _validate(name: str, spec: Mapping[str, Any], value: str) -> None:
    ptype = str(spec.get("Type", "String"))
    is_list = ptype.startswith(_LIST_TYPES)
    items = [part.strip() for part in value.split(",")] if is_list else [value]
    allowed = spec.get("AllowedValues")
    if allowed is not None:
        allowed_text = [_as_text(name, a) for a in allowed]
        for item in items:
            if item not in allowed_text:
                raise ParameterError(
                    f"Parameter {name}: {item!r} is not one of AllowedValues {allowed_text}"
                )
    pattern = spec.get("AllowedPattern")
    if pattern is not None:
        for item in items:
            if re.fullmatch(str(pattern), item) is None:
                raise ParameterError(
                    f"Parameter {name}: {item!r} does not match AllowedPattern {pattern!r}"
                )
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise ParameterError(f"Parameter {name}: shorter than MinLength {spec['MinLength']}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise ParameterError(f"Parameter {name}: longer than MaxLength {spec['MaxLength']}")
    if ptype in ("Number", "List<Number>"):
        for item in items:
            try:
                number = float(item)
            except ValueError:
                raise ParameterError(f"Parameter {name}: {item!r} is not a Number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise ParameterError(f"Parameter {name}: {item} is below MinValue")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise ParameterError(f"Parameter {name}: {item} is above MaxValue")


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
        _check_type(name, str(spec.get("Type", "String")))
        if name in overrides:
            value = _as_text(name, overrides[name])
        elif "Default" in spec:
            value = _as_text(name, spec["Default"])
        else:
            raise ParameterError(f"Parameter {name}: no value given and no Default")
        _validate(name, spec, value)
        values[name] = value
    return values


def parameter_ref_value(spec: Mapping[str, Any], value: str) -> str | list[str]:
    """What ``Ref`` to a parameter returns: text, or a list for list types."""
    ptype = str(spec.get("Type", "String"))
    if ptype.startswith(_LIST_TYPES):
        return [part.strip() for part in value.split(",")]
    return value
