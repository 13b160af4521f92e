"""The app's EventBridge rules and detection settings, as template.yaml deploys them.

``replay`` must route records exactly as the deployed app would, so nothing here is a
second copy of a pattern: the template is prepared and resolved by the same offline
resolver the engine uses (:mod:`trailwarden_local.engine.resolver`: parameters, pseudo
parameters, Conditions, SAM expansion), and each ``AWS::Events::Rule``'s
``EventPattern`` is compiled with
:func:`trailwarden_local.patterns.compile_pattern` (EventBridge semantics).

Offline, a few references have no deployed value:

* ``!GetAtt <X>Role.Arn`` (any ``AWS::IAM::Role``) is the app's own role: it resolves
  to the ``--own-role-arn`` values (all of them: the command line does not say which
  ARN is which role).
* any other ``Ref`` / ``GetAtt`` of a resource (the app-tamper rule names the app's
  state machines and topic) resolves to the name CloudFormation generates,
  ``<stack>-<LogicalId>-<random>`` (``<LogicalId>-<random>`` for state machines), with
  the random part matched by a ``wildcard``. Such rules are listed in
  :attr:`RuleSet.notes`: a same-named resource of another stack would match too.

Each rule is tied to the workflow(s) it runs: its target is a state machine or a
function, and the functions involved carry the ``WORKFLOW`` environment variable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from trailwarden.models.events import CLOUDTRAIL_DETAIL_TYPE
from trailwarden.models.settings import PARAMETER_ENV, DetectionSettings
from trailwarden.workflows.registry import BY_ID, WORKFLOWS
from trailwarden_local.engine.errors import ParameterError, TemplateError
from trailwarden_local.patterns import PatternError, compile_pattern

if TYPE_CHECKING:
    from trailwarden.workflows.registry import Workflow
    from trailwarden_local.engine.resolver import Resolver

__all__ = [
    "CallFilter",
    "ParameterError",
    "ReplayRule",
    "RuleSet",
    "TemplateError",
    "load_rules",
]

DEFAULT_STACK_NAME = "trailwarden"
DEFAULT_ACCOUNT = "123456789012"
ALL_MANAGEMENT_EVENTS = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"

_OWN_ROLE: Final = "\x00trailwarden-own-role-arn\x00"
_NO_OWN_ROLE: Final = "arn:aws:iam::000000000000:role/trailwarden-replay-no-own-role-given"
_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/")


@dataclass(frozen=True)
class ReplayRule:
    """One EventBridge rule of the template, compiled."""

    logical_id: str
    workflows: tuple[str, ...]  # workflow ids its target runs (usually one)
    pattern: Mapping[str, Any]
    matches: Callable[[Mapping[str, Any]], bool]
    # A rule in the ENABLED state does not receive read-only management events; only
    # ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS does (EventBridge user guide).
    all_management_events: bool = False
    # Organisation mode: a rule on the hub's default bus (app-tamper's, which watch the
    # hub's own stack) receives only the hub account's events; the hub bus, every
    # account's. None: events of any account.
    only_account: str | None = None

    def accepts(self, event: Mapping[str, Any]) -> bool:
        """Whether EventBridge would deliver ``event`` to this rule."""
        if self.only_account is not None and event.get("account") != self.only_account:
            return False
        if not self.all_management_events and event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE:
            detail = event.get("detail")
            if (type(detail) is dict or isinstance(detail, Mapping)) and detail.get("readOnly") in (
                True,
                "true",
            ):
                return False
        return self.matches(event)


@dataclass(frozen=True)
class CallFilter:
    """A sound pre-filter on CloudTrail ``(eventSource, eventName)``.

    ``may_match`` is False only when no rule can match the record and no workflow's
    triggers name the call: such a record is printed as "no rule matches" without
    wrapping or pattern matching. Derived from the compiled rules, never hand-written.
    """

    any_call: bool = False
    pairs: frozenset[tuple[str, str]] = frozenset()
    names_any_source: frozenset[str] = frozenset()
    sources_any_name: frozenset[str] = frozenset()
    # eventName prefixes per eventSource ("" = any source), e.g. Lambda's versioned
    # names: DeleteFunction20150331 matches {"prefix": "DeleteFunction2"}
    name_prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def may_match(self, source: str, name: str) -> bool:
        prefixes = self.name_prefixes
        return (
            self.any_call
            or (source, name) in self.pairs
            or name in self.names_any_source
            or source in self.sources_any_name
            or (bool(prefixes) and name.startswith(prefixes.get(source, ()) + prefixes.get("", ())))
        )


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[ReplayRule, ...]
    parameters: Mapping[str, str]  # effective values, template defaults included
    settings: DetectionSettings
    call_filter: CallFilter
    # workflow id -> its rules (active or not), to explain why a trigger call did not match
    rules_by_workflow: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    inactive_rules: Mapping[str, str] = field(default_factory=dict)  # logical id -> why
    # logical id -> the sources and detail-types its pattern allows (None: any)
    envelopes: Mapping[str, tuple[frozenset[str] | None, frozenset[str] | None]] = field(
        default_factory=dict
    )
    notes: tuple[str, ...] = ()
    # The role ARNs (``*``: EventBridge wildcards) whose calls are the app's own: the
    # rules' session-issuer exclusions and every --own-role-arn.
    own_role_patterns: tuple[str, ...] = ()
    # The --own-role-arn values as given (wildcards included).
    own_role_arns: tuple[str, ...] = ()
    # Organisation mode: the hub's account (from --own-role-arn), None when unknown.
    hub_account: str | None = None

    def rules_for(self, workflow: str, source: str, detail_type: str) -> tuple[str, ...]:
        """The workflow's rules (active or not) that take events of this source and type."""
        found = []
        for rule in self.rules_by_workflow.get(workflow, ()):
            sources, detail_types = self.envelopes.get(rule, (None, None))
            if (sources is None or source in sources) and (
                detail_types is None or detail_type in detail_types
            ):
                found.append(rule)
        return tuple(found)


# --------------------------------------------------------------------------- parameters


def parse_parameter_overrides(items: Sequence[str]) -> dict[str, str]:
    """``Key=Value`` items as ``sam deploy --parameter-overrides`` takes them.

    Values may contain commas and ``=``; ``ParameterKey=K,ParameterValue=V`` works too.
    Raises :class:`ParameterError` for an item that is neither.
    """
    overrides: dict[str, str] = {}
    for item in items:
        long_form = re.fullmatch(r"ParameterKey=([^,]+),ParameterValue=(.*)", item, re.DOTALL)
        if long_form:
            key, value = long_form.group(1), long_form.group(2)
        else:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ParameterError(f"--parameter-overrides: {item!r} is not Key=Value")
        if not re.fullmatch(r"[A-Za-z0-9]+", key):
            raise ParameterError(f"--parameter-overrides: {key!r} is not a parameter name")
        overrides[key] = value
    return overrides


def _settings(parameters: Mapping[str, str], own_role_arns: Sequence[str]) -> DetectionSettings:
    env = {
        PARAMETER_ENV[name]: value for name, value in parameters.items() if name in PARAMETER_ENV
    }
    # The deployed functions know their roles' exact ARNs; a wildcard own role is
    # matched by replay itself (Replayer: the issuer it matches is added per record).
    env["OWN_ROLE_ARNS"] = ",".join(arn for arn in own_role_arns if "*" not in arn)
    try:
        return DetectionSettings.from_env(env)
    except ValueError as exc:
        raise ParameterError(str(exc)) from exc


# --------------------------------------------------------------------------- resolving


# Where the unknown (random) part of a generated physical name goes; turned into a
# wildcard once the pattern is resolved.
_MARK: Final = "\x00?\x00"
_LOGICAL_ID_CHARS = 16  # CloudFormation shortens long logical ids in generated names
_ARN_RESOURCE: Final = {  # type -> (service, resource prefix) of the ARN
    "AWS::SNS::Topic": ("sns", ""),
    "AWS::StepFunctions::StateMachine": ("states", "stateMachine:"),
    "AWS::Lambda::Function": ("lambda", "function:"),
    "AWS::Events::Rule": ("events", "rule/"),
    "AWS::SQS::Queue": ("sqs", ""),
    "AWS::DynamoDB::Table": ("dynamodb", "table/"),
    "AWS::Logs::LogGroup": ("logs", "log-group:"),
    "AWS::IAM::Role": ("iam", "role/"),
}
_REF_IS_ARN: Final = frozenset({"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"})


class _OfflineResources:
    """Resources as the resolver sees them offline: roles are ours, the rest are named
    as CloudFormation names them, with :data:`_MARK` for the random part."""

    def __init__(self, resources: Mapping[str, Any], stack: str, pseudo: Mapping[str, Any]):
        self._resources = resources
        self._stack = stack
        self._pseudo = pseudo
        self.placeholders: set[str] = set()

    def has_resource(self, logical_id: str) -> bool:
        return logical_id in self._resources

    def _type(self, logical_id: str) -> str:
        body = self._resources.get(logical_id)
        return str(body.get("Type", "")) if isinstance(body, Mapping) else ""

    def _name(self, logical_id: str, kind: str) -> str:
        self.placeholders.add(logical_id)
        if kind == "AWS::StepFunctions::StateMachine":
            return f"{logical_id}-{_MARK}"
        if len(self._stack) + len(logical_id) + 14 > 64:
            return f"{self._stack}-{logical_id[:_LOGICAL_ID_CHARS]}{_MARK}"
        return f"{self._stack}-{logical_id}-{_MARK}"

    def _arn(self, kind: str, name: str) -> str:
        service, prefix = _ARN_RESOURCE[kind]
        region = "" if service == "iam" else self._pseudo["AWS::Region"]
        partition, account = self._pseudo["AWS::Partition"], self._pseudo["AWS::AccountId"]
        return f"arn:{partition}:{service}:{region}:{account}:{prefix}{name}"

    def ref(self, logical_id: str) -> Any:
        kind = self._type(logical_id)
        name = self._name(logical_id, kind)
        if kind in _REF_IS_ARN:
            return self._arn(kind, name)
        if kind == "AWS::SQS::Queue":
            region, account = self._pseudo["AWS::Region"], self._pseudo["AWS::AccountId"]
            return f"https://sqs.{region}.amazonaws.com/{account}/{name}"
        return name

    def get_att(self, logical_id: str, attribute: str) -> Any:
        kind = self._type(logical_id)
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return _OWN_ROLE
        name = self._name(logical_id, kind)
        if attribute in ("Name", "TopicName", "QueueName"):
            return name
        if attribute in ("Arn", "TopicArn") and kind in _ARN_RESOURCE:
            return self._arn(kind, name)
        return f"{name}.{attribute}"


def _wild(text: str) -> str:
    """A resolved value with generated-name marks -> a ``wildcard`` expression."""
    literal = [part.replace("\\", "\\\\").replace("*", "\\*") for part in text.split(_MARK)]
    return "*".join(literal)


def _join_stars(*parts: str) -> str:
    return re.sub(r"\*{2,}", "*", "".join(parts))


def _has_mark(value: Any) -> bool:
    if isinstance(value, str):
        return _MARK in value
    if isinstance(value, dict):
        return any(_has_mark(item) for item in value.values())
    return isinstance(value, list) and any(_has_mark(item) for item in value)


def _with_wildcards(value: Any) -> Any:
    """Turn values holding :data:`_MARK` into ``wildcard`` operators EventBridge knows."""
    if isinstance(value, dict):
        return {key: _with_wildcards(item) for key, item in value.items()}
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        if isinstance(item, str) and _MARK in item:
            out.append({"wildcard": _wild(item)})
        elif isinstance(item, dict) and len(item) == 1 and _has_mark(item):
            ((name, operand),) = item.items()
            if name == "prefix" and isinstance(operand, str):
                out.append({"wildcard": _join_stars(_wild(operand), "*")})
            elif name == "suffix" and isinstance(operand, str):
                out.append({"wildcard": _join_stars("*", _wild(operand))})
            elif name == "wildcard" and isinstance(operand, str):
                out.append({"wildcard": _join_stars(operand.replace(_MARK, "*"))})
            elif name == "anything-but" and isinstance(operand, list | str):
                values = operand if isinstance(operand, list) else [operand]
                if all(isinstance(v, str) for v in values):
                    out.append({"anything-but": {"wildcard": [_wild(v) for v in values]}})
                else:
                    out.append(item)
            else:
                out.append(_with_wildcards(item))
        else:
            out.append(_with_wildcards(item))
    return out


def _literal(text: str) -> str:
    """A literal string as a ``wildcard`` expression (``*`` and ``\\`` escaped)."""
    return text.replace("\\", "\\\\").replace("*", "\\*")


def _own_role_values(arns: Sequence[str]) -> list[Any]:
    """The own roles as the values of a pattern array: an ARN with ``*`` (the member
    role's ``arn:aws:iam::*:role/...`` form) as a ``wildcard``, the others exact."""
    return [{"wildcard": arn} if "*" in arn else arn for arn in arns]


def _anything_but_own(operand: Any, arns: Sequence[str]) -> Any:
    """An ``anything-but`` operand naming the own roles: exact strings, or with a
    wildcard own role, ``{"wildcard": [...]}`` (every value written as a wildcard)."""
    values = operand if isinstance(operand, list) else [operand]
    spliced: list[Any] = []
    for value in values:
        spliced.extend(arns if value == _OWN_ROLE else [value])
    if not any("*" in arn for arn in arns) or not all(isinstance(v, str) for v in spliced):
        return spliced if isinstance(operand, list) or len(spliced) > 1 else spliced[0]
    own = set(arns)
    return {"wildcard": [v if v in own else _literal(v) for v in spliced]}


def _splice_own_roles(value: Any, arns: Sequence[str]) -> Any:
    """Replace the own-role marker: spliced into arrays, an array where it stood alone.

    An own role given with ``*`` (``--own-role-arn arn:aws:iam::*:role/trailwarden/
    member/trailwarden-member``) is matched the way EventBridge's ``wildcard`` matches,
    inside ``anything-but`` too."""
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            if item == _OWN_ROLE:
                out.extend(_own_role_values(arns))
            else:
                out.append(_splice_own_roles(item, arns))
        return out
    if isinstance(value, dict):
        return {
            key: _anything_but_own(item, arns)
            if key == "anything-but" and (item == _OWN_ROLE or _OWN_ROLE in _listed(item))
            else _splice_own_roles(item, arns)
            for key, item in value.items()
        }
    if value == _OWN_ROLE:
        values = _own_role_values(arns)
        return values[0] if len(values) == 1 and isinstance(values[0], str) else values
    if isinstance(value, str) and _OWN_ROLE in value:
        return value.replace(_OWN_ROLE, arns[0])
    return value


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def own_role_matcher(arns: Sequence[str]) -> Callable[[str], bool]:
    """Whether a session issuer ARN is one of ``arns`` (``*``: EventBridge wildcard)."""
    if not arns:
        return _never
    matches = compile_pattern({"arn": _own_role_values(sorted(set(arns)))})
    return lambda arn: matches({"arn": arn})


def _never(arn: str) -> bool:
    return False


def _issuer_exclusions(pattern: Any, path: tuple[str, ...] = ()) -> list[str]:
    """The role ARNs (``*``: wildcards) a pattern's ``anything-but`` on
    ``sessionIssuer.arn`` excludes: the calls the template names as the app's own."""
    found: list[str] = []
    if isinstance(pattern, Mapping):
        for key, sub in pattern.items():
            found += _issuer_exclusions(sub, path if key == "$or" else (*path, key))
    elif isinstance(pattern, list):
        if path[-2:] != ("sessionIssuer", "arn"):
            for item in pattern:
                found += _issuer_exclusions(item, path)
            return found
        for item in pattern:
            operand = item.get("anything-but") if isinstance(item, Mapping) else None
            if isinstance(operand, Mapping):
                wild = operand.get("wildcard")
                found += [
                    w for w in (wild if isinstance(wild, list) else [wild]) if isinstance(w, str)
                ]
            elif operand is not None:
                found += [
                    v
                    for v in (operand if isinstance(operand, list) else [operand])
                    if isinstance(v, str)
                ]
    return found


# --------------------------------------------------------------------------- pre-filter


def _plain_strings(value: Any) -> frozenset[str] | None:
    """The values a leaf array allows, when they are all plain strings; else None (any)."""
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return frozenset(value)
    return None


def _allowed(pattern: Any, path: tuple[str, ...]) -> frozenset[str] | None:
    """Strings ``pattern`` allows at ``path`` (None: not limited to a known set)."""
    if not isinstance(pattern, Mapping):
        return None
    limits: list[frozenset[str]] = []
    key = path[0]
    if key in pattern:
        sub = pattern[key]
        found = _plain_strings(sub) if len(path) == 1 else _allowed(sub, path[1:])
        if found is not None:
            limits.append(found)
    branches = pattern.get("$or")
    if isinstance(branches, list) and branches:
        per_branch = [_allowed(branch, path) for branch in branches]
        if all(found is not None for found in per_branch):
            limits.append(frozenset().union(*(f for f in per_branch if f is not None)))
    if not limits:
        return None
    result = limits[0]
    for other in limits[1:]:
        result &= other
    return result


# What a pattern allows of a field: exact values and prefixes; None means anything.
_Values = tuple[frozenset[str], frozenset[str]] | None
_Call = tuple[_Values, _Values]  # (eventSource, eventName)


def _leaf_values(leaf: Any) -> _Values:
    """Exact strings and ``prefix`` strings of a leaf array; None if anything else."""
    if not isinstance(leaf, list) or not leaf:
        return None
    exact: set[str] = set()
    prefixes: set[str] = set()
    for item in leaf:
        if isinstance(item, str):
            exact.add(item)
        elif isinstance(item, Mapping) and list(item) == ["prefix"]:
            if not isinstance(item["prefix"], str):
                return None
            prefixes.add(item["prefix"])
        else:
            return None
    return frozenset(exact), frozenset(prefixes)


def _both(first: _Values, second: _Values) -> _Values:
    """Both constraints hold. Any superset of their intersection is sound: keep it simple."""
    if first is None:
        return second
    if second is None:
        return first
    if not first[1] and not second[1]:
        return first[0] & second[0], frozenset()
    return first


def _product(left: list[_Call], right: list[_Call]) -> list[_Call]:
    return [(_both(ls, rs), _both(ln, rn)) for ls, ln in left for rs, rn in right]


def _detail_calls(detail: Any) -> list[_Call]:
    """The (eventSource, eventName) alternatives a ``detail`` pattern allows, by $or branch."""
    if not isinstance(detail, Mapping):
        return [(None, None)]
    own: list[_Call] = [
        (_leaf_values(detail.get("eventSource")), _leaf_values(detail.get("eventName")))
    ]
    branches = detail.get("$or")
    if not isinstance(branches, list) or not branches:
        return own
    return _product(own, [call for branch in branches for call in _detail_calls(branch)])


def pattern_calls(pattern: Any) -> list[_Call]:
    """The (eventSource, eventName) alternatives a rule's pattern allows: a superset of
    the calls it can match, each side exact values and prefixes, or None (anything)."""
    if not isinstance(pattern, Mapping):
        return [(None, None)]
    own: list[_Call] = [(None, None)]
    if "detail" in pattern:
        own = _detail_calls(pattern["detail"])
    branches = pattern.get("$or")
    if not isinstance(branches, list) or not branches:
        return own
    return _product(own, [call for branch in branches for call in pattern_calls(branch)])


def _allows(values: _Values, text: str) -> bool:
    return values is None or text in values[0] or text.startswith(tuple(values[1]))


def may_take(calls: Sequence[_Call], source: str, name: str) -> bool:
    """Whether a pattern whose :func:`pattern_calls` are ``calls`` may match this call
    (False only when it cannot)."""
    return any(_allows(sources, source) and _allows(names, name) for sources, names in calls)


def _call_filter(rules: Sequence[ReplayRule], workflows: Sequence[Workflow]) -> CallFilter:
    any_call = False
    pairs: set[tuple[str, str]] = set()
    names_any_source: set[str] = set()
    sources_any_name: set[str] = set()
    prefixes: dict[str, set[str]] = {}
    for rule in rules:
        detail_types = _allowed(rule.pattern, ("detail-type",))
        if detail_types is not None and CLOUDTRAIL_DETAIL_TYPE not in detail_types:
            continue  # never matches a CloudTrail record
        for source_values, name_values in pattern_calls(rule.pattern):
            # A source given by prefix is as good as no source limit here.
            sources = source_values[0] if source_values and not source_values[1] else None
            if name_values is None:
                if sources is None:
                    any_call = True
                else:
                    sources_any_name |= sources
                continue
            names, name_prefixes = name_values
            if sources is None:
                names_any_source |= names
                prefixes.setdefault("", set()).update(name_prefixes)
            else:
                pairs.update((source, name) for source in sources for name in names)
                for source in sources:
                    prefixes.setdefault(source, set()).update(name_prefixes)
    for workflow in workflows:
        pairs |= workflow.triggers
    return CallFilter(
        any_call=any_call,
        pairs=frozenset(pairs),
        names_any_source=frozenset(names_any_source),
        sources_any_name=frozenset(sources_any_name),
        name_prefixes={source: tuple(sorted(p)) for source, p in prefixes.items() if p},
    )


# --------------------------------------------------------------------------- loading


def _target_ids(targets: Any, resource_ids: set[str]) -> list[str]:
    from trailwarden_local.engine.resolver import referenced_resources

    found: list[str] = []
    for target in targets if isinstance(targets, list) else []:
        if isinstance(target, Mapping):
            found += sorted(referenced_resources(target.get("Arn"), resource_ids))
    return found


def _workflow_of_function(body: Mapping[str, Any], resolver: Resolver, where: str) -> str | None:
    env = ((body.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
    if "WORKFLOW" not in env:
        return None
    value = resolver.resolve(env["WORKFLOW"], f"{where}.Environment.Variables.WORKFLOW")
    return value if isinstance(value, str) and value else None


def _rule_workflows(
    targets: Any, resources: Mapping[str, Any], resolver: Resolver
) -> tuple[str, ...]:
    """Workflow ids run by a rule's targets (functions directly, or via a state machine)."""
    from trailwarden_local.engine.resolver import referenced_resources

    ids = set(resources)
    workflows: list[str] = []
    for target in _target_ids(targets, ids):
        body = resources[target]
        kind = body.get("Type")
        functions = [target]
        if kind == "AWS::StepFunctions::StateMachine":
            functions = sorted(referenced_resources(body.get("Properties", {}), ids))
        for function in functions:
            fbody = resources[function]
            if fbody.get("Type") == "AWS::Lambda::Function":
                workflow = _workflow_of_function(fbody, resolver, f"Resources.{function}")
                if workflow and workflow not in workflows:
                    workflows.append(workflow)
    return tuple(workflows)


def _resolve_pattern(
    raw: Any, where: str, resolver: Resolver, own_role_arns: Sequence[str]
) -> dict[str, Any]:
    """A rule's EventPattern with intrinsics resolved, own roles in, wildcards for names."""
    resolved = resolver.resolve(raw, f"{where}.EventPattern")
    if isinstance(resolved, str):  # AWS::Events::Rule also takes the pattern as JSON text
        try:
            resolved = json.loads(resolved)
        except ValueError as exc:
            raise TemplateError(f"{where}.EventPattern is not JSON: {exc}") from exc
    pattern = _with_wildcards(_splice_own_roles(resolved, own_role_arns))
    if not isinstance(pattern, dict):
        raise TemplateError(f"{where}.EventPattern is not an object")
    return pattern


_LOADED: dict[tuple[Any, ...], RuleSet] = {}
# The code whose output a cached rule set is: a change to any of it is a cache miss.
_CACHE_CODE: Final = (
    "replay_rules.py",
    "engine/template.py",
    "engine/resolver.py",
)
_CACHE_FORMAT: Final = 2


def load_rules(
    template: Path,
    overrides: Mapping[str, str],
    own_role_arns: Sequence[str] = (),
    *,
    region: str = "us-east-1",
    stack_name: str = DEFAULT_STACK_NAME,
    cache_dir: Path | None = None,
) -> RuleSet:
    """The template's rules and the detection settings for these parameters.

    Raises :class:`ParameterError` (unknown name, value outside AllowedValues...) and
    :class:`TemplateError` (the template cannot be read, a pattern does not compile).
    Results are memoised per template content and arguments (tests load it often), and,
    with ``cache_dir``, kept there as JSON: the resolved patterns, keyed by the
    template's content, the arguments, the code that resolves them and the SAM
    translator's version. A cached rule set skips loading the YAML and the SAM
    expansion (most of replay's start-up); its patterns are compiled again.
    """
    try:
        content = hashlib.sha256(template.read_bytes()).hexdigest()
    except OSError as exc:
        raise TemplateError(f"{template}: {exc.strerror or exc}") from exc
    key = (content, tuple(sorted(overrides.items())), tuple(own_role_arns), region, stack_name)
    if key in _LOADED:
        return _LOADED[key]
    cache_file = None if cache_dir is None else cache_dir / f"replay-rules-{_cache_key(key)}.json"
    ruleset = _read_cache(cache_file, own_role_arns) if cache_file else None
    if ruleset is None:
        ruleset = _load_rules(template, overrides, own_role_arns, region, stack_name)
        if cache_file is not None:
            _write_cache(cache_file, ruleset)
    _LOADED[key] = ruleset
    return ruleset


def _cache_key(key: tuple[Any, ...]) -> str:
    """The arguments, the resolving code and the translator's version, hashed."""
    from importlib.util import find_spec

    digest = hashlib.sha256(json.dumps([_CACHE_FORMAT, sorted(BY_ID), *key]).encode())
    here = Path(__file__).parent
    translator = find_spec("samtranslator")
    for path in [here / name for name in _CACHE_CODE] + (
        [Path(translator.origin)] if translator and translator.origin else []
    ):
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"missing " + str(path).encode())
    return digest.hexdigest()[:32]


def _frozen(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def _write_cache(path: Path, ruleset: RuleSet) -> None:
    """Best effort: a cache that cannot be written is not an error."""
    body = {
        "rules": [
            {
                "logicalId": rule.logical_id,
                "workflows": list(rule.workflows),
                "pattern": rule.pattern,
                "allManagementEvents": rule.all_management_events,
                "onlyAccount": rule.only_account,
            }
            for rule in ruleset.rules
        ],
        "parameters": dict(ruleset.parameters),
        "rulesByWorkflow": {w: list(ids) for w, ids in ruleset.rules_by_workflow.items()},
        "inactiveRules": dict(ruleset.inactive_rules),
        "envelopes": {
            rule: [_frozen(sources), _frozen(detail_types)]
            for rule, (sources, detail_types) in ruleset.envelopes.items()
        },
        "notes": list(ruleset.notes),
        "ownRolePatterns": list(ruleset.own_role_patterns),
        "hubAccount": ruleset.hub_account,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(body), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        return


def _read_cache(path: Path, own_role_arns: Sequence[str]) -> RuleSet | None:
    """The cached rule set, or None (missing, unreadable or not what this code writes)."""
    try:
        body = json.loads(path.read_bytes())
        rules = tuple(
            ReplayRule(
                logical_id=item["logicalId"],
                workflows=tuple(item["workflows"]),
                pattern=item["pattern"],
                matches=compile_pattern(item["pattern"]),
                all_management_events=item["allManagementEvents"],
                only_account=item["onlyAccount"],
            )
            for item in body["rules"]
        )
        parameters: dict[str, str] = body["parameters"]
        return RuleSet(
            rules=rules,
            parameters=parameters,
            settings=_settings(parameters, own_role_arns),
            call_filter=_call_filter(rules, WORKFLOWS),
            rules_by_workflow={w: tuple(ids) for w, ids in body["rulesByWorkflow"].items()},
            inactive_rules=body["inactiveRules"],
            envelopes={
                rule: (
                    None if sources is None else frozenset(sources),
                    None if detail_types is None else frozenset(detail_types),
                )
                for rule, (sources, detail_types) in body["envelopes"].items()
            },
            notes=tuple(body["notes"]),
            own_role_patterns=tuple(body["ownRolePatterns"]),
            own_role_arns=tuple(own_role_arns),
            hub_account=body["hubAccount"],
        )
    except (OSError, ValueError, KeyError, TypeError, PatternError, ParameterError):
        return None


def _load_rules(
    template: Path,
    overrides: Mapping[str, str],
    own_role_arns: Sequence[str],
    region: str,
    stack_name: str,
) -> RuleSet:
    # The engine (YAML, the SAM expansion): only when the rules are not cached.
    from trailwarden_local.engine.resolver import prepare

    given_account = next((m.group(2) for arn in own_role_arns if (m := _ROLE_ARN.match(arn))), None)
    prepared = prepare(
        template,
        overrides,
        region=region,
        account_id=given_account or DEFAULT_ACCOUNT,
        stack_name=stack_name,
    )
    parameters = prepared.parameters
    settings = _settings(parameters, own_role_arns)
    organization = settings.organization_mode
    hub = given_account if organization else None
    resources: dict[str, Any] = prepared.translated.get("Resources") or {}
    lookup = _OfflineResources(resources, stack_name, prepared.pseudo)
    resolver = prepared.resolver(lookup)
    arns = tuple(own_role_arns) or (_NO_OWN_ROLE,)
    rules: list[ReplayRule] = []
    inactive: dict[str, str] = {}
    envelopes: dict[str, tuple[frozenset[str] | None, frozenset[str] | None]] = {}
    by_workflow: dict[str, list[str]] = {}
    notes: list[str] = []
    for logical_id, body in resources.items():
        if not isinstance(body, Mapping) or body.get("Type") != "AWS::Events::Rule":
            continue
        props = body.get("Properties") or {}
        if "EventPattern" not in props:
            continue  # a schedule: nothing to replay
        where = f"Resources.{logical_id}"
        workflows = _rule_workflows(props.get("Targets"), resources, resolver)
        known = tuple(w for w in workflows if w in BY_ID)
        if not known:
            notes.append(
                f"rule {logical_id}: runs no known workflow ({', '.join(workflows) or 'none'}),"
                " not replayed"
            )
            continue
        for workflow in known:
            by_workflow.setdefault(workflow, []).append(logical_id)
        default_bus = organization and hub and _on_default_bus(props, resolver, where)
        lookup.placeholders.clear()
        pattern = _resolve_pattern(props["EventPattern"], where, resolver, arns)
        envelopes[logical_id] = (
            _allowed(pattern, ("source",)),
            _allowed(pattern, ("detail-type",)),
        )
        condition = body.get("Condition")
        if isinstance(condition, str) and not resolver.condition(condition, f"{where}.Condition"):
            inactive[logical_id] = f"its Condition {condition} is false"
            continue
        state = str(resolver.resolve(props.get("State", "ENABLED"), f"{where}.State"))
        if not state.startswith("ENABLED"):
            inactive[logical_id] = f"its State is {state}"
            continue
        if lookup.placeholders:
            notes.append(
                f"rule {logical_id} names deployed resources"
                f" ({', '.join(sorted(lookup.placeholders))}): matched by the names"
                f" CloudFormation generates ({stack_name}-<LogicalId>-*, <LogicalId>-* for"
                " state machines), so same-named resources of other stacks match too"
            )
        try:
            matcher = compile_pattern(pattern)
        except PatternError as exc:
            raise TemplateError(f"{where}.EventPattern: {exc}") from exc
        rules.append(
            ReplayRule(
                logical_id=logical_id,
                workflows=known,
                pattern=pattern,
                matches=matcher,
                all_management_events=state == ALL_MANAGEMENT_EVENTS,
                only_account=hub if default_bus else None,
            )
        )
    return RuleSet(
        rules=tuple(rules),
        parameters=parameters,
        settings=settings,
        call_filter=_call_filter(rules, WORKFLOWS),
        rules_by_workflow={w: tuple(ids) for w, ids in by_workflow.items()},
        inactive_rules=inactive,
        envelopes=envelopes,
        notes=(*notes, *(_organization_notes(hub, rules) if organization else ())),
        own_role_patterns=_own_role_patterns(rules, own_role_arns),
        own_role_arns=tuple(own_role_arns),
        hub_account=hub,
    )


def _own_role_patterns(
    rules: Sequence[ReplayRule], own_role_arns: Sequence[str]
) -> tuple[str, ...]:
    """The roles whose calls the rules exclude as the app's own, and every --own-role-arn."""
    found = {arn for rule in rules for arn in _issuer_exclusions(rule.pattern)}
    found.update(own_role_arns)
    found.discard(_NO_OWN_ROLE)
    return tuple(sorted(found))


def _on_default_bus(props: Mapping[str, Any], resolver: Resolver, where: str) -> bool:
    """Whether a rule lives on the account's default event bus."""
    if props.get("EventBusName") is None:
        return True
    bus = resolver.resolve(props["EventBusName"], f"{where}.EventBusName")
    return not isinstance(bus, str) or bus in ("", "default") or bus.endswith(":event-bus/default")


def _organization_notes(hub: str | None, rules: Sequence[ReplayRule]) -> list[str]:
    """What replay does in organisation mode (DeploymentMode=organization), for stderr."""
    notes = [
        "organisation mode: each record is decided in its own account (recipientAccountId,"
        " else userIdentity.accountId): keys are <account>#<eventID> and every line names"
        " its account; the rules ignore the member role's calls in every account"
    ]
    default_bus = sorted(rule.logical_id for rule in rules if rule.only_account is not None)
    if hub:
        notes.append(
            f"organisation mode: hub account {hub} (from --own-role-arn); the rules on its"
            f" default bus ({', '.join(default_bus) or 'none'}) see only its records"
        )
    else:
        notes.append(
            "organisation mode: the hub account is unknown (give a hub role, e.g."
            " --own-role-arn 'arn:aws:iam::<hub>:role/trailwarden/hub/*'): the hub's roles"
            f" are taken to be in {DEFAULT_ACCOUNT} and the rules on the hub's default bus"
            " see every account's records"
        )
    return notes
