"""What a workflow declares once, and everything else is wired from.

A workflow unit (``trailwarden/workflows/<unit>/``) exports two names:

- ``DECLARATION``: plain data, cheap to import (every function reads the Modes, the
  alert text reads the fact labels): id, Mode parameter, EventBridge rules, the
  functions it needs (description, settings read, constants), its alert facts.
- ``load()``: imports the unit's detection (and remediation) modules and returns the
  :class:`Workflow`: the code, the calls it reads (triggers), and the IAM grants
  declared next to the code that calls them.

``make template`` writes template.yaml from these; the registry finds units by
listing the package, so nothing else names a workflow.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from trailwarden.models.modes import CLOUDTRAIL_DETAIL_TYPE, Mode

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from trailwarden.models.events import CloudTrailEvent, Envelope
    from trailwarden.models.findings import Detection, PlannedAction
    from trailwarden.models.settings import DetectionSettings
    from trailwarden.workflows.base import ClientFactory, RemediationResult

# NamedTuples, not dataclasses: every function imports these on its cold start, and a
# dataclass costs about a millisecond to create.
_EMPTY: Mapping[str, Any] = MappingProxyType({})
ACTING_MODES = (Mode.REMEDIATE, Mode.APPROVAL, Mode.ALERT, Mode.OFF)
ALERTING_MODES = (Mode.ALERT, Mode.OFF)


class Text(NamedTuple):
    """One piece of alert text, in every language the app speaks."""

    en: str
    ko: str

    def get(self, language: str) -> str:
        return self.ko if language == "ko" and self.ko else self.en


class ModeParameter(NamedTuple):
    """The template Parameter that sets the workflow's Mode."""

    name: str  # e.g. AmiExposureMode
    default: Mode
    description: str
    allowed: tuple[Mode, ...] = ALERTING_MODES


class Grant(NamedTuple):
    """One IAM statement: actions on resources (CloudFormation values: strings or
    intrinsic-function mappings), with the reason a reader needs (``why``) and any
    condition the statement carries."""

    actions: tuple[str, ...]
    resources: tuple[Any, ...] = ("*",)
    why: str = ""
    conditions: Mapping[str, Any] = _EMPTY


def actions_of(grants: tuple[Grant, ...]) -> frozenset[str]:
    return frozenset(action for grant in grants for action in grant.actions)


class Rule(NamedTuple):
    """One EventBridge rule. ``detail`` is the CloudTrail (or other) detail pattern;
    for CloudTrail rules the generator adds the failed-call test (``errorCode``) and the
    exclusion of the app's own roles (``Declaration.ignores_calls_of``).

    ``target``: ``workflow`` (the state machine of an acting workflow) or ``alert``.
    """

    name: str
    source: tuple[str, ...]
    detail: Mapping[str, Any]
    detail_type: str = CLOUDTRAIL_DETAIL_TYPE
    target: Literal["workflow", "alert"] = "workflow"
    failed_calls: bool = False  # True: only failed calls (errorCode present) match
    why: str = ""
    # A rule that names every state machine (STATE_MACHINE_ARN_PREFIXES) is split into
    # as many rules as EventBridge's 2,048-character pattern quota needs.
    split_to_fit: bool = False


class FunctionSpec(NamedTuple):
    """One function of the workflow (Assess, Remediate or Alert)."""

    description: str
    # Template Parameters whose values the function reads (as their environment
    # variables; settings.PARAMETER_ENV), besides the ones every function of its kind reads.
    reads: tuple[str, ...] = ()
    constants: Mapping[str, str] = _EMPTY  # fixed environment values
    timeout: int | None = None
    why_timeout: str = ""


class UnitParameter(NamedTuple):
    """A template Parameter the workflow owns (its YAML body is in the unit's template
    fragment), the environment variable it reaches functions as, and its group."""

    name: str
    env: str
    group: str


class Declaration(NamedTuple):
    id: str  # contract: workflow id
    title: str  # one line: what the workflow watches and does
    mode: ModeParameter
    rules: tuple[Rule, ...]
    assess: FunctionSpec | None = None  # with remediate: an acting workflow (state machine)
    remediate: FunctionSpec | None = None
    alert: FunctionSpec | None = None  # an alert function (alert-only workflows, failures)
    # Units whose acting roles' calls this workflow's rules ignore ("*": every acting
    # role of the app); an acting workflow always ignores its own.
    ignores_calls_of: tuple[str, ...] = ()
    parameters: tuple[UnitParameter, ...] = ()
    # Functions of the unit's template.yaml whose roles change things (their calls are
    # the app's own: app-tamper ignores them), besides the Remediate function.
    acting_functions: tuple[str, ...] = ()
    # What the member role must also allow (organisation mode) for the unit's own
    # functions besides assess/remediate/enrich (e.g. the organisation backstop).
    member_grants: tuple[Grant, ...] = ()
    # Alert text: facts shown (key -> label, in order), translated fact values, and
    # what happened per event name (the title); the id is the title otherwise.
    facts: Mapping[str, Text] = _EMPTY
    fact_values: Mapping[str, Mapping[str, Text]] = _EMPTY
    what: Mapping[str, Text] = _EMPTY

    @property
    def acting(self) -> bool:
        return self.assess is not None and self.remediate is not None

    @property
    def decides_failed_calls(self) -> bool:
        """A rule for failed calls: the detection sees them (and must never act on one)."""
        return any(rule.failed_calls for rule in self.rules)

    @property
    def logical_prefix(self) -> str:
        """CamelCase of the Mode parameter (AmiExposureMode -> AmiExposure): the prefix
        of every logical id the template gives this workflow."""
        return self.mode.name.removesuffix("Mode")

    @property
    def mode_env(self) -> str:
        return "MODE_" + self.id.upper().replace("-", "_")


# --- the code half --------------------------------------------------------------------


class Remediation(NamedTuple):
    """The acting half of a workflow. Each callable takes plain data and clients."""

    assess_grants: tuple[Grant, ...]
    remediate_grants: tuple[Grant, ...]
    # (resource id, region, clients, settings) -> live state as JSON
    live_state: Callable[[str, str, ClientFactory, DetectionSettings], Mapping[str, Any]]
    # (resource id, detection facts, live state or None offline, settings) -> plan
    plan: Callable[
        [str, Mapping[str, Any], Mapping[str, Any] | None, DetectionSettings],
        tuple[PlannedAction, ...],
    ]
    # (resource id, detection facts, region, clients, settings) -> verified result.
    # The facts let a fix stay within what the event changed (sg-open-ingress revokes
    # only the rules the call added, never others of the group).
    apply: Callable[
        [str, Mapping[str, Any], str, ClientFactory, DetectionSettings], RemediationResult
    ]

    @property
    def assess_actions(self) -> frozenset[str]:
        return actions_of(self.assess_grants)

    @property
    def remediate_actions(self) -> frozenset[str]:
        return actions_of(self.remediate_grants)


class Workflow(NamedTuple):
    declaration: Declaration
    # (eventSource, eventName) of the CloudTrail calls the detection reads.
    triggers: frozenset[tuple[str, str]]
    detect: Callable[[CloudTrailEvent, DetectionSettings], Detection]
    remediation: Remediation | None = None
    # For events that are not CloudTrail API calls (Config compliance changes, schedules).
    detect_envelope: Callable[[Envelope, DetectionSettings], Detection] | None = None
    # (source, detail-type) of the non-CloudTrail events detect_envelope reads.
    envelope_triggers: frozenset[tuple[str, str]] = frozenset()
    # Optional live lookups that only add context to an alert (e.g. an instance's Name
    # tag): (detection, region, clients) -> extra facts. A failing lookup never blocks it.
    enrich: Callable[[Detection, str, ClientFactory], Mapping[str, Any]] | None = None
    # IAM grants the enrich lookup needs (given to the alert and assess functions).
    enrich_grants: tuple[Grant, ...] = ()
    # A detection that needs live inputs (waf-protected-ip: the NAT gateways' IPs and
    # the web ACLs using the IP set): Assess runs it with clients; replay runs the pure
    # ``detect``, which assumes the stronger verdict. Its grants belong in assess_grants.
    live_detect: Callable[[CloudTrailEvent, DetectionSettings, ClientFactory], Detection] | None = (
        None
    )

    @property
    def id(self) -> str:
        return self.declaration.id

    @property
    def enrich_actions(self) -> frozenset[str]:
        return actions_of(self.enrich_grants)


# --- CloudFormation values in grants and rules (plain mappings, as cfn-lint loads them) ---


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


ANY_RESOURCE = ("*",)

# Values only the generator knows (every acting workflow's resources), written where a
# list element or a constant would go: the template generator expands them.
STATE_MACHINE_ARN_PREFIXES = "@state-machine-arn-prefixes"  # [{prefix: ARN}, ...]
EXECUTION_ARN_PREFIXES = "@execution-arn-prefixes"  # [{prefix: executions ARN:}, ...]
APP_RESOURCE_NAMES = "@app-resource-names"  # "<stack>-*,<state machine ARNs>,<topic>"
EVERY_ACTING_ROLE = "*"  # in ignores_calls_of: every role that changes things
