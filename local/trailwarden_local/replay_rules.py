"""The app's EventBridge rules and detection settings, as template.yaml deploys them.

``replay`` must route records exactly as the deployed app would, so nothing here is a
second copy of a pattern: the template is loaded and SAM-expanded by the engine's
loader, each ``AWS::Events::Rule``'s ``EventPattern`` is resolved with the engine's
intrinsic resolver (parameters, pseudo parameters, Conditions) and compiled with
:func:`trailwarden_local.patterns.compile_pattern` (EventBridge semantics).

Offline, a few references have no deployed value:

* ``!GetAtt <X>Role.Arn`` (any ``AWS::IAM::Role``) is the app's own role: it resolves
  to the ``--own-role-arn`` values (all of them: the command line does not say which
  ARN is which role).
* any other ``Ref`` / ``GetAtt`` of a resource resolves to a placeholder name; a rule
  whose pattern needs one is reported in :attr:`RuleSet.notes`.

Each rule is tied to the workflow(s) it runs: its target is a state machine or a
function, and the functions involved carry the ``WORKFLOW`` environment variable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from trailwarden.events import CLOUDTRAIL_DETAIL_TYPE
from trailwarden.registry import BY_ID, WORKFLOWS
from trailwarden.settings import PARAMETER_ENV, DetectionSettings
from trailwarden_local.engine.errors import ParameterError, TemplateError
from trailwarden_local.engine.intrinsics import Resolver, referenced_resources
from trailwarden_local.engine.parameters import parameter_ref_value, resolve_parameters
from trailwarden_local.engine.template import expand_template, load_template_file
from trailwarden_local.patterns import PatternError, compile_pattern

if TYPE_CHECKING:
    from pathlib import Path

    from trailwarden.registry import Workflow

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
    # ENABLED rules do not receive read-only management events (EventBridge user guide).
    all_management_events: bool = False
    acting: bool = False  # runs a workflow that can remediate (a state machine starts)

    def accepts(self, event: Mapping[str, Any]) -> bool:
        """Whether EventBridge would deliver ``event`` to this rule."""
        if not self.all_management_events and event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE:
            detail = event.get("detail")
            if isinstance(detail, Mapping) and detail.get("readOnly") in (True, "true"):
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

    def may_match(self, source: str, name: str) -> bool:
        return (
            self.any_call
            or (source, name) in self.pairs
            or name in self.names_any_source
            or source in self.sources_any_name
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
    notes: tuple[str, ...] = ()


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
    env = {PARAMETER_ENV[name]: value for name, value in parameters.items() if name in PARAMETER_ENV}
    env["OWN_ROLE_ARNS"] = ",".join(own_role_arns)
    try:
        return DetectionSettings.from_env(env)
    except ValueError as exc:
        raise ParameterError(str(exc)) from exc


# --------------------------------------------------------------------------- resolving


class _OfflineResources:
    """Resources as the resolver sees them offline: roles are ours, the rest placeholders."""

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

    def ref(self, logical_id: str) -> Any:
        self.placeholders.add(logical_id)
        return f"{self._stack}-{logical_id}-REPLAY"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if self._type(logical_id) == "AWS::IAM::Role" and attribute == "Arn":
            return _OWN_ROLE
        self.placeholders.add(logical_id)
        partition, region, account = (
            self._pseudo["AWS::Partition"],
            self._pseudo["AWS::Region"],
            self._pseudo["AWS::AccountId"],
        )
        return f"arn:{partition}:replay:{region}:{account}:{self._stack}-{logical_id}-REPLAY"


def _splice_own_roles(value: Any, arns: Sequence[str]) -> Any:
    """Replace the own-role marker: spliced into arrays, an array where it stood alone."""
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            if item == _OWN_ROLE:
                out.extend(arns)
            else:
                out.append(_splice_own_roles(item, arns))
        return out
    if isinstance(value, dict):
        return {key: _splice_own_roles(item, arns) for key, item in value.items()}
    if value == _OWN_ROLE:
        return arns[0] if len(arns) == 1 else list(arns)
    if isinstance(value, str) and _OWN_ROLE in value:
        return value.replace(_OWN_ROLE, arns[0])
    return value


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


def _call_filter(rules: Sequence[ReplayRule], workflows: Sequence[Workflow]) -> CallFilter:
    any_call = False
    pairs: set[tuple[str, str]] = set()
    names_any_source: set[str] = set()
    sources_any_name: set[str] = set()
    for rule in rules:
        detail_types = _allowed(rule.pattern, ("detail-type",))
        if detail_types is not None and CLOUDTRAIL_DETAIL_TYPE not in detail_types:
            continue  # never matches a CloudTrail record
        sources = _allowed(rule.pattern, ("detail", "eventSource"))
        names = _allowed(rule.pattern, ("detail", "eventName"))
        if sources is None and names is None:
            any_call = True
        elif names is None:
            sources_any_name |= sources or set()
        elif sources is None:
            names_any_source |= names
        else:
            pairs.update((source, name) for source in sources for name in names)
    for workflow in workflows:
        pairs |= workflow.triggers
    return CallFilter(
        any_call=any_call,
        pairs=frozenset(pairs),
        names_any_source=frozenset(names_any_source),
        sources_any_name=frozenset(sources_any_name),
    )


# --------------------------------------------------------------------------- loading


def _target_ids(targets: Any, resource_ids: set[str]) -> list[str]:
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


def _pseudo_parameters(region: str, account: str, stack: str) -> dict[str, Any]:
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    if region.startswith("us-gov-"):
        partition = "aws-us-gov"
    return {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": partition,
        "AWS::StackName": stack,
        "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack}/replay",
        "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        "AWS::NotificationARNs": [],
    }


def load_rules(
    template: Path,
    overrides: Mapping[str, str],
    own_role_arns: Sequence[str] = (),
    *,
    region: str = "us-east-1",
    stack_name: str = DEFAULT_STACK_NAME,
) -> RuleSet:
    """The template's rules and the detection settings for these parameters.

    Raises :class:`ParameterError` (unknown name, value outside AllowedValues...) and
    :class:`TemplateError` (the template cannot be read, a pattern does not compile).
    """
    source = load_template_file(template)
    declared = source.get("Parameters") or {}
    parameters = resolve_parameters(declared, overrides)
    account = next(
        (m.group(2) for arn in own_role_arns if (m := _ROLE_ARN.match(arn))), DEFAULT_ACCOUNT
    )
    pseudo = _pseudo_parameters(region, account, stack_name)
    sam_values = {**parameters, **{k: v for k, v in pseudo.items() if isinstance(v, str)}}
    translated = expand_template(
        template, source, parameter_values=sam_values, region=region
    ).translated
    resources: dict[str, Any] = translated.get("Resources") or {}
    lookup = _OfflineResources(resources, stack_name, pseudo)
    resolver = Resolver(
        parameters={
            name: parameter_ref_value(declared[name], value) for name, value in parameters.items()
        },
        pseudo=pseudo,
        conditions=translated.get("Conditions") or {},
        mappings=translated.get("Mappings") or {},
        resources=lookup,
    )
    arns = tuple(own_role_arns) or (_NO_OWN_ROLE,)
    rules: list[ReplayRule] = []
    inactive: dict[str, str] = {}
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
        condition = body.get("Condition")
        if isinstance(condition, str) and not resolver.condition(condition, f"{where}.Condition"):
            inactive[logical_id] = f"its Condition {condition} is false"
            continue
        state = str(resolver.resolve(props.get("State", "ENABLED"), f"{where}.State"))
        if not state.startswith("ENABLED"):
            inactive[logical_id] = f"its State is {state}"
            continue
        lookup.placeholders.clear()
        resolved = resolver.resolve(props["EventPattern"], f"{where}.EventPattern")
        pattern = _splice_own_roles(resolved, arns)
        if lookup.placeholders:
            notes.append(
                f"rule {logical_id}: its pattern names deployed resources"
                f" ({', '.join(sorted(lookup.placeholders))}) that replay cannot know;"
                " calls on them may not match"
            )
        if not isinstance(pattern, dict):
            raise TemplateError(f"{where}.EventPattern is not an object")
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
                acting=any(BY_ID[w].remediation is not None for w in known),
            )
        )
    return RuleSet(
        rules=tuple(rules),
        parameters=parameters,
        settings=_settings(parameters, own_role_arns),
        call_filter=_call_filter(rules, WORKFLOWS),
        rules_by_workflow={w: tuple(ids) for w, ids in by_workflow.items()},
        inactive_rules=inactive,
        notes=tuple(notes),
    )
